"""Issuing and revoking tokens (RFC 6749 §5.1, RFC 9068, OIDC Core §3.1.3.3).

Access tokens are JWTs (signed with the application's ``access_token_signing_alg``), or, for an
application with ``access_token_format: opaque``, 256 random bits that mean nothing outside
confidp. Either is recorded in the store for as long as it lives (a JWT by its ``jti``, an opaque
token by its SHA-256, with the claims a JWT would carry), so that revocation, a replayed code and
refresh-token reuse can end them (userinfo and introspection look the record up). Refresh
tokens are stored by their SHA-256 only and rotated on every use; all refresh tokens issued
from one code form a family that is revoked whole when a rotated token comes back. The first
of a family is random; each next one is derived from the one it replaces under the server key
(``successor``), so that a retry gets the same one back (confidp.oauth.grants.refresh_token).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from dataclasses import dataclass, replace
from typing import Any

from confidp.clock import Clock, system_clock
from confidp.identity.identity import Identity
from confidp.identity.registry import Sources
from confidp.keys import KeyRing, KeyStore
from confidp.model import Application, Tenant
from confidp.model.tenant import OPAQUE_FORMAT
from confidp.oauth.claims import access_token_claims, id_token_claims
from confidp.oauth.errors import OAuthError
from confidp.oauth.grant_types import REFRESH_TOKEN
from confidp.oauth.records import Access, Family, FamilyRevoked, Refresh, load, save, write
from confidp.oauth.scopes import OFFLINE_ACCESS, OPENID
from confidp.server_key import ServerKey
from confidp.store import Store
from confidp.store.base import Write
from confidp.store.kinds import ACCESS, REFRESH
from confidp.store.tenant import TenantStore

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 - RFC 9068 §2.1: the JWT header typ of access tokens
SUCCESSOR_PURPOSE = b"refresh token successor"


class InvalidGrant(OAuthError):
    """RFC 6749 §5.2: "The provided authorization grant ... or refresh token is invalid,
    expired, revoked, does not match the redirection URI used in the authorization request, or
    was issued to another client.\""""

    error = "invalid_grant"


class UnsupportedGrantType(OAuthError):
    """RFC 6749 §5.2: "The authorization grant type is not supported by the authorization
    server.\""""

    error = "unsupported_grant_type"


async def still_valid(service: TokenService, tenant: Tenant, client: Application,
                      identity: Identity, scopes: tuple[str, ...]) -> Identity:
    """Re-check a stored grant against the current tenant file (DESIGN.md "Hot reload"): the
    identity's source must still vouch for it (a local user: still in the file and not
    disabled), the client must still accept that source (``applications[].connectors``),
    and every granted scope must still be allowed. Returns the identity as its source gives
    it now (fresh claims)."""
    current = await service.revalidate(tenant, identity)
    if current is None:
        raise InvalidGrant("The user can no longer sign in.")
    if identity.source not in service.sources.of(tenant).accepted(tenant, client):
        raise InvalidGrant("The client no longer accepts the way the user signed in.")
    if not set(scopes) <= client.scopes:
        raise InvalidGrant("A granted scope is no longer allowed for this client.")
    return current


def digest(value: str) -> str:
    """How a secret value (code, refresh token, session id) becomes a store key: its SHA-256,
    so a copy of the store holds nothing usable. Any string digests: one a client sent as
    bytes that are not UTF-8 (kept as surrogates) digests as those bytes, and matches
    nothing confidp issued."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class Grant:
    """What a grant proved, for ``TokenService.issue``."""

    client: Application
    scopes: tuple[str, ...]
    identity: Identity | None = None  # None for client_credentials
    nonce: str | None = None
    family: str | None = None  # the grant family: every user grant has one
    family_record: Family | None = None  # its stored record, when it has one
    refresh_scopes: tuple[str, ...] | None = None  # the family's scopes, when narrowed
    refresh_token: str | None = None  # the refresh token to issue, when chosen (a successor)


class TokenResponse(dict[str, Any]):
    """A token response's body (RFC 6749 §5.1), and what it issued for the audit event
    (``confidp.audit.TOKENS_ISSUED``): the access token's ``jti``, the subject and its identity
    source, never a token's value."""

    jti: str = ""
    subject: str = ""
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Issued:
    """A token response and the store records that must be written for it to be valid."""

    response: dict[str, Any]
    writes: list[Write]


