"""GET and POST {issuer}/userinfo (OpenID Connect Core §5.3): the claims the token's scopes
release."""

from __future__ import annotations

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.identity.identity import LOCAL, Identity
from confidp.model import Tenant
from confidp.oauth.bearer import InsufficientScope, InvalidToken
from confidp.oauth.claims import user_claims
from confidp.oauth.liveness import live_access_token
from confidp.oauth.scopes import OPENID
from confidp.registry import Snapshot
from confidp.web.bearer import presented_token
from confidp.web.pages import NO_STORE
from confidp.web.responses import json


async def userinfo(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    service = request.app.ctx.tokens
    live = await live_access_token(service, tenant, presented_token(request, tenant))
    if live is None:
        raise InvalidToken(tenant.issuer, "The access token is invalid, expired or revoked.")
    scopes = str(live.claims.get("scope", "")).split()
    if OPENID not in scopes:
        raise InsufficientScope(tenant.issuer, "The token was not granted openid.")
    # a token recorded before identities were (an upgrade) names a local user
    issued_for = live.record.identity or Identity(
        subject=str(live.claims["sub"]), source=LOCAL, username=str(live.claims["sub"]))
    identity = await service.revalidate(tenant, issued_for)
    if identity is None:
        raise InvalidToken(tenant.issuer, "The user can no longer sign in.")
    return json(user_claims(tenant, identity, scopes), headers=NO_STORE)
