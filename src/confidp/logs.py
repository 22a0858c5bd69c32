"""Where and how confidp logs: ``--log-format text|json`` for every line, confidp's own and
Sanic's (``sanic.root``, ``sanic.error``, ``sanic.access``, ``sanic.server``,
``sanic.websockets``), and where the audit events (``confidp.audit``) go.

JSON lines are one object per line with ``time`` (ISO 8601, UTC, milliseconds), ``level``,
``logger`` and ``message``, plus ``request_id`` when the line was written for a request,
``exception`` for a traceback, and an access line's own fields (``method``, ``path``,
``status``, ``bytes``, ``duration_ms``, ``ip``). An audit event in the log, in either format,
is one JSON line: the event's own object with ``level`` and ``logger`` added.

Audit events go to the log unless ``--audit-log PATH`` names a file: then each is one JSON
line appended to it (``O_APPEND``, so several workers' lines never interleave within a line)
and not in the log. The file is opened by a ``WatchedFileHandler``: when an external rotator
(logrotate without ``copytruncate``) renames or removes it, the next event reopens a new file
at the path, in every worker, without a signal. ``--audit-log off`` writes no events (they are
still counted in the metrics).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Final

TEXT: Final = "text"
JSON: Final = "json"
FORMATS: Final = (TEXT, JSON)
AUDIT_LOGGER: Final = "confidp.audit"
SANIC_LOGGERS: Final = ("sanic.root", "sanic.error", "sanic.access", "sanic.server",
                        "sanic.websockets")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# the id of the request being handled in this task (confidp.web.request_id sets it)
current_request_id: ContextVar[str | None] = ContextVar("confidp_request_id", default=None)


def _iso(moment: float) -> str:
    millis = int(moment * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        audit = getattr(record, "audit", None)
        if isinstance(audit, dict):
            line: dict[str, Any] = {"level": record.levelname, "logger": record.name, **audit}
            return json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)
        line = {"time": _iso(record.created), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            line.update(access)
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            line["request_id"] = request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)


_JSON = JsonFormatter()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, as confidp always wrote; a request's lines end with
    ``[request_id]``. Audit events are JSON lines in this format too."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(getattr(record, "audit", None), dict):
            return _JSON.format(record)  # an audit event is a JSON line in either format
        text = super().format(record)
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            text += f" [{request_id}]"
        return text


class AuditFileFormatter(logging.Formatter):
    """The audit file: the event's JSON object and nothing else, one per line."""

    def format(self, record: logging.LogRecord) -> str:
        audit = getattr(record, "audit", None)
        return json.dumps(audit if isinstance(audit, dict) else {"message": record.getMessage()},
                          ensure_ascii=False, separators=(",", ":"), default=str)


def formatter(log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: use text or json")
    return JsonFormatter() if log_format == JSON else TextFormatter()


def sanic_config(log_format: str) -> dict[str, Any]:
    """Sanic's logging configuration (``Sanic(log_config=...)``): its loggers, streams and
    levels as Sanic's defaults have them, in confidp's format."""
    chosen = JsonFormatter if log_format == JSON else TextFormatter
    factory = f"{__name__}.{chosen.__name__}"
    handlers = {
        "console": {"class": "logging.StreamHandler", "formatter": "confidp",
                    "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "confidp",
                          "stream": "ext://sys.stderr"},
    }
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"confidp": {"()": factory}},
        "handlers": handlers,
        "loggers": {
            "sanic.root": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "sanic.error": {"level": "INFO", "handlers": ["error_console"],
                            "propagate": False},
            "sanic.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "sanic.server": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "sanic.websockets": {"level": "INFO", "handlers": ["console"],
                                 "propagate": False},
        },
    }


def configure(level: str, log_format: str = TEXT, *, audit: bool = True,
              audit_log: Path | None = None) -> None:
    """confidp's own loggers, in every process: ``confidp.*`` to stderr in ``log_format``;
    ``confidp.audit`` there too, or to ``audit_log``, or nowhere (``audit=False``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    logger = logging.getLogger("confidp")
    for old in logger.handlers:
        old.close()
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    audit_logger = logging.getLogger(AUDIT_LOGGER)
    for old in audit_logger.handlers:
        old.close()
    audit_logger.handlers.clear()
    audit_logger.setLevel(logging.INFO)  # events are written whatever --log-level says
    audit_logger.disabled = not audit
    if audit_log is not None:
        file_handler = logging.handlers.WatchedFileHandler(audit_log, encoding="utf-8")
        file_handler.setFormatter(AuditFileFormatter())
        audit_logger.handlers.append(file_handler)
        audit_logger.propagate = False
    else:
        audit_logger.propagate = True


def audit_log_problem(path: Path) -> str | None:
    """Why ``--audit-log`` cannot write to ``path`` (checked once at start), or None."""
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        return f"cannot open the audit log {path}: {exc.strerror}"
    return None
