"""Prometheus metrics. One registry per app (on ``app.ctx``), never module-level state."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.reloads = Counter(
            "confidp_tenant_reloads", "Tenant file reload outcomes", ["outcome"],
            registry=self.registry)
        self.tenants = Gauge(
            "confidp_tenants", "Tenant files by state: serving the current file, serving an "
            "older version because the current file is invalid, or not served",
            ["state"], registry=self.registry)
        self.reload_seconds = Histogram(
            "confidp_reload_duration_seconds", "Time to rescan and rebuild the snapshot",
            registry=self.registry, buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5))
