"""Whether a token confidp issued is still live: the one implementation that the refresh
grant, userinfo, revocation, introspection and logout use.

- An access token (RFC 9068) is live while it verifies with one of its tenant's keys, is an
  access token of this issuer (``typ`` at+jwt, §4; ``iss``), is unexpired, and is still
  recorded (revoking deletes the record) in a family that was not revoked.
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


async def live_access_token(service: TokenService, tenant: Tenant,
                            token: str) -> LiveAccessToken | None:
    claims = issued_access_token(await service.ring(tenant), tenant, token)
    if claims is None:
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= service.clock():
        return None
    record = await load(service.store(tenant), Access, str(claims.get("jti")))
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
