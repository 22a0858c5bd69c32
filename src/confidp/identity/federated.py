"""What every upstream connector does with the person the provider describes (Dex's
``claimMapping``, ``allowedGroups``; Keycloak's first-broker-login rules for linking):

- map the provider's claims (an ID token, a user-info JSON) to confidp's: subject,
  username, e-mail and whether it is verified, name, groups (``claims`` keys; a dotted name
  reaches into objects);
- keep only who the connector allows (``allowed_groups``, ``allowed_email_domains``), at
  sign-in and whenever state made under the identity is used again (``revalidate``);
- give a subject that is stable and collides with no other source's: ``{connector id}:``
  and the provider's own subject (``federated_subject``), so a tenant-file user (whose
  subject may not start so: config rules) or another connector never shares it;
- link to a tenant-file user by e-mail only when the connector says ``link_by_email`` and
  both the provider and the tenant file say the address is verified.

The provider's issuer and subject are recorded in the identity (``Identity.upstream``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from confidp.config.schema import tenant_schema
from confidp.identity.identity import Identity, Upstream
from confidp.identity.local import claims_of
from confidp.identity.sources import NotAllowed, UpstreamError
from confidp.model import Connector, Tenant

FEDERATED = "fed"  # RFC 8176 §2: "Federated authentication"
# the fields of a type without a ``claims`` mapping (github gives these itself)
FIELDS = {"subject": "id", "username": "login", "email": "email",
          "email_verified": "email_verified", "name": "name", "groups": "groups"}
MAX_SUBJECT = 255  # OpenID Connect Core §2: sub is at most 255 ASCII characters
MAX_GROUPS = 1000
MAX_CLAIM_TEXT = 1024
# standard claims (OpenID Connect Core §5.1) taken as the provider gives them, when it does
PASSED_CLAIMS = ("given_name", "family_name", "middle_name", "nickname", "picture",
                 "profile", "website", "locale", "zoneinfo")


def lookup(data: Mapping[str, Any], name: str) -> Any:
    """``data[name]``, where a dotted name reaches into nested objects."""
    if name in data:
        return data[name]
    value: Any = data
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def federated_subject(connector_id: str, upstream_subject: str) -> str:
    """``{connector id}:{upstream subject}``; an upstream subject that would make it longer
    than 255 characters, or is not printable ASCII, is replaced by ``sha256:`` and the
    base64url of its SHA-256 (still stable, still unique)."""
    subject = f"{connector_id}:{upstream_subject}"
    if len(subject) <= MAX_SUBJECT and upstream_subject.isascii() and \
            upstream_subject.isprintable() and " " not in upstream_subject:
        return subject
    digest = hashlib.sha256(upstream_subject.encode("utf-8")).digest()
    return f"{connector_id}:sha256:{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def claim_names(connector: Connector) -> dict[str, str]:
    """The connector's ``claims`` mapping over its type's defaults (the schema's)."""
    definition = tenant_schema()["$defs"][f"connector_{connector.type}"]
    defaults = {key: sub["default"] for key, sub in definition["properties"].get(
        "claims", {}).get("properties", {}).items()}
    return {**FIELDS, **defaults, **connector.settings.get("claims", {})}


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and value:
        return value[:MAX_CLAIM_TEXT]
    return None


def _groups(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    groups = [text for item in value[:MAX_GROUPS] if (text := _text(item)) is not None]
    return tuple(dict.fromkeys(groups))


def _verified(value: Any) -> bool:
    """OpenID Connect Core §5.1 email_verified: true only when the provider says so (some
    send the string "true")."""
    return value is True or value == "true"


def map_identity(connector: Connector, data: Mapping[str, Any], *, issuer: str,
                 now: float, extra_groups: Sequence[str] = (),
                 email_verified: bool | None = None) -> Identity:
    """The identity the provider's ``data`` describes, through the connector's ``claims``
    mapping. ``email_verified`` overrides the mapped claim (GitHub's e-mail API says it)."""
    field = claim_names(connector)
    upstream_subject = _text(lookup(data, field["subject"]))
    if upstream_subject is None:
        raise UpstreamError(f"the provider gave no {field['subject']!r} for the subject",
                            "invalid_userinfo")
    email = _text(lookup(data, field["email"]))
    verified = email is not None and (_verified(lookup(data, field["email_verified"]))
                                      if email_verified is None else email_verified)
    name = _text(lookup(data, field["name"]))
    username = _text(lookup(data, field["username"])) or email or upstream_subject
    claims: dict[str, Any] = {"preferred_username": username}
    if email is not None:
        claims["email"] = email
        claims["email_verified"] = verified
    if name is not None:
        claims["name"] = name
    for claim in PASSED_CLAIMS:
        if (value := _text(data.get(claim))) is not None:
            claims[claim] = value
    groups = tuple(dict.fromkeys((*_groups(lookup(data, field["groups"])), *extra_groups)))
    return Identity(subject=federated_subject(connector.id, upstream_subject),
                    source=connector.id, username=username,
                    claims=MappingProxyType(claims), groups=groups, amr=(FEDERATED,),
                    auth_time=now, upstream=Upstream(issuer, upstream_subject))


def refusal(connector: Connector, identity: Identity) -> str | None:
    """Why the connector does not let ``identity`` sign in, or None."""
    allowed_groups = connector.settings.get("allowed_groups") or []
    if allowed_groups and not set(allowed_groups) & set(identity.groups):
        return "is in none of the connector's allowed_groups"
    domains = [d.casefold() for d in connector.settings.get("allowed_email_domains") or []]
    if domains:
        email = identity.claims.get("email")
        if not isinstance(email, str) or identity.claims.get("email_verified") is not True:
            return "has no verified e-mail address, which allowed_email_domains needs"
        if email.rpartition("@")[2].casefold() not in domains:
            return "has an e-mail address outside the connector's allowed_email_domains"
    return None


def admitted(connector: Connector, tenant: Tenant, identity: Identity) -> Identity:
    """``identity`` if the connector lets it sign in (linked to a tenant-file user by
    e-mail where the tenant asks for that), else ``NotAllowed``."""
    why = refusal(connector, identity)
    if why is not None:
        raise NotAllowed(f"{identity.username} {why}")
    return linked(connector, tenant, identity)


def linked(connector: Connector, tenant: Tenant, identity: Identity) -> Identity:
    """With ``link_by_email``, the tenant-file user whose verified e-mail address is the one
    the provider verified, as this identity (their subject, claims and groups)."""
    if not connector.settings.get("link_by_email"):
        return identity
    email = identity.claims.get("email")
    if not isinstance(email, str) or identity.claims.get("email_verified") is not True:
        return identity
    folded = email.casefold()
    user = next((u for u in tenant.users.values()
                 if u.email is not None and u.email.casefold() == folded and u.email_verified
                 and not u.disabled), None)
    if user is None:
        return identity
    return replace(identity, subject=user.subject, username=user.username,
                   claims=claims_of(user), groups=user.groups)


def revalidated(connector: Connector | None, tenant: Tenant,
                identity: Identity) -> Identity | None:
    """An identity this connector vouched for, as it stands with the tenant file now: the
    connector still there (same type), the identity still allowed; a linked identity's user
    still there, active and with the same verified address."""
    if connector is None or identity.upstream is None:
        return None
    if identity.subject == federated_subject(connector.id, identity.upstream.subject):
        return identity if refusal(connector, identity) is None else None
    user = tenant.active_user(identity.subject)  # linked by e-mail
    if user is None or not connector.settings.get("link_by_email") or not user.email_verified:
        return None
    # the provider's groups were checked at sign-in; the identity now has the user's
    return replace(identity, username=user.username, claims=claims_of(user),
                   groups=user.groups)
