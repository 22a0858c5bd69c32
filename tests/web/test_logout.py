"""RP-Initiated Logout in-process (OpenID Connect RP-Initiated Logout 1.0 §2-§3, issue 10
item 11): a request from anywhere never signs anyone out by itself; without a valid hint naming
the signed-in user the person confirms on a page whose form carries a CSRF token bound to the
browser."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from confidp.keys import KeyStore
from tests.e2e.flow import authorize_url, hidden_fields, location, query_of, seed_params
from tests.inprocess import InProcess, serving, submit_consent, submit_login
from tests.support import write_tenant
from tests.web.conftest import example

CALLBACK = "http://127.0.0.1:9999/callback"
AFTER = "http://127.0.0.1:9999/"  # a registered post_logout_redirect_uri of portal-spa
HTML = {"Accept": "text/html"}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
async def idp(state: Path, tenants_dir: Path, themes_dir: Path) -> AsyncIterator[InProcess]:
    acme = example("acme.yaml")
    acme["users"].append({**acme["users"][0], "username": "bob",  # type: ignore[attr-defined,index]
                          "subject": "bob"})
    write_tenant(tenants_dir, "acme.yaml", acme)
    write_tenant(tenants_dir, "globex.yaml", example("globex.yaml"))
    async with serving(tenants_dir, themes_dir, state) as server:
        yield server


@contextlib.asynccontextmanager
async def signed_in(server: InProcess, username: str = "alice") -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in to acme (consent given)."""
    async with server.browser() as browser:
        login = location(await browser.get(authorize_url("/acme", seed_params())))
        after = location(await submit_login(browser, login, username, "wonderland"))
        if "/consent?" in after:
            location(await submit_consent(browser, after, "approve"))
        assert await still_signed_in(browser)
        yield browser


async def still_signed_in(browser: httpx.AsyncClient) -> bool:
    response = await browser.get(authorize_url("/acme", seed_params(prompt="none")))
    return "code" in query_of(location(response))


def id_token(state: Path, tenant: str, issuer: str, subject: str, audience: str,
             expired: bool = False) -> str:
    """An ID token signed with the tenant's own key, as the server issues them."""
    now = int(time.time()) - (7200 if expired else 0)
    ring = KeyStore(state).ring(tenant)
    claims: dict[str, Any] = {"iss": issuer, "sub": subject, "aud": audience, "iat": now,
                              "exp": now + 600, "auth_time": now}
    return ring.sign({"typ": "JWT"}, claims, "RS256")


def acme_token(server: InProcess, state: Path, subject: str = "alice", **kwargs: Any) -> str:
    return id_token(state, "acme", f"{server.base}/acme", subject, "portal-spa", **kwargs)


async def test_a_cross_site_get_asks_instead_of_signing_out(idp: InProcess) -> None:
    async with signed_in(idp) as browser:
        for params in ({}, {"client_id": "portal-spa", "post_logout_redirect_uri": AFTER,
                            "state": "s-1"}):
            page = await browser.get("/acme/logout", params=params, headers=HTML)
            assert page.status_code == 200
            assert "Sign out?" in page.text and "Signed in as <strong>alice</strong>" in page.text
            assert "set-cookie" not in page.headers
            assert await still_signed_in(browser)
        assert '<form method="post" action="/acme/logout"' in page.text
        assert "<script" not in page.text
        assert hidden_fields(page.text) == {
            "csrf_token": hidden_fields(page.text)["csrf_token"], "client_id": "portal-spa",
            "post_logout_redirect_uri": AFTER, "state": "s-1"}
        policy = page.headers["content-security-policy"]
        assert "form-action 'self' http://127.0.0.1:9999" in policy
        assert "frame-ancestors 'none'" in policy


