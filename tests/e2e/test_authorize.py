"""The sign-in against the real server, for what needs one: tenant files and themes reloaded
while a sign-in is under way, and the sealing key rotated by the CLI. Everything else about
the authorization endpoint, login, sessions and consent is in tests/web/test_signin.py
(in-process)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from confidp.sealing import KEY_FILE, Sealer
from confidp.web.pending import SIGN_IN_PURPOSE
from tests.e2e.flow import (
    authorize_url,
    hidden_fields,
    location,
    query_of,
    seed_params,
    submit_consent,
    submit_login,
)
from tests.support import REPO, Server, free_port, running_server, wait_until, write_tenant

pytestmark = pytest.mark.e2e
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml"}


def example(name: str, port: int, **changes: object) -> dict[str, object]:
    """A repository example tenant, moved to this server's port."""
    doc = yaml.safe_load((REPO / "tenants" / name).read_text())
    doc["issuer"] = doc["issuer"].replace("localhost:8000", f"127.0.0.1:{port}")
    doc.update(changes)
    return doc


@pytest.fixture
def idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> Iterator[Server]:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", example(
        "acme.yaml", port, login_throttle={"max_failures_per_user": 3,
                                           "max_failures_per_ip": 5, "window": "10m"}))
    globex = example("globex.yaml", port)
    globex["applications"][0]["redirect_uris"].append("http://127.0.0.1:9999/callback?tenant=gx")
    globex["applications"][0]["require_pkce"] = False
    write_tenant(tenants_dir, "globex.yaml", globex)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server:
        yield server


@pytest.fixture
def browser(idp: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=idp.base, timeout=10, follow_redirects=False) as client:
        yield client


def test_redirect_uri_removed_while_login_pending(tmp_path: Path, tenants_dir: Path,
                                                  themes_dir: Path) -> None:
    port = free_port()
    doc = example("acme.yaml", port)
    write_tenant(tenants_dir, "acme.yaml", doc)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server, \
            httpx.Client(base_url=server.base, follow_redirects=False) as client:
        login = location(client.get(authorize_url("/acme", seed_params())))
        page = client.get(login)
        doc["applications"][0]["redirect_uris"] = ["https://portal.example.com/callback"]
        write_tenant(tenants_dir, "acme.yaml", doc)
        wait_until(lambda: server.status("acme")["content_hash"] != "" and
                   "redirect URIs of portal-spa -http://127.0.0.1:9999/callback"
                   in server.log(), timeout=3)
        response = client.post("/acme/login", data={
            **hidden_fields(page.text), "username": "alice", "password": "wonderland"},
            headers=JSON)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.json()["error_description"] == "Invalid authorization context."


def test_sealing_key_rotated_while_serving(browser: httpx.Client, tmp_path: Path) -> None:
    """`confidp sealing-key rotate` beside a running server: a sign-in begun before finishes,
    one begun after is sealed with the new key, and nothing restarts."""
    before = location(browser.get(authorize_url("/acme", seed_params())))
    key_file = tmp_path / "state" / KEY_FILE
    old = key_file.read_bytes()
    rotated = subprocess.run([sys.executable, "-m", "confidp.cli", "sealing-key", "rotate",
                              "--state-dir", str(tmp_path / "state")],
                             capture_output=True, text=True, check=True)
    assert [line.split()[1] for line in rotated.stdout.splitlines()] == ["seals", "opens"]
    new = key_file.read_bytes()
    assert new[32:] == old and new[:32] != old

    def sealed_with_the_new_key() -> str | None:  # the server looks within a second
        login = location(browser.get(authorize_url("/acme", seed_params())))
        value = query_of(login)["request"]
        return value if Sealer([new[:32]]).unseal(value, SIGN_IN_PURPOSE) else None
    after = wait_until(sealed_with_the_new_key, timeout=5)
    assert Sealer([old]).unseal(after, SIGN_IN_PURPOSE) is None
    consent = location(submit_login(browser, before, "alice", "wonderland"))
    assert "code" in query_of(location(submit_consent(browser, consent, "approve")))


def test_theme_edit_is_served_without_restart(browser: httpx.Client, idp: Server,
                                              themes_dir: Path) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    shutil.copy(themes_dir / "default" / "templates" / "login.html",
                themes_dir / "default" / "templates" / "login.html.bak")
    path = themes_dir / "default" / "templates" / "login.html"
    path.write_text(path.read_text().replace('{{ _("Sign in") }}</button>', "Continue</button>"))
    wait_until(lambda: "Continue</button>" in browser.get(login).text, timeout=3)


def test_a_session_follows_its_user_through_reloads(tmp_path: Path, tenants_dir: Path,
                                                    themes_dir: Path) -> None:
    """The user is found by subject, as the token grants find them: renamed, they stay signed
    in; disabled or removed, the session ends at once."""
    port = free_port()
    doc = example("acme.yaml", port)
    doc["users"][0]["subject"] = "alice-0001"
    write_tenant(tenants_dir, "acme.yaml", doc)
    silent = authorize_url("/acme", seed_params(scope="openid", prompt="none"))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server, \
            httpx.Client(base_url=server.base, follow_redirects=False) as client:
        login = location(client.get(authorize_url("/acme", seed_params(scope="openid"))))
        submit_consent(client, location(submit_login(client, login, "alice", "wonderland")),
                       "approve")
        assert "code" in query_of(location(client.get(silent)))

        def reload(change: dict[str, object], expect: str) -> None:
            user = {**doc["users"][0], **change}
            write_tenant(tenants_dir, "acme.yaml", {**doc, "users": [user]})
            wait_until(lambda: expect in server.log(), timeout=3)

        reload({"username": "alice.liddell"}, "users added: alice.liddell")
        assert "code" in query_of(location(client.get(silent)))
        reload({"username": "alice.liddell", "disabled": True},
               "user alice.liddell changed: disabled")
        assert query_of(location(client.get(silent)))["error"] == "login_required"
        write_tenant(tenants_dir, "acme.yaml", {**doc, "users": [
            {**doc["users"][0], "username": "alice.liddell"}]})
        wait_until(lambda: server.log().count("user alice.liddell changed: disabled") == 2,
                   timeout=3)
        # the session ended with the disabling; enabling again does not bring it back
        assert query_of(location(client.get(silent)))["error"] == "login_required"

