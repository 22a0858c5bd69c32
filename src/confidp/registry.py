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
from confidp.config.loader import TENANT_SUFFIXES
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
    issuer_at: tuple[int, int] = (1, 1)  # line, column of the served version's issuer


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every tenant file's status, and the indexes a request needs (routes by issuer host and
    path, tenants by id). A reload makes the next snapshot with ``evolve``, which copies the
    indexes and changes only the entries of the files that changed: a one-file edit costs
    the same with 10 or 10 000 tenants. Files are in no particular order."""

    generation: int
    files: Mapping[str, FileStatus]  # by file name
    themes: frozenset[str]
    themes_version: str  # changes whenever any theme file changes
    created_at: float = field(default_factory=time.time)
    routes: Mapping[str, Mapping[str, Tenant]] = field(init=False)
    by_id: Mapping[str, Tenant] = field(init=False)

    def __post_init__(self) -> None:
        routes: dict[str, dict[str, Tenant]] = {}
        by_id: dict[str, Tenant] = {}
        for status in self.files.values():
            if status.serving is not None:
                tenant = status.serving
                routes.setdefault(tenant.issuer_host, {})[tenant.issuer_path] = tenant
                by_id[tenant.id] = tenant
        object.__setattr__(self, "routes", MappingProxyType(
            {host: MappingProxyType(paths) for host, paths in routes.items()}))
        object.__setattr__(self, "by_id", MappingProxyType(by_id))

    def evolve(self, generation: int, changes: Mapping[str, FileStatus | None],
               themes: frozenset[str], themes_version: str, created_at: float) -> Snapshot:
        """The next snapshot: this one with the files in ``changes`` replaced (None: gone).
        Copy-on-write: the file and id maps are copied flat, and only the route tables of
        the hosts a changed tenant is on are rebuilt."""
        files = dict(self.files)
        by_id = dict(self.by_id)
        hosts: dict[str, dict[str, Tenant]] = {}

        def table(host: str) -> dict[str, Tenant]:
            if host not in hosts:
                hosts[host] = dict(self.routes.get(host, {}))
            return hosts[host]

        for name in changes:  # first every old version out, then every new one in
            old = files.get(name)
            if old is not None and old.serving is not None:
                tenant = old.serving
                paths = table(tenant.issuer_host)
                if paths.get(tenant.issuer_path) is tenant:
                    del paths[tenant.issuer_path]
                if by_id.get(tenant.id) is tenant:
                    del by_id[tenant.id]
        for name, status in changes.items():
            if status is None:
                files.pop(name, None)
                continue
            files[name] = status
            if status.serving is not None:
                tenant = status.serving
                table(tenant.issuer_host)[tenant.issuer_path] = tenant
                by_id[tenant.id] = tenant
        routes = dict(self.routes)
        for host, paths in hosts.items():
            if paths:
                routes[host] = MappingProxyType(paths)
            else:
                routes.pop(host, None)
        made = object.__new__(Snapshot)
        for attribute, value in (("generation", generation), ("files", files),
                                 ("themes", themes), ("themes_version", themes_version),
                                 ("created_at", created_at),
                                 ("routes", MappingProxyType(routes)),
                                 ("by_id", MappingProxyType(by_id))):
            object.__setattr__(made, attribute, value)
        return made

    def tenants(self) -> Iterator[Tenant]:
        for status in self.files.values():
            if status.serving is not None:
                yield status.serving

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.by_id.get(tenant_id)

    def status(self, name: str) -> FileStatus | None:
        """The status of a file by its name, or of the file owning a tenant id."""
        found = self.files.get(name)
        if found is not None:
            return found
        for suffix in TENANT_SUFFIXES:
            found = self.files.get(name + suffix)
            if found is not None:
                return found
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
