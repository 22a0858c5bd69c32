"""GET {issuer}/authorize and {issuer}/api/id/v1/auth/authorize (the seeds' endpoint)."""

from __future__ import annotations

import secrets

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.model import Tenant
from confidp.oauth.authorize import ErrorRedirect, validate_authorization_request
from confidp.oauth.params import parse_query
from confidp.registry import Snapshot
from confidp.web.cookies import flow_cookie, read_cookie, set_cookie
from confidp.web.errors import error_redirect
from confidp.web.forms import parameter_text
from confidp.web.pending import new_pending
from confidp.web.sessions import load_session
from confidp.web.signin.steps import begin, proceed


async def authorize(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """GET, or POST with a form body (OpenID Connect Core §3.1.2.1: both MUST be supported).
    The seeds' errors are raised as ``OAuthError`` and shown here; an error found once the
    client and redirect URI are proven goes back to the client. A valid request starts a
    sign-in (confidp.web.signin): a page the person must see, or, with a session that
    satisfies it, the code at once."""
    try:
        auth_request = validate_authorization_request(parse_query(parameter_text(request)),
                                                      tenant)
    except ErrorRedirect as answer:
        return error_redirect(answer, tenant.issuer)
    session = await load_session(request, tenant)
    binding = read_cookie(request, flow_cookie(tenant))
    new_binding = None
    if not binding or len(binding) > 100:
        binding = new_binding = secrets.token_urlsafe(32)
    pending = new_pending(tenant, auth_request, request.app.ctx.clock(), binding)
    response = await proceed(await begin(request, tenant, snapshot, pending, session), 302)
    if new_binding:
        set_cookie(response, tenant, flow_cookie(tenant), new_binding)
    return response
