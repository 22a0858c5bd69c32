"""GET and POST {issuer}/userinfo (OpenID Connect Core §5.3): the claims the token's scopes
release."""

from __future__ import annotations

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.model import Tenant
from confidp.oauth.claims import user_claims
from confidp.oauth.scopes import OPENID
from confidp.registry import Snapshot
from confidp.web.bearer import BearerError, access_token_claims, presented_token
from confidp.web.pages import NO_STORE
from confidp.web.responses import json


async def userinfo(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    try:
        claims = await access_token_claims(request.app.ctx.tokens, tenant,
                                           presented_token(request))
        if claims is None:
            raise BearerError(401, "invalid_token", "The access token is invalid, expired or "
                              "revoked.")
        scopes = str(claims.get("scope", "")).split()
        if OPENID not in scopes:
            raise BearerError(403, "insufficient_scope", "The token was not granted openid.")
        user = tenant.active_user(str(claims["sub"]))
        if user is None:
            raise BearerError(401, "invalid_token", "The user can no longer sign in.")
    except BearerError as error:
        return error.response(tenant)
    return json(user_claims(tenant, user, scopes), headers=NO_STORE)
