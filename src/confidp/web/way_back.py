"""The way back an error page offers, so that no page is a dead end: to the application the
person came from, where its tenant file says how to reach it.

The application is the one the sign-in request names (``confidp.web.flow.load_pending`` puts
the request, once it is proven to be this server's and this tenant's, on ``request.ctx``), or
else the one the request's own ``client_id`` parameter names, if the tenant has it. The link
is the application's ``initiate_login_uri`` ("Start again": OpenID Connect Core §4, a
third-party-initiated login starts a fresh sign-in) or else its ``client_uri`` ("Go back to"
its home page). It is never a redirect URI: an unverified one would make the page an open
redirector (RFC 9700 §4.11.1), and a verified one expects an authorization response, not a
person.
"""

from __future__ import annotations

from dataclasses import dataclass

from confidp.context import AppRequest
from confidp.model import Application, Tenant
from confidp.web.forms import form_value


@dataclass(frozen=True, slots=True)
class WayBack:
    uri: str
    application: str  # its name, for the link text
    starts_sign_in: bool  # initiate_login_uri: "Start again"; client_uri: "Go back to ..."


def _application(request: AppRequest, tenant: Tenant) -> Application | None:
    sign_in = getattr(request.ctx, "sign_in_request", None)
    if sign_in is not None:
        return tenant.application(sign_in.client_id)
    client_id = request.args.get("client_id")
    if client_id is None and request.method == "POST":
        client_id = form_value(request, "client_id")
    return tenant.application(client_id) if client_id else None


def way_back(request: AppRequest, tenant: Tenant) -> WayBack | None:
    application = _application(request, tenant)
    if application is None:
        return None
    if application.initiate_login_uri:
        return WayBack(application.initiate_login_uri, application.name, True)
    if application.client_uri:
        return WayBack(application.client_uri, application.name, False)
    return None
