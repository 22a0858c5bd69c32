"""confidp served in the test's own process and event loop: the app from ``create_app``, its
ASGI lifespan (so the server-start listeners run as in a real server: store, keys, tenants,
watcher), and an ``httpx.AsyncClient`` that calls it without a socket. For handler tests that
need no separate process; a ``Clock`` replaces sleeping.

End-to-end tests that need a real process (reload across workers, Redis, signals, the CLI,
raw HTTP) use ``tests.support.running_server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from confidp.app import create_app
from confidp.context import App, Context
from confidp.identity.registry import Sources
from confidp.registry import Snapshot
from confidp.settings import Settings
from confidp.store import MemoryStore
from confidp.web.signin.steps import Steps
from tests.e2e.flow import hidden_fields
from tests.support import Clock

HOST = "127.0.0.1:8000"  # the host the client addresses (issuers use it)
BASE = f"http://{HOST}"
CLIENT_ADDRESS = ("127.0.0.1", 40000)


@dataclass
class InProcess:
    app: App
    client: httpx.AsyncClient
    clock: Clock
    base: str = BASE

    @property
    def ctx(self) -> Context:
        return self.app.ctx

    async def reloaded(self, predicate: Callable[[Snapshot], bool],
                       timeout: float = 10.0) -> None:
        """Wait until the app's watcher published a snapshot for which ``predicate`` holds
        (a tenant file the test just wrote)."""
        deadline = time.monotonic() + timeout
        while not predicate(self.ctx.snapshot):
            if time.monotonic() > deadline:
                raise AssertionError(f"no reload within {timeout} s")
            await asyncio.sleep(0.02)

    def browser(self) -> httpx.AsyncClient:
        """Another client (its own cookies), as a second browser would be."""
        return httpx.AsyncClient(transport=self.client._transport, base_url=BASE,
                                 follow_redirects=False)


async def _lifespan(task: asyncio.Task[None], phase: str,
                    queue: asyncio.Queue[dict[str, Any]],
                    replies: asyncio.Queue[dict[str, Any]]) -> None:
    """Send the lifespan event and wait for Sanic's answer (or for its lifespan to end)."""
    await queue.put({"type": f"lifespan.{phase}"})
    reply = asyncio.ensure_future(replies.get())
    await asyncio.wait([reply, task], return_when=asyncio.FIRST_COMPLETED)
    if not reply.done():
        reply.cancel()
        task.result()  # raises what ended it
        raise RuntimeError(f"the app's lifespan ended before {phase} completed")
    if reply.result()["type"] != f"lifespan.{phase}.complete":
        raise RuntimeError(f"lifespan {phase} failed: {reply.result()}")


@contextlib.asynccontextmanager
async def serving(tenants: Path, themes: Path | None, state: Path, *,
                  clock: Clock | None = None, steps: Steps | None = None,
                  sources: Sources | None = None,
                  **settings: Any) -> AsyncIterator[InProcess]:
    """The app for these directories, started, with other sign-in ``steps`` or identity
    ``sources`` when given (a test's own)."""
    if clock is None:
        clock = Clock()
        clock.now = time.time()  # tokens are checked by client libraries against real time
    app = create_app(Settings(tenants_dir=tenants, themes_dir=themes, state_dir=state,
                              log_level="WARNING", **settings),
                     clock=clock, store=MemoryStore(clock=clock), steps=steps, sources=sources)
    app.config.MOTD = False
    app.config.TOUCHUP = False  # Sanic rewrites its own methods once per process, not per app
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive() -> dict[str, Any]:
        return await messages.get()

    async def send(message: dict[str, Any]) -> None:
        await replies.put(message)

    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                       receive, send))
    await _lifespan(lifespan, "startup", messages, replies)
    transport = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE,
                                     follow_redirects=False) as client:
            yield InProcess(app, client, clock)
    finally:
        await _lifespan(lifespan, "shutdown", messages, replies)
        await lifespan


async def submit_login(client: httpx.AsyncClient, login_url: str, username: str,
                       password: str, source: str | None = None) -> httpx.Response:
    """The login page, then its form posted (``tests.e2e.flow.submit_login``, in-process);
    ``source``: the account chosen when the form asks (several password sources)."""
    page = await client.get(login_url)
    assert page.status_code == 200, page.text[:500]
    chosen = {"source": source} if source is not None else {}
    return await client.post(login_url.split("?")[0], data={
        **hidden_fields(page.text), **chosen, "username": username, "password": password})


async def submit_consent(client: httpx.AsyncClient, consent_url: str,
                         decision: str) -> httpx.Response:
    page = await client.get(consent_url)
    assert page.status_code == 200, page.text[:500]
    return await client.post(consent_url.split("?")[0],
                             data={**hidden_fields(page.text), "decision": decision})
