"""Audit events: one structured record for every security-relevant outcome (who signed in,
who failed and why, what was issued, revoked or reloaded), as OWASP's Logging Cheat Sheet and
NIST SP 800-92 ask of an authentication service: when, where (tenant, client IP, user agent,
request id), who (subject, client, connector), what (the event) and the outcome.

Call ``emit`` where the outcome is decided::

    audit.emit(request, audit.SIGNIN_FAILED, tenant=tenant, reason=audit.WRONG_PASSWORD,
               username=username, connector=source.id)

``request`` gives the client IP (``X-Forwarded-For`` only under ``--trust-proxy``: Sanic's
``remote_addr``), the user agent and the request id (``confidp.web.request_id``); a reload
has no request: pass the app's ``Context`` instead. Events never carry a secret: no password,
no token or code value (a token's ``jti`` and a code's digest prefix identify them).

The names (``EVENTS``) and the fields (``BASE_FIELDS`` + ``EVENT_FIELDS``) are a stable
interface, documented in the README ("Operating confidp") and pinned by ``tests/test_audit.py``:
add to them, never rename. Each event is written as one JSON object per line to the
``confidp.audit`` logger, which ``confidp.logs`` sends to the log (stderr) or to the file of
``--audit-log``. Sign-in and token events also count in the metrics (``confidp.metrics``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Union

if TYPE_CHECKING:  # not at run time: sources and grants use the names without Sanic
    from confidp.context import AppRequest, Context
    from confidp.model import Tenant

LOGGER_NAME: Final = "confidp.audit"
log = logging.getLogger(LOGGER_NAME)

# --- event names -------------------------------------------------------------------------
SIGNIN_SUCCEEDED: Final = "signin.succeeded"  # an authentication step passed
SIGNIN_FAILED: Final = "signin.failed"  # with ``reason`` (one of REASONS)
SIGNIN_LOCKED_OUT: Final = "signin.locked_out"  # the login throttle refused an attempt
FACTOR_ENROLLED: Final = "factor.enrolled"  # with ``factor`` (totp, webauthn, recovery_codes)
FACTOR_REMOVED: Final = "factor.removed"  # with ``factor``
CONSENT_GRANTED: Final = "consent.granted"  # with ``scope``
CONSENT_DENIED: Final = "consent.denied"  # with ``scope``
CODE_ISSUED: Final = "code.issued"  # with ``scope``, ``code_id``
TOKENS_ISSUED: Final = "tokens.issued"  # with ``grant_type``, ``scope``, ``jti``, ``refresh``
REFRESH_REUSE_DETECTED: Final = "refresh.reuse_detected"  # the family is revoked with it
TOKEN_REVOKED: Final = "token.revoked"  # noqa: S105  # RFC 7009: ``token_type``, ``jti``
LOGOUT: Final = "logout"  # RP-initiated logout ended a session
TENANT_RELOADED: Final = "tenant.reload"  # with ``outcome``, ``file``, ``detail``

EVENTS: Final = (SIGNIN_SUCCEEDED, SIGNIN_FAILED, SIGNIN_LOCKED_OUT, FACTOR_ENROLLED,
                 FACTOR_REMOVED, CONSENT_GRANTED, CONSENT_DENIED, CODE_ISSUED, TOKENS_ISSUED,
                 REFRESH_REUSE_DETECTED, TOKEN_REVOKED, LOGOUT, TENANT_RELOADED)

# --- sign-in failure reasons (``reason`` of SIGNIN_FAILED) --------------------------------
UNKNOWN_USER: Final = "unknown_user"
WRONG_PASSWORD: Final = "wrong_password"  # noqa: S105  # an event name
DISABLED: Final = "disabled"
THROTTLED: Final = "throttled"  # the attempt was refused by the throttle (SIGNIN_LOCKED_OUT)
UPSTREAM_ERROR: Final = "upstream_error"  # a connector's upstream failed or refused
FACTOR_FAILED: Final = "factor_failed"  # a second factor was wrong
NOT_ALLOWED: Final = "not_allowed"  # authenticated, but a policy refuses (group, domain)
REASONS: Final = (UNKNOWN_USER, WRONG_PASSWORD, DISABLED, THROTTLED, UPSTREAM_ERROR,
                  FACTOR_FAILED, NOT_ALLOWED)

# --- token types (``token_type`` of TOKEN_REVOKED: RFC 7009 §2.1's token type hints) --------
ACCESS_TOKEN: Final = "access_token"  # noqa: S105  # a type name, not a token
REFRESH_TOKEN: Final = "refresh_token"  # noqa: S105  # a type name, not a token

# --- fields ------------------------------------------------------------------------------
# every event has these, null when unknown
BASE_FIELDS: Final = ("time", "event", "tenant", "client_id", "subject", "connector", "ip",
                      "user_agent", "request_id")
# what each event adds (optional ones may be absent)
EVENT_FIELDS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({
    SIGNIN_SUCCEEDED: ("username", "amr"),
    # detail: a connector's own word for what failed upstream (wrong_nonce, timeout, ...)
    SIGNIN_FAILED: ("reason", "username", "factor", "detail"),
    SIGNIN_LOCKED_OUT: ("reason", "username", "retry_after"),
    FACTOR_ENROLLED: ("factor",),
    FACTOR_REMOVED: ("factor",),
    CONSENT_GRANTED: ("scope",),
    CONSENT_DENIED: ("scope",),
    CODE_ISSUED: ("scope", "code_id"),
    TOKENS_ISSUED: ("grant_type", "scope", "jti", "refresh"),
    REFRESH_REUSE_DETECTED: ("family_revoked",),
    TOKEN_REVOKED: ("token_type", "jti"),
    LOGOUT: (),
    TENANT_RELOADED: ("outcome", "file", "detail"),
})
MAX_TEXT = 512  # longer values (a hostile user agent or username) are cut


class AuditEvent(dict[str, Any]):
    """One event as written: a JSON object (``BASE_FIELDS`` first)."""


Source = Union["AppRequest", "Context", None]  # where an outcome was decided


def _request_of(source: Source) -> AppRequest | None:
    if source is not None and hasattr(source, "app"):
        return source  # type: ignore[return-value]  # a request (a Context has no app)
    return None


def _context_of(source: Source) -> Context | None:
    request = _request_of(source)
    if request is not None:
        return request.app.ctx
    return source  # type: ignore[return-value]  # a Context, or None


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + "…"
    return value


def _iso(moment: float) -> str:
    millis = int(moment * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"


def request_id(request: AppRequest | None) -> str | None:
    """The request id ``confidp.web.request_id`` gave ``request``."""
    if request is None:
        return None
    return getattr(request.ctx, "request_id", None)


def build(source: Source, event: str, *, tenant: Tenant | str | None = None,
          client_id: str | None = None, subject: str | None = None,
          connector: str | None = None, now: float | None = None,
          **fields: Any) -> AuditEvent:
    """The event record (see ``emit``)."""
    if event not in EVENT_FIELDS:
        raise ValueError(f"unknown audit event {event!r}: add it to confidp.audit.EVENTS")
    unknown = set(fields) - set(EVENT_FIELDS[event])
    if unknown:
        raise ValueError(f"audit event {event!r} has no fields {sorted(unknown)}: add them "
                         "to confidp.audit.EVENT_FIELDS (and the README's table)")
    request = _request_of(source)
    context = _context_of(source)
    if now is None:
        now = context.clock() if context is not None else time.time()
    record = AuditEvent(
        time=_iso(now), event=event,
        tenant=tenant if isinstance(tenant, str) or tenant is None else tenant.id,
        client_id=_cut(client_id), subject=_cut(subject), connector=_cut(connector),
        ip=str(request.remote_addr or request.ip) if request is not None else None,
        user_agent=_cut(request.headers.get("user-agent")) if request is not None else None,
        request_id=request_id(request))
    for name, value in fields.items():
        if value is not None:
            record[name] = _cut(value)
    return record


def emit(source: Source, event: str, *, tenant: Tenant | str | None = None,
         client_id: str | None = None, subject: str | None = None,
         connector: str | None = None, **fields: Any) -> AuditEvent:
    """Write one audit event and count it in the metrics. ``source`` is the request the
    outcome was decided in (or the app's ``Context`` when there is none, e.g. a reload);
    ``fields`` are the event's own (``EVENT_FIELDS``; None values are left out). An unknown
    event or field is a programming error: ValueError."""
    record = build(source, event, tenant=tenant, client_id=client_id, subject=subject,
                   connector=connector, **fields)
    context = _context_of(source)
    if context is not None:
        context.metrics.count_event(record)
    if context is None or context.settings.audit:
        log.info("%s", _Line(record), extra={"audit": record})
    return record


class _Line:
    """The event as its JSON line, encoded only if a handler formats it."""

    __slots__ = ("record",)

    def __init__(self, record: AuditEvent) -> None:
        self.record = record

    def __str__(self) -> str:
        return json.dumps(self.record, ensure_ascii=False, separators=(",", ":"))
