"""Real Chromium (Debian's, driven by Playwright) through the seed's authorization URL: themed
login page, login, consent, and back to a local callback server with code, state and iss.
Screenshots of the login and consent pages of both themes go to test-artifacts/.

Run in their own pytest process (``make test`` does): Playwright's sync API keeps an event
loop running that would break asyncio tests in the same process.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import yaml
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support import REPO, Server, free_port, running_server, write_tenant

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/lib/chromium/chromium")
                 if os.path.exists(p)), None)
ARTIFACTS = REPO / "test-artifacts"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (apt-get install chromium); CI installs it")


class _Callback(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>callback</title><p>callback reached</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _callback_port() -> int:
    """The seed's local redirect URI uses port 9999; take another only if it is busy."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 9999))
            return 9999
        except OSError:
            return free_port()


@pytest.fixture(scope="module")
def callback() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", _callback_port()), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory, callback: str) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("browser")
    tenants = root / "tenants"
    tenants.mkdir()
    shutil.copytree(REPO / "themes", root / "themes")
    port = free_port()
    for name in ("acme.yaml", "globex.yaml"):
        doc = yaml.safe_load((REPO / "tenants" / name).read_text())
        doc["issuer"] = doc["issuer"].replace("localhost:8000", f"127.0.0.1:{port}")
        app = doc["applications"][0]
        app["redirect_uris"] = [callback]
        app["require_consent"] = True
        write_tenant(tenants, name, doc)
    with running_server(tenants, root / "themes", root / "state", port) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    yield context.new_page()
    context.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _sign_in(page: Page, idp: Server, callback: str, tenant: str, client_id: str,
             username: str, password: str, scope: str) -> dict[str, str]:
    query = urlencode({"client_id": client_id, "redirect_uri": callback,
                       "response_type": "code", "scope": scope, "state": "9d4f8dd1",
                       "code_challenge": CHALLENGE, "code_challenge_method": "S256"})
    page.goto(f"{idp.base}/{tenant}/authorize?{query}")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    _shot(page, f"{tenant}-login.png")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{idp.base}/{tenant}/consent?request=*")
    assert page.get_by_role("heading", name="Allow access?").is_visible()
    _shot(page, f"{tenant}-consent.png")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{callback}?*")
    assert page.get_by_text("callback reached").is_visible()
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_acme_seed_flow_default_theme(page: Page, idp: Server, callback: str) -> None:
    values = _sign_in(page, idp, callback, "acme", "portal-spa", "alice", "wonderland",
                      "openid profile email offline_access orders.read")
    assert values["state"] == "9d4f8dd1"
    assert values["iss"] == f"{idp.base}/acme"
    assert len(values["code"]) == 43


def test_globex_flow_midnight_theme(page: Page, idp: Server, callback: str) -> None:
    values = _sign_in(page, idp, callback, "globex", "billing", "hank", "hankscorpio",
                      "openid profile invoices.write")
    assert values["state"] == "9d4f8dd1"
    assert values["iss"] == f"{idp.base}/globex"


def test_themes_look_different(page: Page, idp: Server, callback: str) -> None:
    """The two themes render visibly different pages: background colour and font family."""
    looks = {}
    for tenant, client_id in (("acme", "portal-spa"), ("globex", "billing")):
        query = urlencode({"client_id": client_id, "redirect_uri": callback,
                           "response_type": "code", "scope": "openid", "state": "s",
                           "code_challenge": CHALLENGE, "code_challenge_method": "S256"})
        page.goto(f"{idp.base}/{tenant}/authorize?{query}")
        looks[tenant] = page.evaluate(
            "() => { const s = getComputedStyle(document.body);"
            " const b = getComputedStyle(document.querySelector('button'));"
            " return [s.backgroundColor, s.fontFamily, b.backgroundColor]; }")
    assert looks["acme"][0] != looks["globex"][0]
    assert looks["acme"][1] != looks["globex"][1]
    assert looks["acme"][2] == "rgb(11, 95, 255)"    # acme's #0b5fff from theme.css
    assert looks["globex"][2] == "rgb(255, 122, 24)"  # globex's #ff7a18


def test_wrong_password_is_announced(page: Page, idp: Server, callback: str) -> None:
    query = urlencode({"client_id": "portal-spa", "redirect_uri": callback,
                       "response_type": "code", "scope": "openid", "state": "s",
                       "code_challenge": CHALLENGE, "code_challenge_method": "S256"})
    page.goto(f"{idp.base}/acme/authorize?{query}")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    assert alert.inner_text() == "The username or password is incorrect."
    _shot(page, "acme-login-error.png")


def test_error_page(page: Page, idp: Server) -> None:
    response = page.goto(f"{idp.base}/acme/authorize?client_id=portal-spa")
    assert response is not None and response.status == 400
    assert page.get_by_role("alert").inner_text() == "Missing required OAuth parameters."
    _shot(page, "acme-error.png")


def test_artifacts_are_pngs() -> None:
    for name in ("acme-login.png", "acme-consent.png", "globex-login.png",
                 "globex-consent.png"):
        path = Path(ARTIFACTS / name)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
