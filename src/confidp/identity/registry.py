"""Which identity sources a tenant has: ``SOURCE_TYPES``, the one registry of source types
(type name -> factory), and ``Sources``, which builds each tenant's sources from it and keeps
them until the tenant's file changes.

Every tenant has the ``local`` source (its file's users). The sources a tenant file declares
(``connectors:``) come from ``declared_sources``; a test may give ``Sources`` other types
and declarations.

A new source type is one module with a ``build(tenant, settings)`` factory (``settings`` is
the connector's keys, defaults applied; ``tenant.connector(settings["id"])`` is its model,
secrets included) and one entry here, plus one branch in the schema's ``connector``
(``$defs/connector_<type>`` and the ``if``/``then`` that selects it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from confidp.identity import github, ldap, local, oauth2, oidc
from confidp.identity.choice import accepted_sources
from confidp.identity.identity import LOCAL
from confidp.identity.sources import CallbackSource, IdentitySource, PasswordSource
from confidp.model import Application, Tenant

SourceFactory = Callable[[Tenant, Mapping[str, Any]], IdentitySource]

SOURCE_TYPES: Mapping[str, SourceFactory] = MappingProxyType({
    LOCAL: local.build,
    oidc.KIND: oidc.build,
    oauth2.KIND: oauth2.build,
    github.KIND: github.build,
    ldap.LDAP: ldap.build,
})


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source a tenant uses: its type and its settings (from the tenant file)."""

    type: str
    settings: Mapping[str, Any] = field(default_factory=dict)


def declared_sources(tenant: Tenant) -> Sequence[SourceSpec]:
    """The sources of ``tenant``, in the order the sign-in offers them: ``local``, then the
    connectors in the file's order."""
    return (SourceSpec(LOCAL), *(SourceSpec(connector.type, connector.settings)
                                 for connector in tenant.connectors))


@dataclass(frozen=True, slots=True)
class TenantSources:
    """One tenant version's sources, by id, in order. Which of them check passwords and
    which send the browser upstream is decided once here: an ``isinstance`` against a
    runtime-checkable protocol inspects every member, and /authorize asks on every request
    (9% of its event-loop time, by py-spy)."""

    by_id: Mapping[str, IdentitySource]
    _passwords: tuple[PasswordSource, ...] = field(init=False, repr=False, compare=False)
    _callbacks: Mapping[str, CallbackSource] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_passwords", tuple(
            source for source in self.by_id.values() if isinstance(source, PasswordSource)))
        object.__setattr__(self, "_callbacks", {
            source_id: source for source_id, source in self.by_id.items()
            if isinstance(source, CallbackSource)})

    def get(self, source_id: str) -> IdentitySource | None:
        return self.by_id.get(source_id)

    def accepted(self, tenant: Tenant, application: Application) -> tuple[str, ...]:
        """The ids of the sources ``application`` accepts (confidp.identity.choice)."""
        return accepted_sources(tenant, application, tuple(self.by_id))

    def password_sources(self, accepted: Collection[str] | None = None
                         ) -> Iterator[PasswordSource]:
        """The sources that check passwords (of ``accepted`` ids, when given)."""
        for source in self._passwords:
            if accepted is None or source.id in accepted:
                yield source

    def callback_source(self, source_id: str) -> CallbackSource | None:
        return self._callbacks.get(source_id)


class Sources:
    """The identity sources of every tenant, built when a tenant version is first used."""

    def __init__(self, types: Mapping[str, SourceFactory] = SOURCE_TYPES,
                 declared: Callable[[Tenant], Sequence[SourceSpec]] = declared_sources
                 ) -> None:
        self._types = types
        self._declared = declared
        self._built: dict[str, tuple[Tenant, TenantSources]] = {}

    def of(self, tenant: Tenant) -> TenantSources:
        entry = self._built.get(tenant.id)
        if entry is None or entry[0] is not tenant:
            by_id: dict[str, IdentitySource] = {}
            for spec in self._declared(tenant):
                source = self._types[spec.type](tenant, spec.settings)
                by_id[source.id] = source
            entry = (tenant, TenantSources(MappingProxyType(by_id)))
            self._built[tenant.id] = entry
        return entry[1]
