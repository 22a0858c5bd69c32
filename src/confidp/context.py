"""The application's typed context (``app.ctx``, Sanic's ``Sanic[Config, Context]``): every
resource a request handler may use, named and typed in one place.

What exists as soon as the app is built is given to the constructor; what needs a running
event loop or the state directory (the store, the password pool, the keys) is attached when
the server starts (``confidp.app``), never at import time. Reading one of those before the
server started raises ``AttributeError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, TypeAlias, cast

from sanic import Request, Sanic
from sanic.config import Config

from confidp.clock import Clock
from confidp.store.tenant import TenantStore

if TYPE_CHECKING:
    from confidp.identity.registry import Sources
    from confidp.keys import KeyStore
    from confidp.metrics import Metrics
    from confidp.mfa.enrolments import Enrolments
    from confidp.model import Tenant
    from confidp.oauth.tokens import TokenService
    from confidp.outbound import Outbound
    from confidp.passwords import ClientSecretChecker, PasswordVerifier
    from confidp.registry import Registry, Snapshot
    from confidp.reload import Reloader
    from confidp.sealing import Sealer
    from confidp.server_key import ServerKey
    from confidp.settings import Settings
    from confidp.store import Store
    from confidp.tenant_cache import TenantCache
    from confidp.themes import Themes
    from confidp.web.discovery import MetadataCache
    from confidp.web.signin.steps import Steps
    from confidp.web.tenant_routes import Routes


@dataclass(eq=False, slots=True)
class Context:
    settings: Settings
    clock: Clock  # wall-clock seconds (confidp.clock)
    metrics: Metrics
    reloader: Reloader
    themes: Themes
    metadata: MetadataCache  # discovery documents, per tenant version
    sources: Sources  # each tenant's identity sources
    steps: Steps  # the sign-in steps
    routes: Routes  # the endpoints under each issuer, the steps' pages among them
    registry: Registry | None = None  # None until the tenants are first loaded
    watching: bool = False  # the reload watcher runs (readiness)
    tenant_cache: TenantCache | None = None  # None: --no-tenant-cache
    stopped_listeners: int = 0
    stopping: bool = False  # a stop is under way: keep-alive connections are not kept
    # opened when the server starts (confidp.app.create_app)
    store: Store = field(init=False)
    passwords: PasswordVerifier = field(init=False)
    client_secrets: ClientSecretChecker = field(init=False)
    keys: KeyStore = field(init=False)
    sealer: Sealer = field(init=False)
    server_key: ServerKey = field(init=False)
    tokens: TokenService = field(init=False)
    enrolments: Enrolments = field(init=False)  # second factors (confidp.mfa.enrolments)
    ops_token: str | None = field(init=False)  # the operator token (confidp.ops_token)
    outbound: Outbound = field(init=False)  # requests to upstream identity providers

    def tenant_store(self, tenant: Tenant) -> TenantStore:
        """The store, in ``tenant``'s namespace."""
        return TenantStore(self.store, tenant.id)

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot. Requests are served only once the first load published
        one, so this never fails in a handler."""
        if self.registry is None:
            raise RuntimeError("the tenants are not loaded yet")
        return self.registry.snapshot


App: TypeAlias = Sanic[Config, Context]
AppRequest: TypeAlias = Request[App, SimpleNamespace]


def typed(request: Request) -> AppRequest:
    """A request Sanic hands confidp's code untyped (its error handler): every request of a
    confidp app has a ``Context`` (``confidp.app.create_app``)."""
    return cast(AppRequest, request)
