"""GET and POST {issuer}/logout (OpenID Connect RP-Initiated Logout 1.0 §2, §3): end the
session, then go to a registered post_logout_redirect_uri (exact match) with state, or show
the logged-out page."""

from __future__ import annotations

from sanic import HTTPResponse, Request

from confidp.keys import TokenError
from confidp.model import Application, Tenant
from confidp.oauth.authorize import authorization_response_uri
from confidp.oauth.errors import TENANT_MISMATCH, InvalidRequest
from confidp.oauth.params import parse_query, single_values
from confidp.registry import Snapshot
from confidp.store.kinds import SESSION
from confidp.web.flow import clear_cookie, presented_session, session_cookie, store_of
from confidp.web.forms import parameter_text
from confidp.web.pages import page, redirect

PARAMETERS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id", "ui_locales",
              "logout_hint")


async def _client_of(request: Request, tenant: Tenant,
                     params: dict[str, str]) -> Application | None:
    """The client named by the ID token hint's audience and/or client_id (§2: when both are
    given they must agree)."""
    client_id = params.get("client_id")
    hint = params.get("id_token_hint")
    if hint:
        ring = await request.app.ctx.tokens.ring(tenant)
        try:
            _, claims = ring.verify(hint)  # an expired ID token is still a valid hint
        except TokenError:
            raise InvalidRequest("The id_token_hint is not an ID token of this issuer.") \
                from None
        if claims.get("iss") != tenant.issuer:
            raise InvalidRequest(TENANT_MISMATCH, "The id_token_hint was issued by another "
                                 "tenant.")
        audience = claims.get("aud")
        hinted = audience if isinstance(audience, str) else None
        if client_id and hinted and client_id != hinted:
            raise InvalidRequest("client_id differs from the id_token_hint's audience.")
        client_id = client_id or hinted
    if not client_id:
        return None
    application = tenant.application(client_id)
    if application is None:
        raise InvalidRequest("Unknown client_id.")
    return application


async def logout(request: Request, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    params = single_values(parse_query(parameter_text(request)), PARAMETERS)
    client = await _client_of(request, tenant, params)
    target = params.get("post_logout_redirect_uri")
    if target is not None:
        if client is None:
            raise InvalidRequest("post_logout_redirect_uri needs id_token_hint or client_id.")
        if target not in client.post_logout_redirect_uris:
            raise InvalidRequest("The post_logout_redirect_uri is not registered for this "
                                 "application; it must match exactly.")
    presented = presented_session(request, tenant)
    if presented is not None and presented[0] == tenant.id:
        await store_of(request, tenant).delete(SESSION, presented[1])
    if target is not None:
        values = {"state": params["state"]} if "state" in params else {}
        response = redirect(authorization_response_uri(target, values) if values else target)
    else:
        response = page(request, tenant, snapshot, "logged_out.html", page_title="Signed out")
    clear_cookie(response, tenant, session_cookie(tenant))
    return response
