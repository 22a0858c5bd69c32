"""``--audit-log PATH`` with several workers sharing Redis, in the text log format: the events
go to the file as JSON lines and not to the log, a rotator that moves the file gets a new one
at the path from every worker, and the metrics every worker counts add up whichever worker
answers /metrics (issue 14, items 1-3)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_authorize import example
from tests.support import REPO, RedisServer, Server, free_port, write_tenant

pytestmark = pytest.mark.e2e
SECRET = "globex-billing-demo-secret"
WORKERS = 2


@pytest.fixture(scope="module")
def redis(redis_binary: str) -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, redis: RedisServer) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("audit-file")
    tenants = root / "tenants"
    tenants.mkdir()
    port = free_port()
    write_tenant(tenants, "globex.yaml", example("globex.yaml", port))
    audit_log = root / "audit.log"
    server = Server(tenants, REPO / "themes", root / "state", port, extra_args=(
        "--workers", str(WORKERS), "--store", redis.url, "--audit-log", str(audit_log),
        "--access-log"), env={"PYTHONUNBUFFERED": "1"})
    try:
        server.wait_ready(timeout=60)  # workers start slowly on a busy 2-core machine
        server.audit_log = audit_log  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()


def client_token(server: Server, request_id: str) -> None:
    """A client_credentials token, on a connection of its own (so any worker may take it)."""
    response = httpx.post(f"{server.base}/globex/token", auth=("billing", SECRET),
                          data={"grant_type": "client_credentials"},
                          headers={"X-Request-Id": request_id, "Connection": "close"})
    assert response.status_code == 200, response.text


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []


def issued_count(server: Server) -> float:
    text = httpx.get(f"{server.ops_base}/metrics", headers={"Connection": "close"}).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples
               if sample.name == "confidp_tokens_issued_total"
               and sample.labels == {"tenant": "globex", "grant_type": "client_credentials",
                                     "client": "billing"})


def test_events_go_to_the_file_as_json_lines_and_not_to_the_log(workers: Server) -> None:
    path: Path = workers.audit_log  # type: ignore[attr-defined]
    for number in range(6):
        client_token(workers, f"file-{number}")
    issued = [line for line in audit_lines(path) if line["event"] == "tokens.issued"]
    assert [line["request_id"] for line in issued] == [f"file-{n}" for n in range(6)]
    assert all(line["client_id"] == "billing" and line["subject"] == "billing"
               and line["grant_type"] == "client_credentials" and line["refresh"] is False
               for line in issued)
    reloads = [line for line in audit_lines(path) if line["event"] == "tenant.reload"]
    assert len(reloads) == WORKERS  # each worker loads the tenants
    log = workers.log()
    assert "tokens.issued" not in log
    access = [line for line in log.splitlines() if "sanic.access" in line]
    assert any(line.endswith(" [file-0]") for line in access)  # the text format's request id
    assert not any(line.startswith("{") for line in log.splitlines())


def test_a_moved_file_is_reopened_by_every_worker(workers: Server) -> None:
    path: Path = workers.audit_log  # type: ignore[attr-defined]
    os.replace(path, path.with_name("audit.log.1"))  # what logrotate does
    for number in range(12):
        client_token(workers, f"rotated-{number}")
    now = [line["request_id"] for line in audit_lines(path) if line["event"] == "tokens.issued"]
    assert now == [f"rotated-{n}" for n in range(12)]
    before = audit_lines(path.with_name("audit.log.1"))
    assert not any(line["request_id"].startswith("rotated-") for line in before
                   if line["request_id"])


def test_metrics_add_up_over_the_workers(workers: Server) -> None:
    start = issued_count(workers)
    for number in range(10):
        client_token(workers, f"metrics-{number}")
    # whichever worker answers, the sum over both
    assert {issued_count(workers) - start for _ in range(8)} == {10}
