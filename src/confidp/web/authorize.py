"""GET {issuer}/authorize and {issuer}/api/id/v1/auth/authorize (the seeds' endpoint)."""

from __future__ import annotations

import secrets
import time

from sanic import HTTPResponse, Request

from confidp.model import Tenant
from confidp.oauth.authorize import validate_authorization_request
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


async def authorize(request: Request, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """GET, or POST with a form body (OpenID Connect Core §3.1.2.1: both MUST be supported)."""
    auth_request = validate_authorization_request(parse_query(parameter_text(request)), tenant)
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
