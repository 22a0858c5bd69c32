"""The tenant file's users as the ``local`` identity source: a ``PasswordSource`` whose
identities are re-validated against the current tenant file by subject, so a user removed or
disabled by a reload stops at once and a renamed user stays signed in, with the claims the
file gives now."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from confidp import audit
from confidp.identity.identity import LOCAL, PASSWORD, Identity
from confidp.identity.sources import SourceContext
from confidp.model import Tenant, User

# OpenID Connect Core §5.1: each standard claim from its user field. A *_verified claim is
# released only with the value it qualifies.
_FIELD_CLAIMS: Mapping[str, Callable[[User], Any]] = MappingProxyType({
    "name": lambda u: u.name,
    "given_name": lambda u: u.given_name,
    "family_name": lambda u: u.family_name,
    "middle_name": lambda u: u.middle_name,
    "nickname": lambda u: u.nickname,
    "preferred_username": lambda u: u.preferred_username or u.username,
    "profile": lambda u: u.profile,
    "picture": lambda u: u.picture,
    "website": lambda u: u.website,
    "gender": lambda u: u.gender,
    "birthdate": lambda u: u.birthdate,
    "zoneinfo": lambda u: u.zoneinfo,
    "locale": lambda u: u.locale,
    "updated_at": lambda u: u.updated_at,
    "email": lambda u: u.email,
    "email_verified": lambda u: u.email_verified if u.email else None,
    "phone_number": lambda u: u.phone_number,
    "phone_number_verified": lambda u: u.phone_number_verified if u.phone_number else None,
    "address": lambda u: dict(u.address) if u.address else None,  # §5.1.1, a JSON object
})


def claims_of(user: User) -> Mapping[str, Any]:
    """The user's claims: its free ``claims`` (which may not use a standard claim's name:
    config rules) and the standard ones its fields give, absent values left out."""
    claims = dict(user.claims)
    for name, getter in _FIELD_CLAIMS.items():
        value = getter(user)
        if value is not None:
            claims[name] = value
    return MappingProxyType(claims)


def identity_of(user: User, *, amr: tuple[str, ...] = (PASSWORD,),
                auth_time: float = 0.0) -> Identity:
    return Identity(subject=user.subject, source=LOCAL, username=user.username,
                    claims=claims_of(user), groups=user.groups, amr=amr, auth_time=auth_time)


class LocalSource:
    """The users of the tenant file, with argon2id password hashes."""

    id = LOCAL
    kind = LOCAL
    display_name = "Local users"

    async def authenticate(self, username: str, password: str,
                           context: SourceContext) -> Identity | None:
        user = context.tenant.user(username)
        verified = await context.passwords.verify(
            user.password_hash.reveal() if user else None, password)
        if user is None:
            context.refuse(self.id, audit.UNKNOWN_USER)
            return None
        if not verified:
            context.refuse(self.id, audit.WRONG_PASSWORD)
            return None
        if user.disabled:
            context.refuse(self.id, audit.DISABLED)
            return None
        return identity_of(user, auth_time=context.now)

    async def revalidate(self, identity: Identity, tenant: Tenant,
                         now: float) -> Identity | None:
        """The user by subject, as the token grants find them: still in the file and not
        disabled; the claims are the file's current ones."""
        user = tenant.active_user(identity.subject)
        if user is None:
            return None
        return replace(identity, username=user.username, claims=claims_of(user),
                       groups=user.groups)


def build(tenant: Tenant, spec: Mapping[str, Any]) -> LocalSource:
    """``SOURCE_TYPES`` factory: every tenant has one local source, whatever its spec."""
    return LocalSource()
