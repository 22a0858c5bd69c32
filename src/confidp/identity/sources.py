"""What an identity source is (Dex's ``connector.Connector`` family): the protocols the
sign-in steps and the token grants use, never a particular source.

- ``IdentitySource``: every source. It re-validates an ``Identity`` it vouched for whenever
  state made under it is used (a session, a code, a refresh token): the identity, possibly
  with fresh claims, or None, which ends that state (Dex's ``RefreshConnector``).
- ``PasswordSource``: checks a username and password itself (Dex's ``PasswordConnector``);
  the ``password`` sign-in step offers every such source of the tenant.

A source that sends the person to an upstream provider (Dex's ``CallbackConnector``) is a
third protocol, added with the step that drives it (Step 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from confidp.identity.identity import Identity
from confidp.model import Tenant
from confidp.passwords import PasswordVerifier


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a source may use while it authenticates someone."""

    tenant: Tenant
    passwords: PasswordVerifier  # argon2, off the event loop
    now: float  # wall-clock seconds: the identity's auth_time
    refusals: list[tuple[str, str]] = field(default_factory=list)  # (source id, reason)

    def refuse(self, source: str, reason: str) -> None:
        """Say why ``source`` refused (a ``confidp.audit`` reason: ``UNKNOWN_USER``,
        ``WRONG_PASSWORD``, ``DISABLED``, ``UPSTREAM_ERROR``...), for the audit event the
        sign-in step writes. Never shown to the person signing in."""
        self.refusals.append((source, reason))


@runtime_checkable
class IdentitySource(Protocol):
    @property
    def id(self) -> str:
        """Unique in its tenant; identities name it (``Identity.source``)."""

    @property
    def kind(self) -> str:
        """Its type name in ``confidp.identity.registry.SOURCE_TYPES``."""

    @property
    def display_name(self) -> str: ...

    async def revalidate(self, identity: Identity, tenant: Tenant,
                         now: float) -> Identity | None:
        """``identity`` as it stands now in ``tenant`` (its current version), or None when it
        may no longer sign in: its sessions, codes and refresh tokens then stop working."""


@runtime_checkable
class PasswordSource(IdentitySource, Protocol):
    async def authenticate(self, username: str, password: str,
                           context: SourceContext) -> Identity | None:
        """The identity when ``password`` is right for ``username``, else None. Takes the
        same time whether or not the username exists (no user enumeration)."""
