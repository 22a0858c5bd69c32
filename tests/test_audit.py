"""The audit events' names and fields are a stable interface (issue 14, item 1): pinned here,
and the README's tables say exactly the same. Plus the pure rules around them: what an event
refuses, how values are cut, request ids, bounded metric labels and the log formatters."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from confidp import audit, logs
from confidp.metrics import MAX_LABEL_VALUES, OTHER, Metrics
from confidp.web.listeners import redacted_query
from confidp.web.observe import MAX_REQUEST_ID, valid_request_id
from tests.support import REPO

PINNED = {
    "signin.succeeded": ("username", "amr"),
    "signin.failed": ("reason", "username", "factor", "detail"),
    "signin.locked_out": ("reason", "username", "retry_after"),
    "factor.enrolled": ("factor",),
    "factor.removed": ("factor",),
    "consent.granted": ("scope",),
    "consent.denied": ("scope",),
    "code.issued": ("scope", "code_id"),
    "tokens.issued": ("grant_type", "scope", "jti", "refresh"),
    "refresh.reuse_detected": ("family_revoked",),
    "token.revoked": ("token_type", "jti"),
    "logout": (),
    "tenant.reload": ("outcome", "file", "detail"),
}
PINNED_BASE = ("time", "event", "tenant", "client_id", "subject", "connector", "ip",
               "user_agent", "request_id")
PINNED_REASONS = ("unknown_user", "wrong_password", "disabled", "throttled", "upstream_error",
                  "factor_failed", "not_allowed")


def test_the_names_and_fields_are_pinned() -> None:
    assert dict(audit.EVENT_FIELDS) == PINNED
    assert tuple(PINNED) == audit.EVENTS
    assert audit.BASE_FIELDS == PINNED_BASE
    assert audit.REASONS == PINNED_REASONS


def _table_after(text: str, heading_cell: str) -> list[list[str]]:
    start = text.index(f"| {heading_cell} |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_the_readme_tables_say_the_same() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Audit events"):readme.index("### Metrics")]
    events = {row[0].strip("`"): tuple(re.findall(r"`([a-z_]+)`", row[2]))
              for row in _table_after(section, "event")}
    assert events == PINNED
    base = [row[0].strip("`") for row in _table_after(section, "field")]
    assert tuple(base) == PINNED_BASE
    failed = next(row for row in _table_after(section, "event") if row[0] == "`signin.failed`")
    assert tuple(re.findall(r"`([a-z_]+)`", failed[1]))[1:] == PINNED_REASONS


def test_an_unknown_event_or_field_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown audit event"):
        audit.build(None, "signin.maybe")
    with pytest.raises(ValueError, match="password"):
        audit.build(None, audit.SIGNIN_FAILED, password="hunter2")


def test_an_event_without_a_request_has_every_base_field() -> None:
    event = audit.build(None, audit.TENANT_RELOADED, tenant="acme", outcome="added",
                        file="acme.yaml", detail=None, now=0.5)
    assert list(event)[:len(PINNED_BASE)] == list(PINNED_BASE)
    assert event["time"] == "1970-01-01T00:00:00.500Z"
    assert event["ip"] is None and event["request_id"] is None
    assert "detail" not in event  # None values of an event's own fields are left out


def test_long_values_are_cut() -> None:
    event = audit.build(None, audit.SIGNIN_FAILED, reason=audit.UNKNOWN_USER,
                        username="x" * 10_000, client_id="c" * 10_000)
    assert len(event["username"]) == audit.MAX_TEXT + 1
    assert len(event["client_id"]) == audit.MAX_TEXT + 1


@pytest.mark.parametrize("value", ["abc", "4bf92f35-77b3-4da6", "a" * MAX_REQUEST_ID,
                                   "trace:1/2+3=4@x~y_z.w"])
def test_safe_request_ids(value: str) -> None:
    assert valid_request_id(value)


@pytest.mark.parametrize("value", [None, "", "a" * (MAX_REQUEST_ID + 1), "a b", "a\nb",
                                   '"quoted"', "<script>", "ünïcode", "a;b", "a\\b"])
def test_unsafe_request_ids(value: str | None) -> None:
    assert not valid_request_id(value)


def test_label_values_are_bounded() -> None:
    metrics = Metrics()
    for number in range(MAX_LABEL_VALUES + 5):
        metrics.count_event({"event": "signin.failed", "tenant": f"t{number}",
                             "reason": "wrong_password"})
    text = metrics.exposition().decode()
    assert f'tenant="t{MAX_LABEL_VALUES - 1}"' in text
    assert f'tenant="t{MAX_LABEL_VALUES}"' not in text
    assert f'confidp_signins_total{{outcome="wrong_password",tenant="{OTHER}"}} 5.0' in text


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("confidp.web", logging.ERROR, __file__, 1, "store %s", ("down",),
                               None)
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_the_json_formatter() -> None:
    line = json.loads(logs.JsonFormatter().format(_record(request_id="r-1")))
    assert line["level"] == "ERROR" and line["logger"] == "confidp.web"
    assert line["message"] == "store down" and line["request_id"] == "r-1"
    assert line["time"].endswith("Z")
    event = audit.build(None, audit.LOGOUT, tenant="acme", now=0.0)
    line = json.loads(logs.JsonFormatter().format(_record(audit=dict(event))))
    assert line == {"level": "ERROR", "logger": "confidp.web", **event}


def test_the_text_formatter_names_the_request() -> None:
    text = logs.TextFormatter().format(_record(request_id="r-2"))
    assert text.endswith("ERROR confidp.web: store down [r-2]")


def test_an_audit_event_is_a_json_line_in_the_text_format_too() -> None:
    event = audit.build(None, audit.LOGOUT, tenant="acme", now=0.0)
    text = logs.TextFormatter().format(_record(audit=dict(event), request_id="r-3"))
    assert json.loads(text) == {"level": "ERROR", "logger": "confidp.web", **event}


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text or json"):
        logs.formatter("xml")


def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(REPO / "tenants"),
         "--state-dir", str(tmp_path / "state"), "--port", "1", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def test_serve_refuses_an_audit_log_it_cannot_write(tmp_path: Path) -> None:
    target = tmp_path / "no-such-directory" / "audit.log"
    done = _serve(tmp_path, "--audit-log", str(target))
    assert done.returncode == 2
    assert done.stderr == (f"confidp: cannot open the audit log {target}: No such file or "
                           "directory\n")
    assert not (tmp_path / "state").exists()


def test_serve_refuses_an_unknown_log_format(tmp_path: Path) -> None:
    done = _serve(tmp_path, env={"CONFIDP_LOG_FORMAT": "xml"})
    assert (done.returncode, done.stderr) == (
        2, "confidp: the log format must be text or json, not 'xml'\n")
    flag = _serve(tmp_path, "--log-format", "yaml")
    assert flag.returncode == 2 and "invalid choice: 'yaml'" in flag.stderr


@pytest.mark.parametrize(("query", "shown"), [
    ("", ""), ("code=abc&state=xyz", "code=*&state=*"), ("flag", "flag"),
    ("a=1&&b", "a=*&b"), ("token=" + "x" * 5000, "token=*")])
def test_the_access_log_shows_query_names_only(query: str, shown: str) -> None:
    assert redacted_query(query) == shown


def test_a_long_query_is_cut() -> None:
    assert len(redacted_query("&".join(f"p{n}=v" for n in range(500)))) == 257
