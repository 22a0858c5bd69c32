"""What a connector reports of its own health for /status (``Reporting``; the upstream ones'
fetches are ``confidp.outbound``'s): for an ``ldap`` connector, the directory's URL, its TLS
mode, its last successful check and its last error. Never a secret, a password or a
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


def connector_reports(request: AppRequest,
                      tenant: Tenant | None) -> dict[str, dict[str, object]]:
    """What each of ``tenant``'s connectors that reports its own health says, by id (times
    as ISO 8601)."""
    if tenant is None or not tenant.connectors:
        return {}
    sources = request.app.ctx.sources.of(tenant)
    found: dict[str, dict[str, object]] = {}
    for connector in tenant.connectors:
        source = sources.get(connector.id)
        if isinstance(source, Reporting):
            found[connector.id] = {key: _iso(value) if key.endswith("_at") else value
                                   for key, value in source.status().items()}
    return found
