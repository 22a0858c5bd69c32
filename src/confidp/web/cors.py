"""CORS for the endpoints a browser application calls directly (token, userinfo, revocation):
only origins of the tenant's registered redirect URIs are allowed, never ``*``. Discovery and
JWKS are public and carry ``Access-Control-Allow-Origin: *`` themselves."""

from __future__ import annotations

from urllib.parse import urlsplit

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.model import Tenant
from confidp.web.responses import empty

CORS_PATHS = frozenset({"/token", "/userinfo", "/revoke"})
_MAX_AGE = "600"


def _origin(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origin(request: AppRequest, tenant: Tenant) -> str | None:
    """The request's Origin, when a registered redirect URI of this tenant has it."""
    origin: str | None = request.headers.get("origin")
    if not origin:
        return None
    wanted = origin.lower()
    for application in tenant.applications.values():
        if any(_origin(uri) == wanted for uri in application.redirect_uris):
            return origin
    return None


def preflight(request: AppRequest, tenant: Tenant, methods: str) -> HTTPResponse:
    origin = allowed_origin(request, tenant)
    headers = {"Vary": "Origin", "Allow": methods}
    if origin is not None:
        headers.update({"Access-Control-Allow-Origin": origin,
                        "Access-Control-Allow-Methods": methods,
                        "Access-Control-Allow-Headers": "Authorization, Content-Type",
                        "Access-Control-Max-Age": _MAX_AGE})
    return empty(204, headers)


def allow(request: AppRequest, tenant: Tenant, response: HTTPResponse) -> HTTPResponse:
    origin = allowed_origin(request, tenant)
    response.headers["Vary"] = "Origin"
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response