async def test_the_confirmation_signs_out_and_goes_back(idp: InProcess) -> None:
    async with signed_in(idp) as browser:
        session = browser.cookies.get("confidp_session_acme")
        page = await browser.get("/acme/logout", params={
            "client_id": "portal-spa", "post_logout_redirect_uri": AFTER, "state": "s 2"})
        done = await browser.post("/acme/logout", data={**hidden_fields(page.text),
                                                  "confirm": "yes"})
        assert done.status_code == 303
        assert done.headers["location"] == AFTER + "?state=s+2"
        assert "Max-Age=0" in done.headers["set-cookie"]
        assert not await still_signed_in(browser)
    async with idp.browser() as stolen:
        stolen.cookies.set("confidp_session_acme", session or "")
        assert not await still_signed_in(stolen)  # ended server-side, not only the cookie


async def test_the_confirmation_without_a_target_shows_the_signed_out_page(idp: InProcess) -> None:
    async with signed_in(idp) as browser:
        page = await browser.get("/acme/logout")
        done = await browser.post("/acme/logout", data={**hidden_fields(page.text),
                                                  "confirm": "yes"})
        assert done.status_code == 200 and "You have been signed out" in done.text
        assert not await still_signed_in(browser)


@pytest.mark.parametrize("csrf", [None, "", "x" * 43, "wrong"])
async def test_a_confirmation_without_this_browsers_csrf_token_is_refused(idp: InProcess,
                                                                    csrf: str | None) -> None:
    async with signed_in(idp) as browser:
        form = {"confirm": "yes", "client_id": "portal-spa", "post_logout_redirect_uri": AFTER}
        if csrf is not None:
            form["csrf_token"] = csrf
        refused = await browser.post("/acme/logout", data=form, headers=HTML)
        assert refused.status_code == 400
        assert "This sign-out form has expired or was not sent from this site." in refused.text
        assert "Nothing was changed." in refused.text
        assert "set-cookie" not in refused.headers
        assert await still_signed_in(browser)


async def test_the_csrf_token_is_bound_to_the_browser(idp: InProcess) -> None:
    async with signed_in(idp) as first, signed_in(idp) as second:
        token = hidden_fields((await first.get("/acme/logout")).text)["csrf_token"]
        assert hidden_fields((await second.get("/acme/logout")).text)["csrf_token"] != token
        refused = await second.post("/acme/logout", data={"csrf_token": token, "confirm": "yes"},
                              headers={"Accept": "application/json"})
        assert refused.status_code == 400
        assert await still_signed_in(first) and await still_signed_in(second)
        # a cross-site POST carries no session cookie: refused too
        async with idp.browser() as attacker:
            assert (await attacker.post("/acme/logout", data={
                "csrf_token": token, "confirm": "yes"})).status_code == 400
        assert await still_signed_in(first)


async def test_the_carried_target_is_checked_again(idp: InProcess) -> None:
    async with signed_in(idp) as browser:
        fields = hidden_fields((await browser.get("/acme/logout", params={
            "client_id": "portal-spa", "post_logout_redirect_uri": AFTER})).text)
        for changed in ({"post_logout_redirect_uri": "https://evil.example/"},
                        {"client_id": "nosuch"},
                        {"client_id": ""},
                        {"id_token_hint": "x"}):
            response = await browser.post("/acme/logout", data={**fields, "confirm": "yes",
                                                          **changed},
                                    headers={"Accept": "application/json"})
            assert response.status_code == 400, changed
            assert response.json()["error"] == "invalid_request"
            assert await still_signed_in(browser)
        # an unregistered target is refused before any page is shown
        assert (await browser.get("/acme/logout", params={
            "client_id": "portal-spa", "post_logout_redirect_uri": "https://evil.example/"},
            headers=HTML)).status_code == 400


@pytest.mark.parametrize("expired", [False, True])
async def test_a_valid_hint_for_the_signed_in_user_signs_out_at_once(idp: InProcess, state: Path,
                                                                expired: bool) -> None:
    async with signed_in(idp) as browser:
        response = await browser.get("/acme/logout", params={
            "id_token_hint": acme_token(idp, state, expired=expired),
            "post_logout_redirect_uri": AFTER, "state": "bye"})
        assert response.status_code == 302
        assert response.headers["location"] == AFTER + "?state=bye"
        assert not await still_signed_in(browser)


