"""The Sanic application factory. Resources live on ``app.ctx`` and are created when the
server starts, never at import time."""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import signal

from sanic import Sanic

from confidp import audit, logs, tracing
from confidp.clock import Clock, system_clock
from confidp.context import App, Context
from confidp.identity.registry import Sources
from confidp.keys import KeyStore
from confidp.metrics import Metrics
from confidp.mfa.enrolments import Enrolments, open_enrolments
from confidp.mfa.unavailable import NoEnrolments
from confidp.oauth.tokens import TokenService
from confidp.ops_token import load_or_create as load_or_create_ops_token
from confidp.outbound import Outbound
from confidp.passwords import ClientSecretChecker, PasswordVerifier
from confidp.registry import Registry, Snapshot
from confidp.reload import Reloader, ReloadEvent, watch
from confidp.sealing import Sealer
from confidp.server_key import ServerKey
from confidp.settings import Settings
from confidp.store import Store, open_store
from confidp.store.observed import ObservedStore
from confidp.tenant_cache import CACHE_DIR, TenantCache
from confidp.tenant_cache import keep as keep_tenant_cache
from confidp.themes import Themes
from confidp.web import listeners, observe, ops, ops_admin, tenant_routes
from confidp.web.discovery import MetadataCache
from confidp.web.http_errors import ErrorHandler
from confidp.web.request import ConfidpRequest
from confidp.web.signin import STEPS
from confidp.web.signin.steps import Steps

log = logging.getLogger("confidp.reload")


def configure_logging(settings: Settings) -> None:
    """confidp's own log lines and the audit events, in every worker process
    (``confidp.logs``)."""
    logs.configure(settings.log_level, settings.log_format, audit=settings.audit,
                   audit_log=settings.audit_log)


