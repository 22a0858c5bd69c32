"""Operator endpoints: liveness, readiness, reload status and metrics. Never any secret.

/healthz and /readyz answer on both listeners (simple probes need no second port); /status and
/metrics only on the operations listener (``confidp.web.listeners``): on the public one their
paths belong to the tenants' routing, like any other path, so they get the tenants' 404.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from sanic import Blueprint, HTTPResponse

from confidp.context import AppRequest
from confidp.model import Tenant
from confidp.oauth.echo import quoted
from confidp.outbound import Outbound
from confidp.registry import FileStatus
from confidp.tenant_cache import TenantCache
from confidp.web import tenant_routes
from confidp.web.connector_status import connector_reports
from confidp.web.errors import HttpError, MethodNotAllowed, NotFound, error_response
from confidp.web.listeners import on_ops_listener
from confidp.web.responses import json, raw

bp = Blueprint("ops")
PROBE_METHODS = ["GET", "HEAD"]
_READ = frozenset(PROBE_METHODS)
_ALL_METHODS = tenant_routes.METHODS


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    millis = int(moment * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"


def _authorized(request: AppRequest) -> bool:
    token = request.app.ctx.settings.status_token
    if token is None:
        return True
    # a header that is not UTF-8 arrives with lone surrogates: back to its own bytes
    given = request.headers.get("authorization", "").encode(errors="surrogateescape")
    return hmac.compare_digest(given, f"Bearer {token.reveal()}".encode())


def _unauthorized(request: AppRequest) -> HTTPResponse:
    return error_response(request, HttpError(
        401, "unauthorized", "send the status token as Authorization: Bearer <token>",
        {"WWW-Authenticate": 'Bearer realm="confidp-status"'}), api=True)


def connectors_status(tenant: Tenant, outbound: Outbound | None,
                      reports: Mapping[str, Mapping[str, object]] | None = None
                      ) -> dict[str, object]:
    """Each connector of ``tenant``: its type, and (for upstream ones) the last discovery and
    key-set fetch of this worker and the last error (``confidp.outbound``), or what the
    connector reports itself (``reports``: an ldap connector's last check and error;
    ``confidp.web.connector_status``), never a secret (an error names the URL and what
    failed)."""
    statuses = outbound.statuses(tenant.id) if outbound is not None else {}
    reports = reports or {}
    return {connector.id: {"type": connector.type, **(
        statuses[connector.id].to_json() if connector.id in statuses else {}),
        **reports.get(connector.id, {})}
        for connector in tenant.connectors}


def file_status(status: FileStatus, outbound: Outbound | None = None,
                reports: Mapping[str, Mapping[str, object]] | None = None) -> dict[str, object]:
    """One tenant file. Files are named relative to the tenants directory, as in every message:
    the status never shows the server's absolute paths, nor a secret (messages never quote a
    secret field's value)."""
    tenant = status.serving
    return {
        "file": status.source,
        "tenant": status.tenant_id,
        "serving": tenant is not None,
        "issuer": tenant.issuer if tenant else None,
        "content_hash": status.served_hash,
        "loaded_at": _iso(status.loaded_at),
        "applications": len(tenant.applications) if tenant else 0,
        "users": len(tenant.users) if tenant else 0,
        "errors": [str(error) for error in status.errors],
        "error_details": [error.to_dict() for error in status.errors],
        "rejected_hash": status.rejected_hash,
        "rejected_at": _iso(status.rejected_at),
        "warnings": [str(warning) for warning in status.warnings],
        "connectors": connectors_status(tenant, outbound, reports) if tenant else {},
    }


async def _gate(request: AppRequest) -> HTTPResponse | None:
    """The response when ``request`` may not reach an operations-only endpoint: on the public
    listener, the tenants' routing (their 404); on the operations listener, 405 for a method
    other than GET and HEAD, or 401 without the status token. None when it may."""
    if not on_ops_listener(request):
        return await tenant_routes.dispatch(request)
    if request.method not in _READ:
        return error_response(request, MethodNotAllowed(", ".join(PROBE_METHODS),
                                                        "Use GET or HEAD."), api=True)
    if not _authorized(request):
        return _unauthorized(request)
    return None


async def healthz(request: AppRequest) -> HTTPResponse:
    return json({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(request: AppRequest) -> HTTPResponse:
    registry = request.app.ctx.registry
    if request.app.ctx.stopping:  # SIGTERM: out of rotation first (--shutdown-delay)
        return json({"status": "stopping"}, status=503, headers={"Cache-Control": "no-store"})
    if registry is None or not request.app.ctx.watching:
        return json({"status": "loading"}, status=503, headers={"Cache-Control": "no-store"})
    if not await request.app.ctx.store.ping():
        return json({"status": "store unavailable"}, status=503,
                    headers={"Cache-Control": "no-store"})
    return json({"status": "ready", "generation": registry.snapshot.generation},
                headers={"Cache-Control": "no-store"})


async def status(request: AppRequest) -> HTTPResponse:
    if (refused := await _gate(request)) is not None:
        return refused
    snapshot = request.app.ctx.snapshot
    outbound = request.app.ctx.outbound
    files = [file_status(s, outbound, connector_reports(request, s.serving))
             for s in (snapshot.files[name] for name in sorted(snapshot.files))]
    return json({
        "generation": snapshot.generation,
        "reloaded_at": _iso(snapshot.created_at),
        "themes": sorted(snapshot.themes),
        "serving": sum(1 for f in files if f["serving"]),
        "failing": sum(1 for f in files if f["errors"]),
        "tenant_cache": _cache_status(request.app.ctx.tenant_cache),
        "tenants": files,
    }, headers={"Cache-Control": "no-store"})


def _cache_status(cache: TenantCache | None) -> dict[str, Any] | None:
    """The tenant cache (None: --no-tenant-cache): the file's name only, never its path."""
    if cache is None:
        return None
    return {"file": cache.path.name, "entries_read": cache.loaded_entries,
            "served_from_cache": cache.used, "validated": cache.validated,
            "saved_entries": cache.saved_entries, "saved_at": _iso(cache.saved_at),
            "not_used": cache.unused, "write_problem": cache.write_problem}


async def status_one(request: AppRequest, name: str) -> HTTPResponse:
    if (refused := await _gate(request)) is not None:
        return refused
    snapshot = request.app.ctx.snapshot
    file = snapshot.status(name)
    if file is not None:
        return json({"generation": snapshot.generation, **file_status(
            file, request.app.ctx.outbound, connector_reports(request, file.serving))},
                    headers={"Cache-Control": "no-store"})
    return error_response(request, NotFound(f"no tenant file {quoted(name)}"), api=True)


async def metrics(request: AppRequest) -> HTTPResponse:
    if (refused := await _gate(request)) is not None:
        return refused
    return raw(request.app.ctx.metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


# routes (added rather than decorated: Sanic's decorators are untyped)
bp.add_route(healthz, "/healthz", methods=PROBE_METHODS)
bp.add_route(readyz, "/readyz", methods=PROBE_METHODS)
bp.add_route(status, "/status", methods=_ALL_METHODS)
bp.add_route(status_one, "/status/<name:str>", methods=_ALL_METHODS)
bp.add_route(metrics, "/metrics", methods=_ALL_METHODS)
