"""Operator actions on the operations listener (never on the public one), for the CLI's
``confidp mfa reset`` and ``confidp sessions revoke`` against a server whose state lives in
its own memory: POST /admin/mfa/reset and POST /admin/sessions/revoke with a JSON body
``{"tenant": ..., "username": ...}`` (or ``"subject"``), authorised by the operator token
(``Authorization: Bearer <state>/ops.token``, confidp.ops_token)."""

from __future__ import annotations

import hmac
import json as jsonlib
from typing import Any

from sanic import Blueprint, HTTPResponse

from confidp.context import AppRequest
from confidp.mfa.cipher import EnrolmentUnreadable
from confidp.mfa.operator import UnknownPerson, reset_factors, revoke_sessions, subject_of
from confidp.model import Tenant
from confidp.web import tenant_routes
from confidp.web.errors import HttpError, MethodNotAllowed, error_response
from confidp.web.listeners import on_ops_listener
from confidp.web.responses import json

bp = Blueprint("ops_admin")
MAX_BODY = 4096


def _error(request: AppRequest, status: int, error: str, description: str,
           headers: dict[str, str] | None = None) -> HTTPResponse:
    return error_response(request, HttpError(status, error, description, headers or {}),
                          api=True)


async def _admitted(request: AppRequest) -> tuple[Tenant, str] | HTTPResponse:
    """The tenant and subject the call names, or the response refusing it."""
    if not on_ops_listener(request):
        return await tenant_routes.dispatch(request)
    if request.method != "POST":
        return error_response(request, MethodNotAllowed("POST", "Use POST."), api=True)
    token = request.app.ctx.ops_token
    if token is None:
        return _error(request, 503, "unavailable", "this server has no operator token (a "
                      "read-only state directory without ops.token): confidp state init "
                      "makes one")
    given = request.headers.get("authorization", "").encode(errors="surrogateescape")
    if not hmac.compare_digest(given, f"Bearer {token}".encode()):
        return _error(request, 401, "unauthorized", "send the operator token "
                      "(<state>/ops.token) as Authorization: Bearer <token>",
                      {"WWW-Authenticate": 'Bearer realm="confidp-admin"'})
    try:
        if len(request.body) > MAX_BODY:
            raise ValueError("too long")
        body: Any = jsonlib.loads(request.body or b"{}")
        tenant_id, username, subject = (body.get("tenant"), body.get("username"),
                                        body.get("subject"))
        if not isinstance(tenant_id, str) or not isinstance(username or subject, str):
            raise ValueError("names")
    except (ValueError, AttributeError):
        return _error(request, 400, "invalid_request", 'send {"tenant": ..., "username": ...} '
                      '(or "subject") as JSON')
    tenant = request.app.ctx.snapshot.tenant(tenant_id)
    if tenant is None:
        return _error(request, 404, "not_found", f"no tenant {tenant_id!r} is served")
    try:
        return tenant, subject_of(tenant, subject or username, is_subject=bool(subject))
    except UnknownPerson as exc:
        return _error(request, 404, "not_found", str(exc))


async def mfa_reset(request: AppRequest) -> HTTPResponse:
    admitted = await _admitted(request)
    if isinstance(admitted, HTTPResponse):
        return admitted
    tenant, subject = admitted
    try:
        removed = await reset_factors(request, request.app.ctx.enrolments, tenant, subject)
    except EnrolmentUnreadable as exc:
        return _error(request, 500, "unreadable", str(exc))
    return json({"tenant": tenant.id, "subject": subject, "removed": removed},
                headers={"Cache-Control": "no-store"})


async def sessions_revoke(request: AppRequest) -> HTTPResponse:
    admitted = await _admitted(request)
    if isinstance(admitted, HTTPResponse):
        return admitted
    tenant, subject = admitted
    ctx = request.app.ctx
    ended, revoked = await revoke_sessions(request, ctx.tokens, ctx.tenant_store(tenant),
                                           tenant, subject)
    return json({"tenant": tenant.id, "subject": subject, "sessions": ended,
                 "families": revoked}, headers={"Cache-Control": "no-store"})


bp.add_route(mfa_reset, "/admin/mfa/reset", methods=tenant_routes.METHODS)
bp.add_route(sessions_revoke, "/admin/sessions/revoke", methods=tenant_routes.METHODS)
