"""Every request under an issuer: resolve the tenant from host and path, then dispatch to the
endpoint handler for the rest of the path. Tenants come and go with reloads, so routing is a
lookup in the current snapshot, not a set of Sanic routes."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType

from sanic import Blueprint, HTTPResponse, Request

from confidp.model import Tenant
from confidp.oauth.echo import shown
from confidp.oauth.errors import OAuthError, ServerUnavailable
from confidp.registry import Snapshot
from confidp.store.base import StoreUnavailable
from confidp.store.deadline import store_deadline
from confidp.web import (
    assets,
    authorize,
    consent,
    cors,
    discovery,
    login,
    logout,
    revocation,
    token,
    userinfo,
)
from confidp.web.http_errors import ops_not_found
from confidp.web.listeners import on_ops_listener
from confidp.web.negotiation import prefers_json
from confidp.web.pages import error_response, page
from confidp.web.responses import html as html_page
from confidp.web.responses import json

log = logging.getLogger("confidp.web")
bp = Blueprint("tenants")

Handler = Callable[[Request, Tenant, Snapshot], Awaitable[HTTPResponse]]
AssetHandler = Callable[[Request, Tenant, Snapshot, str], Awaitable[HTTPResponse]]

# sub-path under the issuer -> method -> handler
ENDPOINTS: Mapping[str, Mapping[str, Handler]] = MappingProxyType({
    "/authorize": {"GET": authorize.authorize, "POST": authorize.authorize},
    "/api/id/v1/auth/authorize": {"GET": authorize.authorize, "POST": authorize.authorize},
    "/login": {"GET": login.login_form, "POST": login.login_submit},
    "/consent": {"GET": consent.consent_form, "POST": consent.consent_submit},
    "/theme.css": {"GET": assets.theme_css},
    "/.well-known/openid-configuration": {"GET": discovery.configuration},
    "/.well-known/oauth-authorization-server": {"GET": discovery.configuration},
    "/jwks": {"GET": discovery.jwks},
    "/token": {"POST": token.token},
    "/userinfo": {"GET": userinfo.userinfo, "POST": userinfo.userinfo},
    "/revoke": {"POST": revocation.revoke},
    "/introspect": {"POST": revocation.introspect},
    "/logout": {"GET": logout.logout, "POST": logout.logout},
})
ALLOWED = MappingProxyType({path: ", ".join(sorted(methods))
                            for path, methods in ENDPOINTS.items()})  # for Allow headers
API_PATHS = frozenset({"/token", "/userinfo", "/revoke", "/introspect", "/jwks"})
ASSETS_PREFIX = "/assets/"
RFC8414_PREFIX = "/.well-known/oauth-authorization-server/"
_MAX_LISTED = 50
METHODS = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"]  # routed here


def request_host(request: Request) -> str:
    """The host the client addressed: X-Forwarded-Host only when the proxy is trusted."""
    if request.app.ctx.settings.trust_proxy:
        forwarded = request.headers.get("x-forwarded-host", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.headers.get("host", "")


def not_found(request: Request, snapshot: Snapshot, message: str,
              list_issuers: bool, tenant: Tenant | None = None) -> HTTPResponse:
    """404: JSON for programs; for people, the tenant's themed page in their language when
    the path is under an issuer, else a plain page (no tenant, so no theme to show)."""
    issuers = snapshot.issuers() if list_issuers else []
    shown = issuers[:_MAX_LISTED]
    more = len(issuers) - len(shown)
    headers = {"Cache-Control": "no-store"}
    if prefers_json(request):
        body: dict[str, object] = {"error": "not_found", "error_description": message}
        if list_issuers:
            body["issuers"] = shown
            if more:
                body["more_issuers"] = more
        return json(body, status=404, headers=headers)
    if tenant is not None:
        return page(request, tenant, snapshot, "not_found.html", page_title="Page not found",
                    status=404, message=message)
    items = "".join(f"<li><code>{html.escape(i)}</code></li>" for i in shown)
    extra = f"<p>and {more} more.</p>" if more else ""
    listing = (f"<p>Known issuers:</p><ul>{items}</ul>{extra}" if list_issuers and issuers
               else "")
    body_html = (f"<!doctype html><html lang=en><meta charset=utf-8>"
                 f"<meta name=viewport content=\"width=device-width, initial-scale=1\">"
                 f"<title>Not found</title><main><h1>Not found</h1>"
                 f"<p>{html.escape(message)}</p>{listing}</main></html>")
    return html_page(body_html, status=404, headers=headers)


def unrouted(request: Request) -> HTTPResponse:
    """The public listener's 404 for a path no route matches (e.g. ``*``)."""
    snapshot: Snapshot = request.app.ctx.registry.snapshot
    return not_found(request, snapshot, "No tenant has an issuer at "
                     f"{shown(request_host(request) + request.path, 200)}.",
                     list_issuers=True)


@bp.route("/", methods=METHODS, name="root")
@bp.route("/<path:path>", methods=METHODS, name="under_issuer")
async def dispatch(request: Request, path: str = "") -> HTTPResponse:
    if on_ops_listener(request):  # it serves only confidp.web.ops
        return ops_not_found(request)
    snapshot: Snapshot = request.app.ctx.registry.snapshot
    path = request.path
    if path.startswith(RFC8414_PREFIX):
        # RFC 8414 §3: the well-known part goes between the host and the issuer's path
        found = snapshot.resolve(request_host(request), path[len(RFC8414_PREFIX) - 1:])
        if found is not None and found[1] in ("", "/") and request.method in ("GET", "HEAD"):
            return await discovery.configuration(request, found[0], snapshot)
    found = snapshot.resolve(request_host(request), path)
    if found is None:
        return unrouted(request)
    tenant, sub_path = found
    if sub_path.startswith(ASSETS_PREFIX) and request.method in ("GET", "HEAD"):
        return await assets.asset(request, tenant, snapshot, sub_path[len(ASSETS_PREFIX):])
    methods = ENDPOINTS.get(sub_path)
    if methods is None:
        return not_found(request, snapshot, f"{tenant.issuer} has no endpoint "
                         f"{shown(sub_path or '/', 200)}.", list_issuers=False, tenant=tenant)
    if request.method == "OPTIONS" and sub_path in cors.CORS_PATHS:
        return cors.preflight(request, tenant, ALLOWED[sub_path])
    handler = methods.get("GET" if request.method == "HEAD" else request.method)
    if handler is None:
        allowed = ALLOWED[sub_path]
        return json({"error": "method_not_allowed",
                     "error_description": f"Use {allowed} for {sub_path}."},
                    status=405, headers={"Allow": allowed})
    try:
        with store_deadline():  # a stalled store: 503 within seconds, never a hanging request
            response = await handler(request, tenant, snapshot)
        if sub_path in cors.CORS_PATHS:
            cors.allow(request, tenant, response)
        return response
    except OAuthError as error:
        return error_response(request, tenant, snapshot, error)
    except StoreUnavailable as exc:
        log.error("store unavailable: %s", exc)
        error = ServerUnavailable("The sign-in service is temporarily unavailable. Try again "
                                  "shortly.")
        if sub_path in API_PATHS:  # programs, whatever their Accept header says
            return json(error.to_json(), status=error.status,
                        headers={"Cache-Control": "no-store", "Retry-After": "5"})
        response = error_response(request, tenant, snapshot, error)
        response.headers["Retry-After"] = "5"
        return response
