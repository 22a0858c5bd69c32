"""Prometheus metrics. One registry per app (on ``app.ctx``), never module-level state.

With several workers each process counts its own reloads (every worker reloads every change),
and /metrics, answered by whichever worker the connection reached, must still show one
consistent set of figures: ``confidp serve --workers N`` gives the workers a fresh directory
in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, read when a worker
starts) and /metrics adds up every worker's files there. Counters and the histogram are then
the sum over workers; the tenants gauge is the value a worker set last.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.reloads = Counter(
            "confidp_tenant_reloads", "Tenant file reload outcomes", ["outcome"],
            registry=self.registry)
        self.tenants = Gauge(
            "confidp_tenants", "Tenant files by state: serving the current file, serving an "
            "older version because the current file is invalid, or not served",
            ["state"], registry=self.registry, multiprocess_mode="mostrecent")
        self.reload_seconds = Histogram(
            "confidp_reload_duration_seconds", "Time to rescan and rebuild the snapshot",
            registry=self.registry, buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5))
        # confidp.outbound: requests to upstream identity providers, per connector
        self.upstream_requests = Counter(
            "confidp_upstream_requests", "Requests to upstream identity providers by tenant, "
            "connector, what they were for (discovery, jwks, token, userinfo, api) and outcome "
            "(ok, or why they failed: timeout, unreachable, invalid_response, ...)",
            ["tenant", "connector", "endpoint", "outcome"], registry=self.registry)
        self.upstream_seconds = Histogram(
            "confidp_upstream_request_duration_seconds", "Time of one request to an upstream "
            "identity provider, until its body was read or it failed", ["tenant", "connector"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

    def exposition(self) -> bytes:
        """The text format: this process's figures, or every worker's added up."""
        directory = os.environ.get(MULTIPROCESS_DIR)
        if not directory:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]  # unannotated
        return generate_latest(registry)
