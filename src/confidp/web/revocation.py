"""POST {issuer}/revoke (RFC 7009) and POST {issuer}/introspect (RFC 7662)."""

from __future__ import annotations

from typing import Any

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.keys import TokenError
from confidp.model import Application, Tenant
from confidp.oauth.errors import InvalidRequest, OAuthError, UnauthorizedClient
from confidp.oauth.tokens import digest
from confidp.registry import Snapshot
from confidp.store.kinds import ACCESS, REFRESH
from confidp.web.bearer import access_token_claims
from confidp.web.pages import NO_STORE
from confidp.web.responses import json
from confidp.web.token import authenticate, oauth_error, read_form


async def _refresh_record(request: AppRequest, tenant: Tenant,
                          token: str) -> dict[str, Any] | None:
    """The record of a live refresh token of this tenant (as the refresh grant sees it)."""
    service = request.app.ctx.tokens
    record = await service.store(tenant).get(REFRESH, digest(token))
    if record is None or record["tenant"] != tenant.id:
        return None
    return record if await service.live_family(tenant, record) is not None else None


async def revoke(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """RFC 7009 §2: 200 whether or not the token was known; a token of another client is
    refused. Revoking a refresh token ends its family and the access tokens it issued."""
    try:
        form = read_form(request)
        client = await authenticate(request, tenant, form)
        token = form.get("token")
        if not token:
            raise InvalidRequest("Send token.")
        await _revoke(request, tenant, client, token)
    except OAuthError as error:
        return oauth_error(error)
    return json({}, headers=NO_STORE)


async def _revoke(request: AppRequest, tenant: Tenant, client: Application, token: str) -> None:
    service = request.app.ctx.tokens
    record = await _refresh_record(request, tenant, token)
    if record is not None:
        if record["client_id"] != client.client_id:
            raise UnauthorizedClient("The token was not issued to this client.")
        await service.revoke_family(record["family"], tenant)
        return
    ring = await service.ring(tenant)
    try:
        header, claims = ring.verify(token)
    except TokenError:
        return
    if header.get("typ") != "at+jwt" or claims.get("iss") != tenant.issuer:
        return
    if claims.get("client_id") != client.client_id:
        raise UnauthorizedClient("The token was not issued to this client.")
    await service.store(tenant).delete(ACCESS, str(claims.get("jti")))


async def introspect(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """RFC 7662 §2: for confidential clients; inactive for anything unknown, expired, revoked
    or of another tenant."""
    try:
        form = read_form(request)
        await authenticate(request, tenant, form, confidential_only=True)
        token = form.get("token")
        if not token:
            raise InvalidRequest("Send token.")
    except OAuthError as error:
        return oauth_error(error)
    claims = await access_token_claims(request.app.ctx.tokens, tenant, token)
    if claims is not None:
        return json({"active": True, "token_type": "Bearer", **{
            k: claims[k] for k in ("scope", "client_id", "sub", "aud", "iss", "exp", "iat",
                                   "jti", "auth_time") if k in claims}}, headers=NO_STORE)
    record = await _refresh_record(request, tenant, token)
    if record is not None:
        return json({"active": True, "token_type": "refresh_token",
                     "scope": " ".join(record["scopes"]), "client_id": record["client_id"],
                     "sub": record["subject"], "iss": tenant.issuer}, headers=NO_STORE)
    return json({"active": False}, headers=NO_STORE)


