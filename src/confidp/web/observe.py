"""What every request leaves for the operator: a request id, the HTTP duration metric by route
template, and (when configured) a trace span.

The request id is the client's ``X-Request-Id`` when it is a safe token (1 to
``MAX_REQUEST_ID`` characters of ``A-Z a-z 0-9 . _ ~ : / + = @ -``: what tracing headers and
load balancers send), else a new random one (32 hex digits); a hostile value (a newline, a
quote, 10 KB) never reaches a log line. It is returned in the response's ``X-Request-Id``,
named in every log line and audit event written for the request, and set as the span's
``confidp.request_id``.

Routes are templates, never raw paths (bounded metric labels): an endpoint under an issuer by
its sub-path (``/token``, ``/login``), ``/assets/*``, an operations endpoint by its route
(``/metrics``, ``/status/<name>``), and ``unrouted`` for anything else.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Final

from sanic.response import BaseHTTPResponse

from confidp import tracing
from confidp.context import AppRequest
from confidp.logs import current_request_id

HEADER: Final = "X-Request-Id"
MAX_REQUEST_ID: Final = 128
_SAFE = re.compile(rf"[A-Za-z0-9._~:/+=@-]{{1,{MAX_REQUEST_ID}}}")
UNROUTED: Final = "unrouted"
ASSETS: Final = "/assets/*"


def valid_request_id(value: str | None) -> bool:
    return value is not None and _SAFE.fullmatch(value) is not None


def request_id(request: AppRequest) -> str:
    """The request's id: the client's valid ``X-Request-Id``, else a new one (kept)."""
    given = getattr(request.ctx, "request_id", None)
    if given is None:
        header = request.headers.get(HEADER)
        given = header if valid_request_id(header) else secrets.token_hex(16)
        request.ctx.request_id = given
    return str(given)


def set_route(request: AppRequest, route: str, tenant: str | None = None) -> None:
    """Name the route template (and the tenant) a request was dispatched to."""
    request.ctx.route = route
    if tenant is not None:
        request.ctx.tenant = tenant
    span = getattr(request.ctx, "span", None)
    if span is not None:
        span.set_attributes({"http.route": route, "confidp.tenant": tenant or ""})


def route_of(request: AppRequest) -> str:
    route = getattr(request.ctx, "route", None)
    if route is not None:
        return str(route)
    named = request.route
    if named is not None and named.name.split(".")[-1] not in ("under_issuer", "root"):
        return "/" + named.path
    return UNROUTED


async def started(request: AppRequest) -> None:
    """Request middleware: the id, the clock and the span start."""
    request.ctx.started = time.perf_counter()
    current_request_id.set(request_id(request))
    if tracing.enabled():
        request.ctx.span = tracing.start_request(
            f"{request.method} {request.path}", request.headers,
            {"http.request.method": request.method, "url.path": request.path,
             "confidp.request_id": request_id(request)})


async def finished(request: AppRequest, response: BaseHTTPResponse) -> None:
    """Response middleware (error responses included): the id back to the client, the
    duration in the metrics, the span ended with the outcome."""
    response.headers[HEADER] = request_id(request)
    route = route_of(request)
    began = getattr(request.ctx, "started", None)
    if began is not None and request.app.ctx.settings.request_metrics:
        request.app.ctx.metrics.observe_http(route, _method(request.method), response.status,
                                             time.perf_counter() - began)
    span = getattr(request.ctx, "span", None)
    if span is not None:
        request.ctx.span = None
        span.end(f"{request.method} {route}", {
            "http.route": route, "http.response.status_code": response.status,
            "confidp.outcome": _outcome(response.status)}, error=response.status >= 500)
    current_request_id.set(None)


def _outcome(status: int) -> str:
    if status < 400:
        return "ok"
    return "client_error" if status < 500 else "server_error"


_METHODS = frozenset({"GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"})


def _method(method: str) -> str:
    return method if method in _METHODS else "other"
