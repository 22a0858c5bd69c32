"""OpenTelemetry tracing (issue 14, item 6) in a real server process: configured only by the
standard OTEL_* variables, here the SDK's console exporter (``OTEL_TRACES_EXPORTER=console``),
whose spans are read back from the server's output. A sign-in gives a SERVER span per request
with the route, the tenant and the outcome, continuing the caller's ``traceparent``, and child
spans for the store and the password hashing. The upstream span (``Metrics.upstream``) is
checked in-process with the SDK's in-memory exporter."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.flow import authorize_url, location, seed_params, submit_login
from tests.e2e.test_authorize import example
from tests.support import REPO, Server, free_port, running_server, wait_until, write_tenant

pytestmark = pytest.mark.e2e


def _sdk_or_skip() -> None:
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("the otel extra is missing in CI: make installs '.[test,otel]'")
        pytest.skip("opentelemetry-sdk is not installed (pip install -e '.[otel]'): tracing "
                    "tests NOT run")


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _sdk_or_skip()
    root = tmp_path_factory.mktemp("tracing")
    tenants = root / "tenants"
    tenants.mkdir()
    port = free_port()
    write_tenant(tenants, "acme.yaml", example("acme.yaml", port))
    with running_server(tenants, REPO / "themes", root / "state", port, env={
            "OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "confidp-test",
            "OTEL_BSP_SCHEDULE_DELAY": "50", "PYTHONUNBUFFERED": "1"}) as server:
        yield server


def spans(server: Server) -> list[dict[str, Any]]:
    found = []
    for line in server.log().splitlines():
        if line.startswith("{") and '"context"' in line:
            found.append(json.loads(line))
    return found


def test_a_sign_in_is_traced_request_by_request(traced: Server) -> None:
    trace_id = secrets.token_hex(16)
    parent = secrets.token_hex(8)
    headers = {"traceparent": f"00-{trace_id}-{parent}-01"}
    with httpx.Client(base_url=traced.base, follow_redirects=False, headers=headers,
                      timeout=10) as client:
        login = location(client.get(authorize_url("/acme", seed_params())))
        assert location(submit_login(client, login, "alice", "wonderland"))
        assert client.get("/acme/nowhere").status_code == 404

    def ours() -> list[dict[str, Any]]:
        found = [span for span in spans(traced)
                 if span["context"]["trace_id"] == f"0x{trace_id}"]
        return found if len([s for s in found if s["kind"] == "SpanKind.SERVER"]) >= 4 \
            else []
    found = wait_until(ours)
    server_spans = {span["name"]: span for span in found if span["kind"] == "SpanKind.SERVER"}
    assert {"GET /authorize", "GET /login", "POST /login", "GET unrouted"} <= set(server_spans)
    post = server_spans["POST /login"]
    assert post["parent_id"] == f"0x{parent}"  # the caller's traceparent continued
    assert post["attributes"]["http.route"] == "/login"
    assert post["attributes"]["confidp.tenant"] == "acme"
    assert post["attributes"]["http.response.status_code"] == 303
    assert post["attributes"]["confidp.outcome"] == "ok"
    assert post["resource"]["attributes"]["service.name"] == "confidp-test"
    children = [span for span in found if span["parent_id"] == post["context"]["span_id"]]
    names = {span["name"] for span in children}
    assert "password.verify" in names
    assert {"store.hit", "store.refund", "store.claim"} & names
    assert server_spans["GET unrouted"]["attributes"]["confidp.outcome"] == "client_error"
    assert "wonderland" not in traced.log()
    audit = [json.loads(line) for line in traced.log().splitlines()
             if line.startswith('{"level":"INFO","logger":"confidp.audit"')]
    assert "signin.succeeded" in {event["event"] for event in audit}  # JSON in the text log


def test_an_upstream_call_is_a_child_span() -> None:
    _sdk_or_skip()
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from confidp import tracing
    from confidp.metrics import Metrics

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    saved = dict(tracing._state)
    tracing._state["tracer"] = provider.get_tracer("test")
    try:
        metrics = Metrics()
        with tracing.span("request"), metrics.upstream("acme", "google"):
            pass
        with pytest.raises(TimeoutError), metrics.upstream("acme", "google"):
            raise TimeoutError
    finally:
        tracing._state.clear()
        tracing._state.update(saved)
    finished = exporter.get_finished_spans()
    [request] = [span for span in finished if span.name == "request"]
    upstream, failed = [span for span in finished if span.name == "upstream google"]
    assert upstream.parent is not None and request.context is not None
    assert upstream.parent.span_id == request.context.span_id
    assert failed.parent is None and not failed.status.is_ok  # the exception recorded
    assert upstream.attributes is not None
    assert upstream.attributes["confidp.connector"] == "google"
    assert metrics.upstream_requests.labels("acme", "google", "ok")._value.get() == 1
    assert metrics.upstream_requests.labels("acme", "google", "timeout")._value.get() == 1


def test_tracing_is_off_without_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from confidp import tracing

    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    assert tracing._exporters() == []
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert tracing._exporters() == ["otlp"]
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert tracing._exporters() == []
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console,otlp")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing._exporters() == []
