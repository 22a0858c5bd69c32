"""Claims of ID tokens, access tokens and userinfo (OpenID Connect Core §2, §5; RFC 9068 §2.2).
Pure functions over the tenant model and an ``Identity``."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from confidp.identity.identity import Identity
from confidp.model import Tenant
from confidp.oauth.acr import acr_of

GROUPS = "groups"  # the groups claim (confidp.oauth.scopes)

def user_claims(tenant: Tenant, identity: Identity, scopes: Iterable[str]) -> dict[str, Any]:
    """The claims the granted scopes release (OIDC Core §5.4), plus sub; absent values are
    left out. ``groups`` releases the identity's groups; every other claim comes from the
    identity's claims (standard and custom alike: its source decided them)."""
    claims: dict[str, Any] = {"sub": identity.subject}
    for scope_name in scopes:
        scope = tenant.scopes.get(scope_name)
        if scope is None:
            continue
        for claim in scope.claims:
            if claim == "sub":
                continue
            if claim == GROUPS:
                value: Any = list(identity.groups) if identity.groups else None
            else:
                value = identity.claims.get(claim)
            if value is not None:
                claims[claim] = value
    return claims


def at_hash(access_token: str, alg: str = "RS256") -> str:
    """OIDC Core §3.1.3.6: base64url of the left half of the hash of the access token, with
    the hash of the ID token's ``alg``: SHA-256 for RS256 and ES256, SHA-512 for EdDSA with
    Ed25519 (the hash Ed25519 uses, RFC 8032 §5.1, as OpenID Connect relying parties and
    node-oidc-provider compute it)."""
    data = access_token.encode("ascii")
    digest = hashlib.sha512(data).digest() if alg == "EdDSA" else hashlib.sha256(data).digest()
    half = digest[: len(digest) // 2]
    return base64.urlsafe_b64encode(half).rstrip(b"=").decode("ascii")


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


def id_token_claims(tenant: Tenant, identity: Identity, *, client_id: str, scopes: Iterable[str],
                    now: int, auth_time: int, nonce: str | None,
                    access_token: str, alg: str = "RS256") -> dict[str, Any]:
    """OIDC Core §2 and §3.1.3.6; ``amr`` (RFC 8176) says how the person authenticated:
    ``pwd``, ``otp``, ``hwk``/``swk``, ``mfa``, ``fed`` for a sign-in through an upstream
    provider."""
    claims = user_claims(tenant, identity, scopes)
    claims.update({"iss": tenant.issuer, "aud": client_id, "iat": now,
                   "exp": now + tenant.lifetimes.id_token, "auth_time": auth_time,
                   "at_hash": at_hash(access_token, alg)})
    if nonce is not None:
        claims["nonce"] = nonce
    # OpenID Connect Core §2: how the person authenticated (RFC 8176 amr) and the class of it
    # (confidp.oauth.acr); what the sign-in established, never more (a refresh keeps it)
    if identity.amr:
        claims["amr"] = list(identity.amr)
    claims["acr"] = identity.acr or acr_of(identity.amr)
    return claims
