"""The Grafana dashboard (``deploy/grafana/confidp.json``, issue 14 item 3): well-formed JSON
that Grafana imports (panels with unique ids, a Prometheus data source chosen by a variable),
and every query names only metrics confidp exposes, with labels they have."""

from __future__ import annotations

import json
import re
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from confidp.metrics import Metrics
from tests.support import REPO

DASHBOARD = REPO / "deploy" / "grafana" / "confidp.json"
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def exposed() -> dict[str, set[str]]:
    """Every series name confidp's metrics expose, with its label names."""
    metrics = Metrics()
    metrics.count_event({"event": "signin.failed", "tenant": "t", "reason": "wrong_password"})
    metrics.count_event({"event": "signin.succeeded", "tenant": "t"})
    metrics.count_event({"event": "tokens.issued", "tenant": "t", "grant_type": "g",
                         "client_id": "c"})
    metrics.count_event({"event": "refresh.reuse_detected", "tenant": "t"})
    metrics.observe_store("get", 0.001, failed=True)
    metrics.observe_http("/token", "POST", 200, 0.01)
    metrics.reloads.labels("added").inc()
    metrics.tenants.labels("serving").set(1)
    metrics.reload_seconds.observe(0.01)
    with metrics.upstream("t", "google"):
        pass
    names: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def test_the_dashboard_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 30
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert "datasource" in variables
    assert len(panels(dashboard)) >= 10
    for panel in panels(dashboard):
        assert panel["title"] and panel["targets"], panel
        assert panel["datasource"]["uid"] == "${datasource}"
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        for target in panel["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")"), target


def test_every_query_names_exposed_metrics_and_labels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    names = exposed()
    queries = [target["expr"] for panel in panels(dashboard) for target in panel["targets"]]
    queries += [variable["definition"] for variable in dashboard["templating"]["list"]
                if "definition" in variable]
    used = set()
    for query in queries:
        for metric, selector in re.findall(r"(confidp_[a-z_]+)(\{[^}]*\})?", query):
            assert metric in names, (metric, query)
            used.add(metric)
            for label in re.findall(r"([a-z_]+)\s*[=!]~?", selector):
                assert label in names[metric], (label, metric, query)
        for grouped in re.findall(r"by \(([^)]*)\)", query):
            labels = {label.strip() for label in grouped.split(",")} - {"le"}
            metric = re.findall(r"confidp_[a-z_]+", query)[0]
            assert labels <= names[metric], (labels, query)
    # the metrics are all on the dashboard
    for wanted in ("confidp_signins_total", "confidp_tokens_issued_total",
                   "confidp_refresh_reuse_detected_total", "confidp_store_errors_total",
                   "confidp_store_operation_duration_seconds_bucket",
                   "confidp_upstream_requests_total",
                   "confidp_upstream_request_duration_seconds_bucket",
                   "confidp_http_request_duration_seconds_bucket"):
        assert wanted in used
