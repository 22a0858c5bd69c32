"""Whether a token confidp issued is still live: the one implementation that the refresh
grant, userinfo, revocation, introspection and logout use.

- An access token (RFC 9068) is live while it verifies with one of its tenant's keys, is an
  access token of this issuer (``typ`` at+jwt, §4; ``iss``), is unexpired, and is still
  recorded (revoking deletes the record) in a family that was not revoked. An opaque access
  token is live while its record (by its SHA-256, holding its claims) is there, unexpired, in
  a family that was not revoked.
- A refresh token is live while its record is there (rotation uses it up), in a family that
  exists, was not revoked and is younger than the tenant's current absolute refresh lifetime
  (a reload that shortens it applies at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confidp.keys import KeyRing, TokenError
from confidp.model import Tenant
from confidp.oauth.records import Access, Family, FamilyRevoked, Refresh, load
from confidp.oauth.tokens import ACCESS_TOKEN_TYP, TokenService, digest


@dataclass(frozen=True, slots=True)
class LiveAccessToken:
    claims: dict[str, Any]
    record: Access


@dataclass(frozen=True, slots=True)
class LiveRefreshToken:
    record: Refresh
    family: Family


def issued_access_token(ring: KeyRing, tenant: Tenant, token: str) -> dict[str, Any] | None:
    """The claims of ``token`` if it is an access token this tenant signed (live or not);
    None for anything else."""
    try:
        header, claims = ring.verify(token)
    except TokenError:
        return None
    if header.get("typ") != ACCESS_TOKEN_TYP or claims.get("iss") != tenant.issuer:
        return None
    return claims


def is_jwt(token: str) -> bool:
    """A JWT has three dot-separated parts; an opaque token (``secrets.token_urlsafe``) never
    has a dot."""
    return "." in token


async def access_token_claims_of(service: TokenService, tenant: Tenant,
                                 token: str) -> dict[str, Any] | None:
    """The claims of ``token`` if it is an access token this tenant issued (live or not, as
    far as can be told: an opaque token is known only while its record is there); None for
    anything else (revocation)."""
    if is_jwt(token):
        return issued_access_token(await service.ring(tenant), tenant, token)
    record = await load(service.store(tenant), Access, digest(token))
    if record is None or record.tenant != tenant.id or record.claims is None:
        return None
    return dict(record.claims)


async def live_access_token(service: TokenService, tenant: Tenant,
                            token: str) -> LiveAccessToken | None:
    """A JWT access token verifies and its record is there; an opaque one has its record
    (keyed by its SHA-256), which holds its claims."""
    record: Access | None
    if is_jwt(token):
        claims = issued_access_token(await service.ring(tenant), tenant, token)
        if claims is None:
            return None
        record = await load(service.store(tenant), Access, str(claims.get("jti")))
        if record is not None and record.claims is not None:
            return None  # an opaque token's record: never reached through a JWT
    else:
        record = await load(service.store(tenant), Access, digest(token))
        if record is None or record.claims is None:
            return None
        claims = dict(record.claims)
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= service.clock():
        return None
    if claims.get("iss") != tenant.issuer:
        return None
    if record is None or record.tenant != tenant.id:
        return None
    if await family_revoked(service, tenant, record.family):
        return None
    return LiveAccessToken(claims, record)


async def live_family(service: TokenService, tenant: Tenant, family_id: str) -> Family | None:
    family = await load(service.store(tenant), Family, family_id)
    if family is None or await family_revoked(service, tenant, family_id):
        return None
    if service.clock() - family.created_at > tenant.lifetimes.refresh_token_absolute:
        return None
    return family


async def live_refresh_record(service: TokenService, tenant: Tenant,
                              key: str) -> LiveRefreshToken | None:
    """The refresh token stored at ``key`` (the SHA-256 of the token) and its family, while
    both live."""
    record = await load(service.store(tenant), Refresh, key)
    if record is None or record.tenant != tenant.id:
        return None
    family = await live_family(service, tenant, record.family)
    return LiveRefreshToken(record, family) if family is not None else None


async def live_refresh_token(service: TokenService, tenant: Tenant,
                             token: str) -> LiveRefreshToken | None:
    return await live_refresh_record(service, tenant, digest(token))


async def family_revoked(service: TokenService, tenant: Tenant, family: str | None) -> bool:
    return family is not None and \
        await load(service.store(tenant), FamilyRevoked, family) is not None