class TokenService:
    def __init__(self, store: Store, keys: KeyStore, server_key: ServerKey | None = None,
                 clock: Clock = system_clock, sources: Sources | None = None) -> None:
        self._store = store
        self.keys = keys
        self._server_key = server_key or ServerKey.ephemeral()
        self.clock = clock
        self.sources = sources or Sources()

    async def revalidate(self, tenant: Tenant, identity: Identity) -> Identity | None:
        """``identity`` as its source vouches for it now; None when the source is gone from
        the tenant or no longer vouches for it."""
        source = self.sources.of(tenant).get(identity.source)
        if source is None:
            return None
        return await source.revalidate(identity, tenant, self.clock())

    def successor(self, tenant: Tenant, family: str, token: str) -> str:
        """The refresh token that replaces ``token``: HMAC-SHA256 under the server key of the
        tenant, the family and the token, as 43 base64url characters like a random one (256
        bits). The same token always has the same successor, so a retry can be given it again;
        no one can compute it without the server key and the token, and with them alone not
        without the family's id, which only the store holds."""
        mac = self._server_key.mac(SUCCESSOR_PURPOSE, tenant.id, family, token)
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def store(self, tenant: Tenant) -> TenantStore:
        """The store, in ``tenant``'s namespace."""
        return TenantStore(self._store, tenant.id)

    async def ring(self, tenant: Tenant) -> KeyRing:
        """The tenant's keys: from the cache on the event loop, else read or made in a thread
        (RSA key generation takes tens of milliseconds)."""
        algorithms = tenant.signing_algorithms
        ring = self.keys.cached(tenant.id, algorithms)
        if ring is None:
            ring = await asyncio.to_thread(self.keys.ring, tenant.id, algorithms)
        return ring

    async def issue(self, tenant: Tenant, grant: Grant) -> dict[str, Any]:
        """The token response, its records written in one all-or-nothing step."""
        issued = await self.prepare(tenant, grant)
        await self.store(tenant).put_many(issued.writes)
        return issued.response

    async def prepare(self, tenant: Tenant, grant: Grant) -> Issued:
        """The token response and the records it needs (the access token, the refresh family
        and token), not yet written: a grant that uses up a code or a refresh token writes them
        in the same atomic step (``TenantStore.consume``)."""
        ring = await self.ring(tenant)
        now = int(self.clock())
        client = grant.client
        identity = grant.identity
        subject = identity.subject if identity else client.client_id
        auth_time = int(identity.auth_time) if identity is not None else None
        opaque = client.access_token_format == OPAQUE_FORMAT
        if opaque:
            access_token = secrets.token_urlsafe(32)
            jti = digest(access_token)
        else:
            jti = secrets.token_urlsafe(16)
        claims = access_token_claims(tenant, client_id=client.client_id, subject=subject,
                                     scopes=grant.scopes, jti=jti, now=now, auth_time=auth_time)
        if not opaque:
            access_token = ring.sign({"typ": ACCESS_TOKEN_TYP}, claims,
                                     client.access_token_signing_alg)
        response = TokenResponse({
            "access_token": access_token, "token_type": "Bearer",
            "expires_in": tenant.lifetimes.access_token, "scope": " ".join(grant.scopes)})
        response.jti, response.subject = jti, subject
        response.source = identity.source if identity is not None else None
        if identity is not None and OPENID in grant.scopes:
            response["id_token"] = ring.sign({"typ": "JWT"}, id_token_claims(
                tenant, identity, client_id=client.client_id, scopes=grant.scopes, now=now,
                auth_time=auth_time or now, nonce=grant.nonce, access_token=access_token,
                alg=client.id_token_signed_response_alg), client.id_token_signed_response_alg)
        writes: list[Write] = []
        family = grant.family
        if identity is not None and family is None:
            family = new_family()
        refresh_scopes = grant.refresh_scopes or grant.scopes
        if identity is not None and OFFLINE_ACCESS in refresh_scopes \
                and REFRESH_TOKEN in client.grant_types:
            assert family is not None
            response["refresh_token"] = self._refresh_token(tenant, grant, identity, family,
                                                            refresh_scopes, jti, writes)
        writes.append(write(Access(tenant.id, client.client_id, family, identity,
                                   claims if opaque else None), jti,
                            tenant.lifetimes.access_token))
        return Issued(response, writes)

    def _refresh_token(self, tenant: Tenant, grant: Grant, identity: Identity, family: str,
                       scopes: tuple[str, ...], jti: str, writes: list[Write]) -> str:
        """A new refresh token of ``family``; its records are appended to ``writes``."""
        now = self.clock()
        lifetimes = tenant.lifetimes
        record = grant.family_record or Family(tenant.id, grant.client.client_id,
                                               identity.subject, now)
        remaining = lifetimes.refresh_token_absolute - (now - record.created_at)
        token = grant.refresh_token or secrets.token_urlsafe(32)
        record = replace(record, current=digest(token), jtis=(*record.jtis[-49:], jti))
        writes.append(write(record, family, remaining))
        writes.append(write(Refresh(tenant.id, grant.client.client_id, scopes, family,
                                    identity), digest(token),
                            min(lifetimes.refresh_token_idle, remaining)))
        return token

    async def revoke_family(self, family: str, tenant: Tenant) -> None:
        """Revoke a grant family: its refresh tokens and its access tokens. The revocation is a
        marker of its own that no later write clears (a concurrent rotation cannot undo it),
        then what can be found is deleted."""
        lifetime = max(tenant.lifetimes.refresh_token_absolute, tenant.lifetimes.access_token)
        store = self.store(tenant)
        await save(store, FamilyRevoked(tenant.id), family, lifetime)
        record = await load(store, Family, family)
        if record is None:
            return
        if record.current:
            await store.delete(REFRESH, record.current)
        for jti in record.jtis:
            await store.delete(ACCESS, jti)


def new_family() -> str:
    return secrets.token_urlsafe(16)
