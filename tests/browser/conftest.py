"""The browser tests' world: Debian's Chromium driven by Playwright's async API (never its own
browser download), a real confidp server with the two example tenants (one per shipped
theme) and a local callback server standing in for the applications.

Run them in their own pytest process (``make test`` does): tests/browser/site.py has the
tenants, tests/browser/pages.py the list of pages every check goes through.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.browser.site import CHROMIUM, CHROMIUM_ARGS, Site, start_site
from tests.support import free_port


class _Callback(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (b"<!doctype html><html lang=en><title>callback</title>"
                b"<main><p>callback reached</p></main></html>")
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # the tab may move on before reading
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing in CI: .ci/run must install it")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def callback() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, callback: str) -> Iterator[Site]:
    root: Path = tmp_path_factory.mktemp("browser")
    with start_site(root, callback) as running:
        yield running


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, headless=True,
                                                    args=CHROMIUM_ARGS)
        yield launched
        await launched.close()
