"""POST {issuer}/revoke (RFC 7009) and POST {issuer}/introspect (RFC 7662)."""

from __future__ import annotations

from sanic import HTTPResponse

from confidp import audit
from confidp.context import AppRequest
from confidp.model import Application, Tenant
from confidp.oauth.errors import InvalidRequest, UnauthorizedClient
from confidp.oauth.liveness import issued_access_token, live_access_token, live_refresh_token
from confidp.registry import Snapshot
from confidp.store.kinds import ACCESS
from confidp.web.pages import NO_STORE
from confidp.web.responses import json
from confidp.web.token import authenticate, read_form


async def revoke(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """RFC 7009 §2: 200 whether or not the token was known; a token of another client is
    refused. Revoking a refresh token ends its family and the access tokens it issued."""
    form = read_form(request)
    client = await authenticate(request, tenant, form)
    token = form.get("token")
    if not token:
        raise InvalidRequest("Send token.")
    await _revoke(request, tenant, client, token)
    return json({}, headers=NO_STORE)


async def _revoke(request: AppRequest, tenant: Tenant, client: Application, token: str) -> None:
    service = request.app.ctx.tokens
    refresh = await live_refresh_token(service, tenant, token)
    if refresh is not None:
        if refresh.record.client_id != client.client_id:
            raise UnauthorizedClient("The token was not issued to this client.")
        await service.revoke_family(refresh.record.family, tenant)
        audit.emit(request, audit.TOKEN_REVOKED, tenant=tenant, client_id=client.client_id,
                   subject=refresh.record.identity.subject,
                   connector=refresh.record.identity.source, token_type=audit.REFRESH_TOKEN)
        return
    claims = issued_access_token(await service.ring(tenant), tenant, token)
    if claims is None:
        return
    if claims.get("client_id") != client.client_id:
        raise UnauthorizedClient("The token was not issued to this client.")
    await service.store(tenant).delete(ACCESS, str(claims.get("jti")))
    audit.emit(request, audit.TOKEN_REVOKED, tenant=tenant, client_id=client.client_id,
               subject=str(claims.get("sub")), token_type=audit.ACCESS_TOKEN,
               jti=claims.get("jti"))


async def introspect(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """RFC 7662 §2: for confidential clients; inactive for anything unknown, expired, revoked
    or of another tenant."""
    form = read_form(request)
    await authenticate(request, tenant, form, confidential_only=True)
    token = form.get("token")
    if not token:
        raise InvalidRequest("Send token.")
    service = request.app.ctx.tokens
    access = await live_access_token(service, tenant, token)
    if access is not None:
        claims = access.claims
        return json({"active": True, "token_type": "Bearer", **{
            k: claims[k] for k in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat",
                                   "jti", "auth_time") if k in claims}}, headers=NO_STORE)
    refresh = await live_refresh_token(service, tenant, token)
    if refresh is not None:
        record = refresh.record
        return json({"active": True, "token_type": "refresh_token",
                     "scope": " ".join(record.scopes), "client_id": record.client_id,
                     "sub": record.identity.subject, "iss": tenant.issuer}, headers=NO_STORE)
    return json({"active": False}, headers=NO_STORE)


