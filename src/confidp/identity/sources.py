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

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from confidp.identity.identity import Identity
from confidp.model import Tenant
from confidp.oauth.errors import ServerUnavailable
from confidp.passwords import PasswordVerifier


class SourceUnavailable(ServerUnavailable):
    """An identity source could not answer (a directory down or too slow): RFC 6749
    §4.1.2.1 temporarily_unavailable, 503 with Retry-After. Whatever was being checked is
    neither accepted nor ended: a session or refresh token stays valid for a later try, a
    failed password check is not counted as a wrong password. ``reason`` is for the log and
    /status (never a password), not for the person."""

    default_description = "The sign-in service is temporarily unavailable. Try again shortly."

    def __init__(self, source: str, reason: str) -> None:
        super().__init__()
        self.source = source
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a source may use while it authenticates someone."""

    tenant: Tenant
    passwords: PasswordVerifier  # argon2, off the event loop
    now: float  # wall-clock seconds: the identity's auth_time


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
