"""Every request under an issuer: resolve the tenant from host and path, then dispatch to the
endpoint handler for the rest of the path. Tenants come and go with reloads, so routing is a
lookup in the current snapshot, not a set of Sanic routes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sanic import Blueprint, HTTPResponse

from confidp.context import AppRequest
from confidp.mfa.cipher import EnrolmentUnreadable
from confidp.model import Tenant
from confidp.oauth.echo import shown
from confidp.oauth.errors import FactorsUnreadable, OAuthError, ServerUnavailable
from confidp.registry import Snapshot
from confidp.store.base import StoreUnavailable
from confidp.store.deadline import store_deadline
from confidp.web import (
    account,
    assets,
    authorize,
    cors,
    discovery,
    logout,
    observe,
    passkeys,
    revocation,
    token,
    userinfo,
)
from confidp.web.errors import MethodNotAllowed, NotFound, error_response
from confidp.web.http_errors import ops_not_found
from confidp.web.listeners import on_ops_listener
from confidp.web.signin.steps import PrefixHandler, Steps

log = logging.getLogger("confidp.web")
bp = Blueprint("tenants")

Handler = Callable[[AppRequest, Tenant, Snapshot], Awaitable[HTTPResponse]]
AssetHandler = Callable[[AppRequest, Tenant, Snapshot, str], Awaitable[HTTPResponse]]

# sub-path under the issuer -> method -> handler; the sign-in steps' pages are added from the
# app's steps (``routes``)
ENDPOINTS: Mapping[str, Mapping[str, Handler]] = MappingProxyType({
    "/authorize": {"GET": authorize.authorize, "POST": authorize.authorize},
    "/api/id/v1/auth/authorize": {"GET": authorize.authorize, "POST": authorize.authorize},
    "/theme.css": {"GET": assets.theme_css},
    "/.well-known/openid-configuration": {"GET": discovery.configuration},
    "/.well-known/oauth-authorization-server": {"GET": discovery.configuration},
    "/jwks": {"GET": discovery.jwks},
    "/token": {"POST": token.token},
    "/userinfo": {"GET": userinfo.userinfo, "POST": userinfo.userinfo},
    "/revoke": {"POST": revocation.revoke},
    "/introspect": {"POST": revocation.introspect},
    "/logout": {"GET": logout.logout, "POST": logout.logout},
    "/account": {"GET": account.account, "POST": account.account},
    "/account/totp": {"GET": account.totp_setup, "POST": account.totp_setup},
    passkeys.PATH: {"GET": passkeys.add, "POST": passkeys.add},
})


@dataclass(frozen=True, slots=True)
class Routes:
    """An app's endpoints under each issuer, and what each allows (for Allow headers); and
    the sign-in pages under a prefix (GET only), which take the rest of the path as a name."""

    endpoints: Mapping[str, Mapping[str, Handler]]
    allowed: Mapping[str, str]
    prefixed: Mapping[str, PrefixHandler] = field(default_factory=dict)


def routes(steps: Steps) -> Routes:
    """``ENDPOINTS`` and the pages of the sign-in ``steps``."""
    clash = set(ENDPOINTS) & set(steps.endpoints)
    if clash:
        raise ValueError(f"sign-in steps use the paths of endpoints: {sorted(clash)}")
    endpoints = {**ENDPOINTS, **steps.endpoints}
    return Routes(MappingProxyType(endpoints), MappingProxyType(
        {path: ", ".join(sorted(methods)) for path, methods in endpoints.items()}),
        steps.prefixed)


# programs, whatever their Accept header says: errors are RFC 6749 §5.2 / RFC 6750 §3 JSON
API_PATHS = frozenset({"/token", "/userinfo", "/revoke", "/introspect", "/jwks"})
ASSETS_PREFIX = "/assets/"
RFC8414_PREFIX = "/.well-known/oauth-authorization-server/"
METHODS = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"]  # routed here


def request_host(request: AppRequest) -> str:
    """The host the client addressed: X-Forwarded-Host only when the proxy is trusted."""
    if request.app.ctx.settings.trust_proxy:
        forwarded = request.headers.get("x-forwarded-host", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.headers.get("host", "")


def unrouted(request: AppRequest) -> HTTPResponse:
    """The public listener's 404 for a path no route matches (e.g. ``*``)."""
    return error_response(request, NotFound(
        f"No tenant has an issuer at {shown(request_host(request) + request.path, 200)}.",
        issuers=request.app.ctx.snapshot.issuers()))


async def dispatch(request: AppRequest, path: str = "") -> HTTPResponse:
    if on_ops_listener(request):  # it serves only confidp.web.ops
        return ops_not_found(request)
    snapshot = request.app.ctx.snapshot
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
        observe.set_route(request, observe.ASSETS, tenant.id)
        return await assets.asset(request, tenant, snapshot, sub_path[len(ASSETS_PREFIX):])
    routes = request.app.ctx.routes
    methods = routes.endpoints.get(sub_path)
    observe.set_route(request, sub_path if methods is not None else observe.UNROUTED,
                      tenant.id)
    if methods is None:
        methods = _prefixed(routes, sub_path)
    if methods is None:
        return error_response(request, NotFound(
            f"{tenant.issuer} has no endpoint {shown(sub_path or '/', 200)}."),
            tenant=tenant, snapshot=snapshot)
    if request.method == "OPTIONS" and sub_path in cors.CORS_PATHS:
        return cors.preflight(request, tenant, routes.allowed[sub_path])
    handler = methods.get("GET" if request.method == "HEAD" else request.method)
    if handler is None:
        allowed = routes.allowed[sub_path]
        return error_response(request, MethodNotAllowed(allowed, f"Use {allowed} for "
                                                                 f"{sub_path}."), api=True)
    try:
        with store_deadline():  # a stalled store: 503 within seconds, never a hanging request
            response = await handler(request, tenant, snapshot)
    except OAuthError as error:
        response = error_response(request, error, tenant=tenant, snapshot=snapshot,
                                  api=sub_path in API_PATHS)
    except EnrolmentUnreadable as exc:  # a person's factors unknown: fail closed
        log.error("second factors unavailable: %s", exc)
        response = error_response(request, FactorsUnreadable(), tenant=tenant,
                                  snapshot=snapshot, api=sub_path in API_PATHS)
    except StoreUnavailable as exc:
        log.error("store unavailable: %s", exc)
        response = error_response(
            request, ServerUnavailable("The sign-in service is temporarily unavailable. Try "
                                       "again shortly."),
            tenant=tenant, snapshot=snapshot, api=sub_path in API_PATHS)
    if sub_path in cors.CORS_PATHS:
        cors.allow(request, tenant, response)
    return response


def _prefixed(routes: Routes, sub_path: str) -> Mapping[str, Handler] | None:
    """A sign-in page under a prefix (``/callback/corp``), GET only, with its name."""
    for prefix, handler in routes.prefixed.items():
        name = sub_path[len(prefix):] if sub_path.startswith(prefix) else ""
        if name and "/" not in name:
            async def named(request: AppRequest, tenant: Tenant, snapshot: Snapshot,
                            handler: PrefixHandler = handler, name: str = name) -> HTTPResponse:
                return await handler(request, tenant, snapshot, name)
            return {"GET": named}
    return None


# routes (added rather than decorated: Sanic's decorators are untyped)
bp.add_route(dispatch, "/<path:path>", methods=METHODS, name="under_issuer")
bp.add_route(dispatch, "/", methods=METHODS, name="root")
