"""Operator endpoints: liveness, readiness, reload status and metrics. Never any secret.

/healthz and /readyz answer on both listeners (simple probes need no second port); /status and
/metrics only on the operations listener (``confidp.web.listeners``): on the public one their
paths belong to the tenants' routing, like any other path, so they get the tenants' 404.
"""

from __future__ import annotations

import hmac
import time

from prometheus_client import CONTENT_TYPE_LATEST
from sanic import Blueprint, HTTPResponse, Request

from confidp.oauth.echo import quoted
from confidp.registry import FileStatus, Snapshot
from confidp.web import tenant_routes
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


def _authorized(request: Request) -> bool:
    token = request.app.ctx.settings.status_token
    if token is None:
        return True
    # a header that is not UTF-8 arrives with lone surrogates: back to its own bytes
    given = request.headers.get("authorization", "").encode(errors="surrogateescape")
    return hmac.compare_digest(given, f"Bearer {token.reveal()}".encode())


def _unauthorized() -> HTTPResponse:
    return json({"error": "unauthorized",
                 "error_description": "send the status token as Authorization: Bearer <token>"},
                status=401, headers={"WWW-Authenticate": 'Bearer realm="confidp-status"'})


def file_status(status: FileStatus) -> dict[str, object]:
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
    }


async def _gate(request: Request) -> HTTPResponse | None:
    """The response when ``request`` may not reach an operations-only endpoint: on the public
    listener, the tenants' routing (their 404); on the operations listener, 405 for a method
    other than GET and HEAD, or 401 without the status token. None when it may."""
    if not on_ops_listener(request):
        return await tenant_routes.dispatch(request)
    if request.method not in _READ:
        return json({"error": "method_not_allowed", "error_description": "Use GET or HEAD."},
                    status=405, headers={"Allow": ", ".join(PROBE_METHODS),
                                         "Cache-Control": "no-store"})
    if not _authorized(request):
        return _unauthorized()
    return None


@bp.route("/healthz", methods=PROBE_METHODS)
async def healthz(request: Request) -> HTTPResponse:
    return json({"status": "ok"}, headers={"Cache-Control": "no-store"})


@bp.route("/readyz", methods=PROBE_METHODS)
async def readyz(request: Request) -> HTTPResponse:
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


@bp.route("/status", methods=_ALL_METHODS)
async def status(request: Request) -> HTTPResponse:
    if (refused := await _gate(request)) is not None:
        return refused
    snapshot: Snapshot = request.app.ctx.registry.snapshot
    files = [file_status(s) for s in snapshot.files.values()]
    return json({
        "generation": snapshot.generation,
        "reloaded_at": _iso(snapshot.created_at),
        "themes": sorted(snapshot.themes),
        "serving": sum(1 for f in files if f["serving"]),
        "failing": sum(1 for f in files if f["errors"]),
        "tenants": files,
    }, headers={"Cache-Control": "no-store"})


@bp.route("/status/<name:str>", methods=_ALL_METHODS)
async def status_one(request: Request, name: str) -> HTTPResponse:
    if (refused := await _gate(request)) is not None:
        return refused
    snapshot: Snapshot = request.app.ctx.registry.snapshot
    for file in snapshot.files.values():
        if name in (file.source, file.tenant_id):
            return json({"generation": snapshot.generation, **file_status(file)},
                        headers={"Cache-Control": "no-store"})
    return json({"error": "not_found", "error_description": f"no tenant file {quoted(name)}"},
                status=404, headers={"Cache-Control": "no-store"})


@bp.route("/metrics", methods=_ALL_METHODS)
async def metrics(request: Request) -> HTTPResponse:
    if (refused := await _gate(request)) is not None:
        return refused
    return raw(request.app.ctx.metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
