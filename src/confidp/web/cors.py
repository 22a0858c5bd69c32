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
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(uri: str) -> str | None:
    """The ASCII serialisation of an http(s) URI's origin (RFC 6454 §6.2): lower-case scheme
    and host, IPv6 in brackets, the port only when it is not the scheme's default. This is
    what a browser sends as ``Origin``, so ``http://LocalHost:80/cb`` and
    ``http://localhost`` are one origin, and ``http://localhost:5173`` another."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def matching_origin(origin: str, tenant: Tenant) -> str | None:
    """``origin`` (an ``Origin`` header) when a registered redirect URI of this tenant has
    exactly that origin, else None. Only a header that is itself a serialised origin counts:
    anything else (a path, upper case, "null") is never echoed back."""
    if origin_of(origin) != origin:
        return None
    for application in tenant.applications.values():
        if any(origin_of(uri) == origin for uri in application.redirect_uris):
            return origin
    return None


def allowed_origin(request: AppRequest, tenant: Tenant) -> str | None:
    """The request's Origin, when a registered redirect URI of this tenant has it."""
    origin: str | None = request.headers.get("origin")
    return matching_origin(origin, tenant) if origin else None


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
