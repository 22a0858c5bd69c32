"""Issuing and revoking tokens (RFC 6749 §5.1, RFC 9068, OIDC Core §3.1.3.3).

Access tokens are JWTs, and also recorded in the store by ``jti`` for as long as they live, so
that revocation, a replayed code and refresh-token reuse can end them (userinfo and
introspection look the record up). Refresh tokens are stored by their SHA-256 only and rotated
on every use; all refresh tokens issued from one code form a family that is revoked whole when a
rotated token comes back. The first of a family is random; each next one is derived from the one
it replaces under the server key (``successor``), so that a retry gets the same one back
(confidp.oauth.grants.refresh_token).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from confidp.keys import KeyRing, KeyStore
from confidp.model import Application, Tenant, User
from confidp.oauth.claims import access_token_claims, id_token_claims
from confidp.oauth.errors import OAuthError
from confidp.oauth.scopes import OFFLINE_ACCESS, OPENID
from confidp.server_key import ServerKey
from confidp.store import Store
from confidp.store.base import Write
from confidp.store.kinds import ACCESS, FAMILY, FAMILY_REVOKED, REFRESH
from confidp.store.tenant import TenantStore

ACCESS_TOKEN_ALG = "RS256"  # noqa: S105 - an algorithm name, not a secret
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


def still_valid(tenant: Tenant, client: Application,
                record: dict[str, Any]) -> tuple[User, tuple[str, ...]]:
    """Re-check a stored grant against the current tenant file (DESIGN.md "Hot reload"): the
    user must still be able to sign in and every granted scope must still be allowed."""
    user = tenant.active_user(record["subject"])
    if user is None:
        raise InvalidGrant("The user can no longer sign in.")
    scopes = tuple(record["scopes"])
    if not set(scopes) <= client.scopes:
        raise InvalidGrant("A granted scope is no longer allowed for this client.")
    return user, scopes


def digest(value: str) -> str:
    """How a secret value (code, refresh token, session id) becomes a store key: its SHA-256,
    so a copy of the store holds nothing usable."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Grant:
    """What a grant proved, for ``TokenService.issue``."""

    client: Application
    scopes: tuple[str, ...]
    user: User | None = None  # None for client_credentials
    auth_time: float | None = None
    nonce: str | None = None
    family: str | None = None  # the grant family: every user grant has one
    family_record: dict[str, Any] | None = None  # its stored record, when it has one
    refresh_scopes: tuple[str, ...] | None = None  # the family's scopes, when narrowed
    refresh_token: str | None = None  # the refresh token to issue, when chosen (a successor)


@dataclass(frozen=True, slots=True)
class Issued:
    """A token response and the store records that must be written for it to be valid."""

    response: dict[str, Any]
    writes: list[Write]


class TokenService:
    def __init__(self, store: Store, keys: KeyStore, server_key: ServerKey | None = None) -> None:
        self._store = store
        self.keys = keys
        self._server_key = server_key or ServerKey.ephemeral()

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
        return self.keys.cached(tenant.id) or await asyncio.to_thread(self.keys.ring,
                                                                      tenant.id)

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
        now = int(time.time())
        client = grant.client
        subject = grant.user.subject if grant.user else client.client_id
        auth_time = int(grant.auth_time) if grant.auth_time is not None else None
        jti = secrets.token_urlsafe(16)
        access_token = ring.sign({"typ": "at+jwt"}, access_token_claims(
            tenant, client_id=client.client_id, subject=subject, scopes=grant.scopes, jti=jti,
            now=now, auth_time=auth_time), ACCESS_TOKEN_ALG)
        response: dict[str, Any] = {
            "access_token": access_token, "token_type": "Bearer",
            "expires_in": tenant.lifetimes.access_token, "scope": " ".join(grant.scopes)}
        if grant.user is not None and OPENID in grant.scopes:
            response["id_token"] = ring.sign({"typ": "JWT"}, id_token_claims(
                tenant, grant.user, client_id=client.client_id, scopes=grant.scopes, now=now,
                auth_time=auth_time or now, nonce=grant.nonce, access_token=access_token),
                client.id_token_signed_response_alg)
        writes: list[Write] = []
        family = grant.family
        if grant.user is not None and family is None:
            family = new_family()
        refresh_scopes = grant.refresh_scopes or grant.scopes
        if grant.user is not None and OFFLINE_ACCESS in refresh_scopes \
                and "refresh_token" in client.grant_types:
            assert family is not None
            response["refresh_token"] = self._refresh_token(tenant, grant, family,
                                                            refresh_scopes, jti, writes)
        writes.append((ACCESS, jti, {"tenant": tenant.id, "client_id": client.client_id,
                                     "family": family}, tenant.lifetimes.access_token))
        return Issued(response, writes)

    def _refresh_token(self, tenant: Tenant, grant: Grant, family: str,
                       scopes: tuple[str, ...], jti: str, writes: list[Write]) -> str:
        """A new refresh token of ``family``; its records are appended to ``writes``."""
        assert grant.user is not None
        now = time.time()
        lifetimes = tenant.lifetimes
        record = dict(grant.family_record) if grant.family_record else {
            "tenant": tenant.id, "client_id": grant.client.client_id,
            "subject": grant.user.subject, "created_at": now, "jtis": []}
        age = now - record["created_at"]
        remaining = lifetimes.refresh_token_absolute - age
        token = grant.refresh_token or secrets.token_urlsafe(32)
        record["current"] = digest(token)
        record["jtis"] = [*record["jtis"][-49:], jti]
        writes.append((FAMILY, family, record, remaining))
        writes.append((REFRESH, digest(token), {
            "tenant": tenant.id, "client_id": grant.client.client_id,
            "subject": grant.user.subject, "scopes": list(scopes), "family": family,
            "auth_time": grant.auth_time}, min(lifetimes.refresh_token_idle, remaining)))
        return token

    async def revoke_family(self, family: str, tenant: Tenant) -> None:
        """Revoke a grant family: its refresh tokens and its access tokens. The revocation is a
        marker of its own that no later write clears (a concurrent rotation cannot undo it),
        then what can be found is deleted."""
        lifetime = max(tenant.lifetimes.refresh_token_absolute, tenant.lifetimes.access_token)
        store = self.store(tenant)
        await store.put(FAMILY_REVOKED, family, {"tenant": tenant.id}, lifetime)
        record = await store.get(FAMILY, family)
        if record is None:
            return
        if record.get("current"):
            await store.delete(REFRESH, record["current"])
        for jti in record.get("jtis", []):
            await store.delete(ACCESS, jti)

    async def live_family(self, tenant: Tenant, record: dict[str, Any]) -> dict[str, Any] | None:
        """The grant family of a stored refresh token's ``record`` while it lives: None once
        it is revoked, gone, or older than the tenant's current absolute refresh lifetime (a
        reload that shortens it applies at once)."""
        family = await self.store(tenant).get(FAMILY, record["family"])
        if family is None or await self.family_revoked(tenant, record["family"]):
            return None
        if time.time() - family["created_at"] > tenant.lifetimes.refresh_token_absolute:
            return None
        return family

    async def family_revoked(self, tenant: Tenant, family: str | None) -> bool:
        return family is not None and \
            await self.store(tenant).get(FAMILY_REVOKED, family) is not None


def new_family() -> str:
    return secrets.token_urlsafe(16)
