"""The registry: one reference to an immutable snapshot of every tenant, swapped per reload.

A request reads ``registry.snapshot`` once and works on that snapshot to the end, so a reload
never changes a tenant under a running request; the swap is a single attribute assignment.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from confidp.config.errors import ConfigError
from confidp.model import Tenant

_DEFAULT_PORT_SUFFIXES = (":80", ":443")


@dataclass(frozen=True, slots=True)
class FileStatus:
    """What one tenant file currently means: the version served (if any) and the problems of
    its current content (if that content was rejected)."""

    source: str  # file name inside the tenants directory
    tenant_id: str
    serving: Tenant | None
    served_hash: str | None
    loaded_at: float | None  # wall clock when the served version was loaded
    errors: tuple[ConfigError, ...] = ()
    rejected_hash: str | None = None
    rejected_at: float | None = None
    warnings: tuple[ConfigError, ...] = ()  # of the version served: accepted, advised against


@dataclass(frozen=True, slots=True)
class Snapshot:
    generation: int
    files: Mapping[str, FileStatus]  # by file name
    themes: frozenset[str]
    themes_version: str  # changes whenever any theme file changes
    created_at: float = field(default_factory=time.time)
    routes: Mapping[str, Mapping[str, Tenant]] = field(init=False)

    def __post_init__(self) -> None:
        routes: dict[str, dict[str, Tenant]] = {}
        for status in self.files.values():
            if status.serving is not None:
                tenant = status.serving
                routes.setdefault(tenant.issuer_host, {})[tenant.issuer_path] = tenant
        object.__setattr__(self, "routes", MappingProxyType(
            {host: MappingProxyType(paths) for host, paths in routes.items()}))

    def tenants(self) -> Iterator[Tenant]:
        for status in self.files.values():
            if status.serving is not None:
                yield status.serving

    def tenant(self, tenant_id: str) -> Tenant | None:
        for tenant in self.tenants():
            if tenant.id == tenant_id:
                return tenant
        return None

    def issuers(self) -> list[str]:
        return sorted(tenant.issuer for tenant in self.tenants())

    def resolve(self, host: str, path: str) -> tuple[Tenant, str] | None:
        """The tenant whose issuer has this host and the longest path prefix of ``path`` (on a
        segment boundary), and the rest of the path, e.g. ("/acme/authorize") -> (acme,
        "/authorize")."""
        by_path = self.routes.get(normalize_host(host))
        if not by_path:
            return None
        prefix = path.rstrip("/")
        while True:
            tenant = by_path.get(prefix)
            if tenant is not None:
                return tenant, path[len(prefix):]
            if not prefix:
                return None
            prefix = prefix[: prefix.rfind("/")]


def normalize_host(host: str) -> str:
    host = host.strip().lower()
    if host.endswith(_DEFAULT_PORT_SUFFIXES) and not host.endswith("]"):
        host = host.rsplit(":", 1)[0]
    return host


class Registry:
    """Holds the current snapshot. Only the reload task calls ``swap``."""

    __slots__ = ("snapshot",)

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def swap(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
