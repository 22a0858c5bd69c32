"""The authorization code's record (RFC 6749 §4.1.2), as a pure function of the request, the
identity and ``now``: 256 random bits (RFC 6749 §10.10), single use and short-lived, bound to
everything the token endpoint must check (client, redirect URI, PKCE challenge, scopes,
nonce) and to whom it was issued for."""

from __future__ import annotations

import secrets

from confidp.identity.identity import Identity
from confidp.model import Application, Tenant
from confidp.oauth.authorize import AuthorizationRequest
from confidp.oauth.records import Code


def new_code() -> str:
    return secrets.token_urlsafe(32)


def code_record(tenant: Tenant, application: Application, request: AuthorizationRequest,
                identity: Identity, session_key: str, now: float) -> Code:
    return Code(
        tenant=tenant.id, client_id=application.client_id, redirect_uri=request.redirect_uri,
        code_challenge=request.code_challenge,
        code_challenge_method=request.code_challenge_method, scopes=request.scopes,
        nonce=request.nonce, identity=identity, session=session_key, issued_at=now)