async def test_a_hint_for_another_user_asks(idp: InProcess, state: Path) -> None:
    """Any user of the tenant has an ID token of it: another user's hint is no proof that
    this browser's user wants to sign out."""
    async with signed_in(idp) as browser:
        page = await browser.get("/acme/logout", params={
            "id_token_hint": acme_token(idp, state, subject="bob"),
            "post_logout_redirect_uri": AFTER})
        assert page.status_code == 200 and "Sign out?" in page.text
        assert hidden_fields(page.text)["client_id"] == "portal-spa"  # from the hint
        assert "id_token_hint" not in hidden_fields(page.text)
        assert await still_signed_in(browser)


async def test_another_tenants_hint_is_refused(idp: InProcess, state: Path) -> None:
    async with signed_in(idp) as browser:
        globex = id_token(state, "globex", f"{idp.base}/globex", "hank", "billing")
        response = await browser.get("/acme/logout", params={"id_token_hint": globex},
                               headers={"Accept": "application/json"})
        assert response.status_code == 400
        assert response.json()["error_description"] == \
            "The id_token_hint is not an ID token of this issuer."
        # signed with acme's key but claiming globex's issuer: the tenant mismatch
        forged = id_token(state, "acme", f"{idp.base}/globex", "alice", "portal-spa")
        response = await browser.get("/acme/logout", params={"id_token_hint": forged},
                               headers={"Accept": "application/json"})
        assert response.status_code == 400
        assert response.json()["error_description"] == "Tenant context mismatch."
        assert await still_signed_in(browser)


async def test_an_access_token_is_no_hint(idp: InProcess, state: Path) -> None:
    ring = KeyStore(state).ring("acme")
    now = int(time.time())
    access = ring.sign({"typ": "at+jwt"}, {"iss": f"{idp.base}/acme", "sub": "alice",
                                            "aud": "portal-spa", "iat": now,
                                            "exp": now + 600}, "RS256")
    async with signed_in(idp) as browser:
        response = await browser.get("/acme/logout", params={"id_token_hint": access})
        assert response.status_code == 400
        assert await still_signed_in(browser)


async def test_without_a_session_there_is_nothing_to_confirm(idp: InProcess) -> None:
    async with idp.browser() as browser:
        page = await browser.get("/acme/logout")
        assert page.status_code == 200 and "You have been signed out" in page.text
        back = await browser.get("/acme/logout", params={
            "client_id": "portal-spa", "post_logout_redirect_uri": AFTER, "state": "z"})
        assert back.headers["location"] == AFTER + "?state=z"


async def test_a_post_without_the_session_cookie_continues_by_get(idp: InProcess,
                                                            state: Path) -> None:
    """An application's auto-submitted form is a cross-site POST, which does not carry the
    SameSite=Lax session cookie: confidp answers with a GET of the same request, which does,
    so the session is really ended."""
    hint = acme_token(idp, state)
    async with signed_in(idp) as browser:
        async with idp.browser() as cross_site:
            response = await cross_site.post("/acme/logout", data={
                "id_token_hint": hint, "post_logout_redirect_uri": AFTER, "state": "p"})
        assert response.status_code == 303
        again = response.headers["location"]
        assert again.startswith("/acme/logout?")
        assert query_of(again) == {"id_token_hint": hint, "post_logout_redirect_uri": AFTER,
                                   "state": "p"}
        assert await still_signed_in(browser)
        done = await browser.get(again)  # the browser follows it, with its cookies
        assert done.headers["location"] == AFTER + "?state=p"
        assert not await still_signed_in(browser)
        assert "Max-Age=0" in done.headers["set-cookie"]

