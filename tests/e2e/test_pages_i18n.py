"""The pages in the person's language, and no dead ends, against the real server: ui_locales
kept through the sign-in, Accept-Language, the tenant's languages and overrides (hot-reloaded),
"Not you?", "Start again", the themed 404, the tenant's and the application's links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.flow import (
    authorize_url,
    hidden_fields,
    location,
    query_of,
    seed_params,
    submit_login,
)
from tests.support import (
    ALICE_HASH,
    Server,
    free_port,
    replace_tenant,
    running_server,
    tenant_doc,
    wait_until,
    write_tenant,
)

pytestmark = pytest.mark.e2e
START_AGAIN = "https://portal.example.com/login"
HOME = "https://home.example.com/"


def _doc(issuer: str, **overrides: Any) -> dict[str, Any]:
    portal = {
        "client_id": "portal-spa", "name": "Acme Portal", "type": "public",
        "redirect_uris": ["http://127.0.0.1:9999/callback"],
        "scopes": ["openid", "profile", "email", "orders.read"], "require_consent": True,
        "initiate_login_uri": START_AGAIN, "client_uri": "https://portal.example.com/",
        "logo_uri": "/acme/assets/logo.svg", "policy_uri": "https://portal.example.com/privacy",
        "tos_uri": "https://portal.example.com/terms"}
    home_only = {"client_id": "home-only", "name": "Home Only", "type": "public",
                 "redirect_uris": ["http://127.0.0.1:9999/callback"], "scopes": ["openid"],
                 "client_uri": HOME}
    bare = {"client_id": "bare", "name": "Bare", "type": "public",
            "redirect_uris": ["http://127.0.0.1:9999/callback"], "scopes": ["openid"]}
    return tenant_doc(
        issuer,
        applications=[portal, home_only, bare],
        scopes=[{"name": "orders.read", "description": "Read your orders",
                 "localized_description": {"de": "Ihre Bestellungen lesen"}}],
        users=[{"username": "alice", "password_hash": ALICE_HASH, "name": "Alice Liddell"}],
        links={"account_recovery": "https://acme.example/reset",
               "help": "https://acme.example/help"},
        login_throttle={"max_failures_per_user": 1, "max_failures_per_ip": 1000,
                        "window": "15m"},
        **overrides)


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("pages")
    tenants = root / "tenants"
    tenants.mkdir()
    port = free_port()
    write_tenant(tenants, "acme.yaml", _doc(f"http://127.0.0.1:{port}/acme"))
    with running_server(tenants, Path(__file__).parents[2] / "themes", root / "state",
                        port) as server:
        yield server


@pytest.fixture
def browser(idp: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=idp.base, follow_redirects=False, timeout=10) as client:
        yield client


def params(**overrides: str) -> dict[str, str]:
    return seed_params(**{"scope": "openid", **overrides})


def lang_of(page: str) -> tuple[str, str]:
    match = re.search(r'<html lang="([^"]+)" dir="([^"]+)">', page)
    assert match is not None, page[:300]
    return match[1], match[2]


def hrefs(page: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', page)


def test_ui_locales_outrank_accept_language_through_the_whole_sign_in(
        browser: httpx.Client) -> None:
    browser.headers["Accept-Language"] = "de"
    login = location(browser.get(authorize_url("/acme", params(
        scope="openid email orders.read", ui_locales="fr-CA ja"))))
    page = browser.get(login)
    assert lang_of(page.text) == ("fr", "ltr") and page.headers["content-language"] == "fr"
    assert "<h1>Se connecter</h1>" in page.text
    failed = submit_login(browser, login, "mallory", "wrong")  # one failure throttles a user
    assert failed.status_code == 401 and lang_of(failed.text)[0] == "fr"
    assert "Le nom d&#39;utilisateur ou le mot de passe est incorrect." in failed.text
    consent = browser.get(location(submit_login(browser, login, "alice", "wonderland")))
    assert lang_of(consent.text)[0] == "fr"
    assert "Votre adresse e-mail" in consent.text
    # a custom scope without a French description: the tenant's words, marked as English
    assert '<span lang="en">Read your orders</span>' in consent.text


def test_accept_language_by_quality(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", params())))
    page = browser.get(login, headers={"Accept-Language": "fr;q=0.5, ja;q=0.9, *;q=0.1"})
    assert lang_of(page.text) == ("ja", "ltr")
    page = browser.get(login, headers={"Accept-Language": "ar-EG"})
    assert lang_of(page.text) == ("ar", "rtl")
    page = browser.get(login, headers={"Accept-Language": "pt-BR, zh;q=0.8"})
    assert lang_of(page.text) == ("en", "ltr")  # the tenant's default


def test_the_throttle_message_in_arabic_takes_its_plural_form(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", params(ui_locales="ar"))))
    assert submit_login(browser, login, "nobody", "wrong").status_code == 401
    blocked = submit_login(browser, login, "nobody", "wrong")
    assert blocked.status_code == 429 and lang_of(blocked.text) == ("ar", "rtl")
    minutes = -(-int(blocked.headers["retry-after"]) // 60)
    assert minutes in (14, 15)  # 11-99: CLDR "many"
    assert f"حاول مرة أخرى بعد {minutes} دقيقة." in blocked.text


def test_discovery_lists_the_tenant_s_languages(browser: httpx.Client) -> None:
    metadata = browser.get("/acme/.well-known/openid-configuration").json()
    assert metadata["ui_locales_supported"] == ["en", "de", "fr", "es", "ja", "ar"]


def _consent_page(browser: httpx.Client) -> tuple[str, httpx.Response]:
    login = location(browser.get(authorize_url("/acme", params(scope="openid",
                                                                    prompt="consent"))))
    consent = location(submit_login(browser, login, "alice", "wonderland"))
    return consent, browser.get(consent)


def test_consent_shows_the_person_and_the_application(browser: httpx.Client) -> None:
    _, page = _consent_page(browser)
    assert "Signed in as <strong>Alice Liddell</strong> (<bdi>alice</bdi>)" in page.text
    assert 'src="/acme/assets/logo.svg"' in page.text
    assert "https://portal.example.com/privacy" in hrefs(page.text)
    assert "https://portal.example.com/terms" in hrefs(page.text)
    assert 'value="switch_account"' in page.text


def test_not_you_ends_the_session_and_returns_to_the_same_sign_in(
        browser: httpx.Client) -> None:
    consent, page = _consent_page(browser)
    request_id = query_of(consent)["request"]
    switched = browser.post("/acme/consent", data={**hidden_fields(page.text),
                                                   "decision": "switch_account"})
    assert switched.status_code == 303
    assert query_of(location(switched))["request"] == request_id
    assert location(switched).startswith("/acme/login?")
    assert "confidp_session_acme=;" in switched.headers["set-cookie"]
    assert "Max-Age=0" in switched.headers["set-cookie"]
    # the session is gone on the server too, and the same sign-in shows the login form
    silent = browser.get(authorize_url("/acme", params(scope="openid", prompt="none")))
    assert query_of(location(silent))["error"] == "login_required"
    again = browser.get(location(switched))
    assert again.status_code == 200 and 'name="password"' in again.text


def test_not_you_needs_the_form_s_csrf_token(browser: httpx.Client) -> None:
    consent, page = _consent_page(browser)
    fields = hidden_fields(page.text)
    forged = browser.post("/acme/consent", data={"request": fields["request"],
                                                 "csrf_token": "forged",
                                                 "decision": "switch_account"})
    assert forged.status_code == 400
    assert browser.get(consent).status_code == 200  # still signed in


def test_a_used_sign_in_link_offers_to_start_again(browser: httpx.Client) -> None:
    consent, page = _consent_page(browser)
    denied = browser.post("/acme/consent", data={**hidden_fields(page.text),
                                                 "decision": "deny"})
    assert query_of(location(denied))["error"] == "access_denied"
    used = browser.get(consent.replace("/consent?", "/login?"),
                       headers={"Accept-Language": "de"})
    assert used.status_code == 400
    assert "Diese Anmeldeanfrage ist abgelaufen oder wurde bereits verwendet." in used.text
    assert f'<a class="button" href="{START_AGAIN}">Neu beginnen</a>' in used.text


@pytest.mark.parametrize(("client_id", "link"), [
    ("portal-spa", START_AGAIN),  # initiate_login_uri first
    ("home-only", HOME),  # else the home page
    ("bare", None),  # nothing known: no link
    ("unknown-client", None),
])
def test_an_error_page_offers_a_way_back_only_where_one_is_known(
        browser: httpx.Client, client_id: str, link: str | None) -> None:
    evil = "https://evil.example/steal"
    page = browser.get(authorize_url("/acme", params(client_id=client_id,
                                                          redirect_uri=evil)))
    assert page.status_code == 400 and "Invalid authorization context." in page.text
    assert evil not in page.text and "evil.example" not in page.text
    ways = [href for href in hrefs(page.text)
            if href.startswith("http") and not href.startswith("https://acme.example/")]
    assert ways == ([link] if link else [])


def test_a_japanese_error_page_keeps_the_seed_s_message(browser: httpx.Client) -> None:
    page = browser.get("/acme/authorize?client_id=portal-spa",
                       headers={"Accept-Language": "ja"})
    assert page.status_code == 400 and lang_of(page.text)[0] == "ja"
    assert "必須の OAuth パラメーターがありません。" in page.text
    assert '<span lang="en">Missing required OAuth parameters.</span>' in page.text


def test_the_404_page_is_themed_and_translated(browser: httpx.Client) -> None:
    page = browser.get("/acme/nope", headers={"Accept-Language": "es"})
    assert page.status_code == 404 and lang_of(page.text)[0] == "es"
    assert "<h1>Página no encontrada</h1>" in page.text
    assert re.search(r'href="/acme/theme\.css\?v=', page.text)
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    json_404 = browser.get("/acme/nope", headers={"Accept": "application/json"})
    assert json_404.status_code == 404 and json_404.json()["error"] == "not_found"


def test_logout_confirmation_follows_ui_locales(browser: httpx.Client) -> None:
    _consent_page(browser)
    page = browser.get("/acme/logout?ui_locales=de")
    assert page.status_code == 200 and lang_of(page.text)[0] == "de"
    assert "<h1>Abmelden?</h1>" in page.text
    assert "Angemeldet als <strong>alice</strong>" in page.text


def test_the_tenant_s_links(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", params())))
    page = browser.get(login)
    assert "https://acme.example/reset" in hrefs(page.text)
    assert "https://acme.example/help" in hrefs(page.text)
    signed_out = browser.get("/acme/logout")
    assert "https://acme.example/help" in hrefs(signed_out.text)
    assert "https://acme.example/reset" not in hrefs(signed_out.text)


def test_theme_css_has_a_dark_scheme(browser: httpx.Client) -> None:
    css = browser.get("/acme/theme.css").text
    assert "@media (prefers-color-scheme: dark)" in css and "--on-primary:" in css


def test_overrides_and_languages_are_hot_reloaded(tmp_path: Path, tenants_dir: Path,
                                                  themes_dir: Path) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/acme"
    write_tenant(tenants_dir, "acme.yaml", _doc(issuer))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server, \
            httpx.Client(base_url=server.base, follow_redirects=False,
                         headers={"Accept-Language": "de"}) as client:
        login = location(client.get(authorize_url("/acme", params())))
        assert "<h1>Anmelden</h1>" in client.get(login).text
        replace_tenant(tenants_dir, "acme.yaml", _doc(issuer, messages={
            "de": {"Sign in": "Bei Acme anmelden"}}))
        wait_until(lambda: "<h1>Bei Acme anmelden</h1>" in client.get(login).text, timeout=5)
        # the override is text: a tag in it is shown, never run
        replace_tenant(tenants_dir, "acme.yaml", _doc(issuer, messages={
            "de": {"Sign in": "<b>Anmelden</b>"}}))
        wait_until(lambda: "<h1>&lt;b&gt;Anmelden&lt;/b&gt;</h1>" in client.get(login).text,
                   timeout=5)
        # an override that names no message is refused; the last good version keeps serving
        replace_tenant(tenants_dir, "acme.yaml", _doc(issuer, messages={
            "de": {"Sign In": "Anmelden!"}}))
        status = wait_until(lambda: (s := server.status("acme")).get("errors") and s,
                            timeout=5)
        assert "did you mean 'Sign in'?" in status["errors"][0]
        assert "<h1>&lt;b&gt;Anmelden&lt;/b&gt;</h1>" in client.get(login).text
        # the tenant drops German: discovery and the page follow at once
        replace_tenant(tenants_dir, "acme.yaml", _doc(issuer, languages={
            "supported": ["en", "fr"], "default": "fr"}))
        wait_until(lambda: client.get("/acme/.well-known/openid-configuration").json()
                   ["ui_locales_supported"] == ["en", "fr"], timeout=5)
        page = client.get(login)
        assert lang_of(page.text)[0] == "fr" and "<h1>Se connecter</h1>" in page.text
