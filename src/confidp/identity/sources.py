"""What an identity source is (Dex's ``connector.Connector`` family): the protocols the
sign-in steps and the token grants use, never a particular source.

- ``IdentitySource``: every source. It re-validates an ``Identity`` it vouched for whenever
  state made under it is used (a session, a code, a refresh token): the identity, possibly
  with fresh claims, or None, which ends that state (Dex's ``RefreshConnector``).
- ``PasswordSource``: checks a username and password itself (Dex's ``PasswordConnector``);
  the ``password`` sign-in step offers every such source of the tenant.

- ``CallbackSource``: sends the person to an upstream provider and takes them back at
  ``{issuer}/callback/{connector id}`` (Dex's ``CallbackConnector``): OpenID Connect,
  OAuth 2.0, GitHub. The ``upstream`` sign-in step drives it
  (``confidp.web.signin.upstream``): it makes the ``UpstreamRequest`` (state, nonce, PKCE
  verifier), keeps it sealed and bound to the browser, and hands it back at the callback.

A source type is one module with a ``build(tenant, connector)`` factory, plus one entry in
``confidp.identity.registry.SOURCE_TYPES`` and one branch of the schema's ``connector``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from confidp.identity.identity import Identity
from confidp.model import Tenant
from confidp.oauth.errors import ServerUnavailable
from confidp.passwords import PasswordVerifier

if TYPE_CHECKING:
    from confidp.outbound import Outbound


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


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One trip to an upstream provider, as the callback needs it back: the state and nonce
    sent (RFC 6749 §10.12, OpenID Connect Core §3.1.2.1), the PKCE verifier (RFC 7636 §4.1),
    and the redirect URI the code was issued for (RFC 6749 §4.1.3)."""

    callback_url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True, slots=True)
class CallbackContext:
    """What a callback source may use: the tenant version the sign-in runs on, the one
    outbound HTTP client (``confidp.outbound``: timeouts, TLS, metrics, per-connector
    status), and the time."""

    tenant: Tenant
    outbound: Outbound
    now: float


class UpstreamError(Exception):
    """A sign-in through an upstream provider failed. ``reason`` is a fixed word for logs,
    metrics and audit events (``unreachable``, ``invalid_id_token``, ...); ``description``
    is shown to the person (a catalogue message, confidp.i18n). Raised fresh every time."""

    reason: str = "upstream_error"
    status: ClassVar[int] = 502
    default_description: ClassVar[str] = ("The identity provider's answer could not be "
                                          "used.")

    def __init__(self, detail: str, reason: str | None = None,
                 description: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail  # for the log: what exactly was wrong (never a secret or token)
        if reason is not None:
            self.reason = reason
        self.description = description or self.default_description


class UpstreamUnavailable(UpstreamError):
    """The provider could not be reached, answered 5xx, or did not answer in time."""

    reason = "unreachable"
    status = 502
    default_description = "The identity provider did not answer. Try again in a moment."


class UpstreamDenied(UpstreamError):
    """The person (or the provider) declined at the provider (RFC 6749 §4.1.2.1
    access_denied): the application hears access_denied."""

    reason = "access_denied"
    status = 403
    default_description = "The sign-in was cancelled at the identity provider."


class NotAllowed(UpstreamError):
    """The provider signed the person in, but the connector's allowed groups or e-mail
    domains leave them out."""

    reason = "not_allowed"
    status = 403
    default_description = "Your account may not sign in here."


@runtime_checkable
class CallbackSource(IdentitySource, Protocol):
    def login_url(self, upstream: UpstreamRequest, context: CallbackContext) -> Awaitable[str]:
        """Where to send the browser: the provider's authorization endpoint with this trip's
        state, nonce and PKCE challenge. Raises ``UpstreamError``."""

    def callback(self, params: Mapping[str, str], upstream: UpstreamRequest,
                 context: CallbackContext) -> Awaitable[Identity]:
        """The identity the provider's answer at the callback (its query parameters, the
        state already matched to ``upstream``) vouches for. Raises ``UpstreamError``."""
