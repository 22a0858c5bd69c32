"""Claims of ID tokens, access tokens and userinfo (OpenID Connect Core §2, §5; RFC 9068 §2.2).
Pure functions over the tenant model."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

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
    "groups": lambda u: list(u.groups) if u.groups else None,
})


def user_claims(tenant: Tenant, user: User, scopes: Iterable[str]) -> dict[str, Any]:
    """The claims the granted scopes release (OIDC Core §5.4), plus sub; absent values are
    left out. Custom scopes release the user's free claims they list."""
    claims: dict[str, Any] = {"sub": user.subject}
    for scope_name in scopes:
        scope = tenant.scopes.get(scope_name)
        if scope is None:
            continue
        for claim in scope.claims:
            if claim == "sub":
                continue
            getter = _FIELD_CLAIMS.get(claim)
            value = getter(user) if getter else user.claims.get(claim)
            if value is not None:
                claims[claim] = value
    return claims


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: base64url of the left half of the SHA-256 of the access token (the
    hash of RS256 and ES256 alike)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def access_token_claims(tenant: Tenant, *, client_id: str, subject: str,
                        scopes: Iterable[str], jti: str, now: int,
                        auth_time: int | None) -> dict[str, Any]:
    """RFC 9068 §2.2. The audience is the client: confidp has no resource indicators yet."""
    claims: dict[str, Any] = {
        "iss": tenant.issuer, "sub": subject, "aud": client_id, "client_id": client_id,
        "iat": now, "exp": now + tenant.lifetimes.access_token, "jti": jti,
        "scope": " ".join(scopes)}
    if auth_time is not None:
        claims["auth_time"] = auth_time
    return claims


def id_token_claims(tenant: Tenant, user: User, *, client_id: str, scopes: Iterable[str],
                    now: int, auth_time: int, nonce: str | None,
                    access_token: str) -> dict[str, Any]:
    """OIDC Core §2 and §3.1.3.6."""
    claims = user_claims(tenant, user, scopes)
    claims.update({"iss": tenant.issuer, "aud": client_id, "iat": now,
                   "exp": now + tenant.lifetimes.id_token, "auth_time": auth_time,
                   "at_hash": at_hash(access_token)})
    if nonce is not None:
        claims["nonce"] = nonce
    return claims
