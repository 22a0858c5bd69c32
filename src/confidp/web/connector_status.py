"""What /status says of each tenant's connectors: their id and type, and what a connector
reports of its own health (``Reporting``): for an ``ldap`` connector, the directory's URL,
its TLS mode, its last successful check and its last error. Never a secret, a password or a
username. Each worker process reports its own checks (as it has its own watcher)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from confidp.context import AppRequest
from confidp.model import Tenant


@runtime_checkable
class Reporting(Protocol):
    def status(self) -> Mapping[str, object]:
        """The connector's health for /status."""


def _iso(moment: object) -> object:
    """Seconds since 1970 as /status writes times (UTC, milliseconds)."""
    if not isinstance(moment, float | int):
        return moment
    millis = int(moment * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"


def connector_statuses(request: AppRequest, tenant: Tenant | None) -> list[dict[str, object]]:
    if tenant is None or not tenant.connectors:
        return []
    sources = request.app.ctx.sources.of(tenant)
    found: list[dict[str, object]] = []
    for connector in tenant.connectors:
        entry: dict[str, object] = {"id": connector.id, "type": connector.type}
        source = sources.get(connector.id)
        if isinstance(source, Reporting):
            entry.update({key: _iso(value) if key.endswith("_at") else value
                          for key, value in source.status().items()})
        found.append(entry)
    return found
