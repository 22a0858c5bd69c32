"""Prometheus metrics. One registry per app (on ``app.ctx``), never module-level state.

With several workers each process counts its own reloads (every worker reloads every change),
and /metrics, answered by whichever worker the connection reached, must still show one
consistent set of figures: ``confidp serve --workers N`` gives the workers a fresh directory
in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, read when a worker
starts) and /metrics adds up every worker's files there. Counters and histograms are then
the sum over workers; the tenants gauge is the value a worker set last.

Label values are bounded, so no client can grow the series without limit (Prometheus's
"Instrumentation" guide: do not use unbounded label values): tenants and clients are those of
the tenant files (a value comes from a record only after the flow found its tenant and
client), HTTP routes are route templates (``/token``, ``/assets/*``, ``unrouted``), never raw
paths, methods outside the routed ones are ``other``; and every label keeps at most
``MAX_LABEL_VALUES`` values per process, later ones counted as ``other``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from confidp import tracing

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
MAX_LABEL_VALUES: Final = 1000
OTHER: Final = "other"
NONE: Final = "none"  # no value (e.g. a sign-in without a client yet)

# seconds: sub-millisecond store calls to multi-second argon2 under load or slow upstreams
LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                          1.0, 2.5, 5.0, 10.0)

# audit event -> the outcome label of confidp_signins_total
_SIGNIN_OUTCOMES: Final[Mapping[str, str]] = {
    "signin.succeeded": "success", "signin.locked_out": "locked_out"}


class _Bounded:
    """The values a label has taken in this process, at most ``limit``."""

    __slots__ = ("limit", "seen")

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if not value:
            return NONE
        if value in self.seen:
            return value
        if len(self.seen) >= self.limit:
            return OTHER
        self.seen.add(value)
        return value


class Metrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry(auto_describe=True)
        self.reloads = Counter(
            "confidp_tenant_reloads", "Tenant file reload outcomes", ["outcome"],
            registry=registry)
        self.tenants = Gauge(
            "confidp_tenants", "Tenant files by state: serving the current file, serving an "
            "older version because the current file is invalid, or not served",
            ["state"], registry=registry, multiprocess_mode="mostrecent")
        self.reload_seconds = Histogram(
            "confidp_reload_duration_seconds", "Time to rescan and rebuild the snapshot",
            registry=registry, buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5))
        self.signins = Counter(
            "confidp_signins", "Sign-in attempts by tenant and outcome (success, locked_out, "
            "or the failure reason of the signin.failed audit event)",
            ["tenant", "outcome"], registry=registry)
        self.tokens = Counter(
            "confidp_tokens_issued", "Token responses by tenant, grant type and client",
            ["tenant", "grant_type", "client"], registry=registry)
        self.refresh_reuse = Counter(
            "confidp_refresh_reuse_detected", "Rotated refresh tokens presented again (their "
            "family is revoked)", ["tenant"], registry=registry)
        self.store_seconds = Histogram(
            "confidp_store_operation_duration_seconds", "Store calls by operation, failed "
            "ones included", ["operation"], registry=registry, buckets=LATENCY_BUCKETS)
        self.store_errors = Counter(
            "confidp_store_errors", "Store calls that failed (the store unreachable or too "
            "slow), by operation", ["operation"], registry=registry)
        self.upstream_requests = Counter(
            "confidp_upstream_requests", "Requests to an upstream identity source (a "
            "connector: OpenID provider, OAuth 2.0 server, LDAP directory) by outcome "
            "(ok, error, timeout)", ["tenant", "connector", "outcome"], registry=registry)
        self.upstream_seconds = Histogram(
            "confidp_upstream_request_duration_seconds", "Time of requests to an upstream "
            "identity source", ["tenant", "connector"], registry=registry,
            buckets=LATENCY_BUCKETS)
        self.http_seconds = Histogram(
            "confidp_http_request_duration_seconds", "HTTP requests by route template, "
            "method and status", ["route", "method", "status"], registry=registry,
            buckets=LATENCY_BUCKETS)
        self._tenant = _Bounded()
        self._client = _Bounded()
        self._connector = _Bounded()
        self._route = _Bounded(200)
        self._reason = _Bounded(50)

    # --- what the code reports -----------------------------------------------------------
    def count_event(self, record: Mapping[str, Any]) -> None:
        """Count an audit event (``confidp.audit.emit``) in the metrics it belongs to."""
        event = record["event"]
        tenant = self._tenant(record.get("tenant"))
        if event == "signin.failed":
            self.signins.labels(tenant, self._reason(record.get("reason"))).inc()
        elif event in _SIGNIN_OUTCOMES:
            self.signins.labels(tenant, _SIGNIN_OUTCOMES[event]).inc()
        elif event == "tokens.issued":
            self.tokens.labels(tenant, self._reason(record.get("grant_type")),
                               self._client(record.get("client_id"))).inc()
        elif event == "refresh.reuse_detected":
            self.refresh_reuse.labels(tenant).inc()

    def observe_store(self, operation: str, seconds: float, failed: bool) -> None:
        self.store_seconds.labels(operation).observe(seconds)
        if failed:
            self.store_errors.labels(operation).inc()

    @contextmanager
    def upstream(self, tenant: str, connector: str) -> Iterator[None]:
        """Time a request to an upstream identity source and count its outcome: ``ok``, or
        ``timeout`` (a ``TimeoutError``) or ``error`` (any other exception, raised again);
        with tracing on, it is an ``upstream <connector>`` span::

            with ctx.metrics.upstream(tenant.id, connector.id):
                response = await client.get(url)
        """
        tenant_label, connector_label = self._tenant(tenant), self._connector(connector)
        start = time.perf_counter()
        outcome = "error"
        try:
            with tracing.span(f"upstream {connector_label}",
                              {"confidp.tenant": tenant_label,
                               "confidp.connector": connector_label}):
                yield
            outcome = "ok"
        except TimeoutError:
            outcome = "timeout"
            raise
        finally:
            self.upstream_seconds.labels(tenant_label, connector_label).observe(
                time.perf_counter() - start)
            self.upstream_requests.labels(tenant_label, connector_label, outcome).inc()

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        self.http_seconds.labels(self._route(route), method, str(status)).observe(seconds)

    def exposition(self) -> bytes:
        """The text format: this process's figures, or every worker's added up."""
        directory = os.environ.get(MULTIPROCESS_DIR)
        if not directory:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]  # unannotated
        return generate_latest(registry)
