"""GET {issuer}/authorize and {issuer}/api/id/v1/auth/authorize (the seeds' endpoint)."""

from __future__ import annotations

import secrets
import time

from sanic import HTTPResponse, Request

from confidp.model import Tenant
from confidp.oauth.authorize import (
    ErrorRedirect,
    error_response_uri,
    validate_authorization_request,
)
from confidp.oauth.params import parse_query
from confidp.registry import Snapshot
from confidp.web.flow import (
    Pending,
    flow_cookie,
    load_session,
    proceed,
    read_cookie,
    set_cookie,
)
from confidp.web.forms import parameter_text
from confidp.web.pages import redirect


async def authorize(request: Request, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """GET, or POST with a form body (OpenID Connect Core §3.1.2.1: both MUST be supported).
    The seeds' errors are raised as ``OAuthError`` and shown here; an error found once the
    client and redirect URI are proven goes back to the client."""
    try:
        auth_request = validate_authorization_request(parse_query(parameter_text(request)),
                                                      tenant)
    except ErrorRedirect as answer:
        return redirect(error_response_uri(answer.redirect_uri, answer.error, answer.state,
                                           tenant.issuer))
    session = await load_session(request, tenant)
    binding = read_cookie(request, flow_cookie(tenant))
    new_binding = None
    if not binding or len(binding) > 100:
        binding = new_binding = secrets.token_urlsafe(32)
    pending = Pending(None, auth_request, time.time())
    response = await proceed(request, tenant, pending, session, 302, binding)
    if new_binding:
        set_cookie(response, tenant, flow_cookie(tenant), new_binding)
    return response