def create_app(settings: Settings, name: str | None = None, *, clock: Clock = system_clock,
               store: Store | None = None, sources: Sources | None = None,
               steps: Steps | None = None, enrolments: Enrolments | None = None) -> App:
    """The app for ``settings``. ``clock`` dates what the flows store and checks every
    lifetime. For tests: ``store`` replaces the one ``settings.store`` names, ``sources`` the
    identity sources of ``confidp.identity.registry.SOURCE_TYPES``, ``steps`` the sign-in
    steps of ``confidp.web.signin.STEPS``, ``enrolments`` where second factors are kept."""
    steps = steps or STEPS
    configure_logging(settings)
    tracing.configure()
    context = Context(
        settings=settings, clock=clock, metrics=Metrics(),
        # files are dated by the file system: the reloader compares their times with the
        # system's clock, whatever clock the flows run on (a test's may stand still)
        reloader=Reloader(settings.tenants_dir, settings.themes_dir, clock=system_clock),
        themes=Themes(settings.themes_dir), metadata=MetadataCache(),
        sources=sources or Sources(), steps=steps, routes=tenant_routes.routes(steps))
    app: App = Sanic(name or f"confidp_{secrets.token_hex(4)}", ctx=context,
                     error_handler=ErrorHandler(tenant_routes.unrouted),
                     request_class=ConfidpRequest,
                     log_config=logs.sanic_config(settings.log_format))
    app.config.REQUEST_MAX_SIZE = 1024 * 1024  # forms and token requests are small
    app.config.REQUEST_MAX_HEADER_SIZE = 16 * 1024
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.KEEP_ALIVE_TIMEOUT = 30
    if settings.trust_proxy:
        app.config.PROXIES_COUNT = 1  # request.remote_addr from X-Forwarded-For

    def publish(snapshot: Snapshot | None, events: list[ReloadEvent], seconds: float) -> None:
        metrics = context.metrics
        metrics.reload_seconds.observe(seconds)
        if snapshot is not None:
            if context.registry is None:
                context.registry = Registry(snapshot)
            else:
                context.registry.swap(snapshot)
            _count_states(metrics, snapshot)
        for event in events:
            metrics.reloads.labels(event.kind).inc()
            if event.kind == "rejected":
                log.error("%s", event)
            else:
                log.info("%s", event)
            audit.emit(context, audit.TENANT_RELOADED, tenant=event.tenant_id,
                       outcome=event.kind, file=event.source, detail=event.detail)

    @app.before_server_start
    async def open_resources(app: App) -> None:
        context.store = ObservedStore(store if store is not None else open_store(settings.store),
                                      context.metrics)
        context.passwords = PasswordVerifier()
        context.client_secrets = ClientSecretChecker(context.passwords)
        context.keys = KeyStore(settings.state_dir, clock=clock)
        context.sealer = Sealer.from_state_dir(settings.state_dir)
        context.server_key = ServerKey.from_state_dir(settings.state_dir)
        context.tokens = TokenService(context.store, context.keys, context.server_key,
                                      clock=clock, sources=context.sources)
        context.enrolments = enrolments if enrolments is not None else _enrolments(
            settings, context.store)
        try:
            context.ops_token = load_or_create_ops_token(settings.state_dir)
        except OSError as exc:  # a read-only state directory made without it
            log.warning("no operator token (%s): confidp mfa reset and sessions revoke "
                        "cannot reach this server; make it with confidp state init", exc)
            context.ops_token = None
        context.outbound = Outbound(context.metrics, clock)

    app.before_server_stop(listeners.stop_keeping_alive)

    @app.after_server_stop
    async def close_resources(app: App) -> None:
        """Once every listener of this process has stopped. Sanic runs the listeners after
        the first as tasks and stops each with the app's after_server_stop listeners, and on
        SIGTERM it stops those tasks first: closing then would take the store and the
        password pool from the requests the public listener is still draining."""
        context.stopped_listeners += 1
        last = context.stopped_listeners >= max(1, len(app.state.server_info))
        for info in app.state.server_info:  # Sanic drains only the first listener's
            for connection in list(info.server.connections if info.server else ()):
                if last:
                    connection.abort()
                else:
                    connection.close_if_idle()
        if not last:
            return
        await context.store.close()
        await context.outbound.aclose()
        context.passwords.close()
        tracing.shutdown()

    @app.before_server_start
    async def load_tenants(app: App) -> None:
        cached = None
        if settings.tenant_cache:
            context.tenant_cache = TenantCache(
                settings.cache_dir or settings.state_dir / CACHE_DIR, context.server_key)
            cached = await asyncio.to_thread(context.tenant_cache.load)
        snapshot, events = context.reloader.load(None, cached=cached)
        publish(snapshot, events, 0.0)
        if (cache := context.tenant_cache) is not None:
            cache.used, cache.validated = context.reloader.from_cache, context.reloader.validated
            if context.reloader.cache_themes_differ:
                cache.unused = ("the tenant cache was not used: its tenants were checked "
                                 "against other theme names")
        gc.collect()
        gc.freeze()  # the loaded tenants are long-lived: keep them out of later collections
        served = sum(1 for _ in context.snapshot.tenants())
        log.info("serving %d tenant(s) from the tenants directory", served)

    @app.after_server_start
    async def delay_shutdown(app: App) -> None:
        if settings.shutdown_delay > 0:  # else Sanic's own handlers: stop at once
            # (with --workers, the main process passes SIGTERM on as SIGINT to each worker)
            for number in (signal.SIGTERM, signal.SIGINT):
                asyncio.get_running_loop().add_signal_handler(
                    number, listeners.stop_after_delay, app, settings.shutdown_delay)

    @app.after_server_start
    async def start_watcher(app: App) -> None:
        def watching() -> None:
            context.watching = True

        app.add_task(watch(context.reloader, lambda: context.snapshot, publish,
                           poll=settings.reload_poll, on_watching=watching),
                     name="confidp-watcher")
        if (cache := context.tenant_cache) is not None:
            # write it when the start validated files or left entries unused
            stale = cache.validated > 0 or cache.used < cache.loaded_entries
            app.add_task(keep_tenant_cache(cache, lambda: context.snapshot, save_now=stale),
                         name="confidp-tenant-cache")

    app.register_middleware(observe.started, "request")
    app.register_middleware(observe.finished, "response")
    app.blueprint(ops.bp)
    app.blueprint(ops_admin.bp)
    app.blueprint(tenant_routes.bp)
    return app


def _enrolments(settings: Settings, store: Store) -> Enrolments:
    """Where second factors are kept; without an enrolment key that can be made (a read-only
    state directory made before second factors), nobody has one and enrolling fails."""
    try:
        return open_enrolments(settings.store, store, settings.state_dir)
    except OSError as exc:
        reason = (f"no enrolment key in the state directory, and none can be made ({exc}): "
                  "run confidp state init and add enrolment.key to the state")
        log.warning("%s", reason)
        return NoEnrolments(reason)


def _count_states(metrics: Metrics, snapshot: Snapshot) -> None:
    counts = {"serving": 0, "serving_last_good": 0, "not_served": 0}
    for status in snapshot.files.values():
        if status.serving is None:
            counts["not_served"] += 1
        elif status.errors:
            counts["serving_last_good"] += 1
        else:
            counts["serving"] += 1
    for state, count in counts.items():
        metrics.tenants.labels(state).set(count)
