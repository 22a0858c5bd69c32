"""POST {issuer}/token (RFC 6749 §3.2, §5): one dispatcher running the shared steps in order,
so no grant can skip one: 1. parse the form, 2. authenticate the client, 3. check the grant
type is the client's, 4. run the grant, 5. answer with Cache-Control: no-store."""

from __future__ import annotations

from sanic import HTTPResponse

from confidp import audit
from confidp.context import AppRequest
from confidp.model import Application, Tenant
from confidp.oauth.client_auth import InvalidClient, parse_credentials, registered_client
from confidp.oauth.echo import quoted
from confidp.oauth.errors import InvalidRequest, UnauthorizedClient
from confidp.oauth.grants import GRANTS
from confidp.oauth.grants.refresh_token import RefreshTokenReused
from confidp.oauth.params import parse_query, single_values
from confidp.oauth.tokens import TokenResponse, UnsupportedGrantType
from confidp.registry import Snapshot
from confidp.web.forms import parameter_text
from confidp.web.pages import TOKEN_NO_STORE
from confidp.web.responses import json

FORM_PARAMETERS = ("grant_type", "code", "redirect_uri", "code_verifier", "refresh_token",
                   "scope", "client_id", "client_secret", "token", "token_type_hint",
                   "id_token_hint", "post_logout_redirect_uri", "state")


def read_form(request: AppRequest) -> dict[str, str]:
    """The body as OAuth parameters: form-encoded UTF-8, none twice (RFC 6749 §3.2)."""
    return single_values(parse_query(parameter_text(request)), FORM_PARAMETERS)


async def authenticate(request: AppRequest, tenant: Tenant, form: dict[str, str],
                       confidential_only: bool = False) -> Application:
    """Step 2, shared by token, revocation and introspection."""
    credentials = parse_credentials(request.headers.get("authorization"), form)
    client = registered_client(tenant, credentials)
    if confidential_only and client.is_public:
        raise InvalidClient("This endpoint is for confidential clients.")
    if credentials.method != "none":
        ok = await request.app.ctx.client_secrets.check(
            tenant.id, client.client_id, client.client_secret, credentials.secret or "")
        if not ok:
            raise InvalidClient("Client authentication failed.")
    return client


async def token(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    form = read_form(request)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequest("Send grant_type.")
    client = await authenticate(request, tenant, form)
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"grant_type {quoted(grant_type)} is not supported.")
    if grant_type not in client.grant_types:
        raise UnauthorizedClient(f"This client may not use {grant_type}.")
    try:
        body = await grant(request.app.ctx.tokens, tenant, client, form)
    except RefreshTokenReused as reused:
        audit.emit(request, audit.REFRESH_REUSE_DETECTED, tenant=tenant,
                   client_id=client.client_id, subject=reused.subject, family_revoked=True)
        raise
    if isinstance(body, TokenResponse):
        audit.emit(request, audit.TOKENS_ISSUED, tenant=tenant, client_id=client.client_id,
                   subject=body.subject, connector=body.source, grant_type=grant_type,
                   scope=body.get("scope"), jti=body.jti, refresh="refresh_token" in body)
    return json(body, headers=TOKEN_NO_STORE)
