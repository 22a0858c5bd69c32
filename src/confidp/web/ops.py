"""Operator endpoints: liveness, readiness, reload status and metrics. Never any secret."""

from __future__ import annotations

import hmac
import time

from prometheus_client import CONTENT_TYPE_LATEST
from sanic import Blueprint, HTTPResponse, Request

from confidp.oauth.echo import quoted
from confidp.registry import FileStatus, Snapshot
from confidp.web.responses import json, raw

bp = Blueprint("ops")


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    millis = int(moment * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"


def _authorized(request: Request) -> bool:
    token = request.app.ctx.settings.status_token
    if token is None:
        return True
    given = request.headers.get("authorization", "")
    expected = f"Bearer {token.reveal()}"
    return hmac.compare_digest(given.encode(), expected.encode())


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


@bp.get("/healthz")
async def healthz(request: Request) -> HTTPResponse:
    return json({"status": "ok"}, headers={"Cache-Control": "no-store"})


@bp.get("/readyz")
async def readyz(request: Request) -> HTTPResponse:
    registry = request.app.ctx.registry
    if registry is None or not request.app.ctx.watching:
        return json({"status": "loading"}, status=503, headers={"Cache-Control": "no-store"})
    if not await request.app.ctx.store.ping():
        return json({"status": "store unavailable"}, status=503,
                    headers={"Cache-Control": "no-store"})
    return json({"status": "ready", "generation": registry.snapshot.generation},
                headers={"Cache-Control": "no-store"})


@bp.get("/status")
async def status(request: Request) -> HTTPResponse:
    if not _authorized(request):
        return _unauthorized()
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


@bp.get("/status/<name:str>")
async def status_one(request: Request, name: str) -> HTTPResponse:
    if not _authorized(request):
        return _unauthorized()
    snapshot: Snapshot = request.app.ctx.registry.snapshot
    for file in snapshot.files.values():
        if name in (file.source, file.tenant_id):
            return json({"generation": snapshot.generation, **file_status(file)},
                        headers={"Cache-Control": "no-store"})
    return json({"error": "not_found", "error_description": f"no tenant file {quoted(name)}"},
                status=404, headers={"Cache-Control": "no-store"})


@bp.get("/metrics")
async def metrics(request: Request) -> HTTPResponse:
    if not _authorized(request):
        return _unauthorized()
    return raw(request.app.ctx.metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
