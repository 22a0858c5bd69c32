"""The account page, in-process: sign-in through it, factors listed and removed, the
re-authentication rule, recovery codes made anew, sessions and applications listed, and
sign out everywhere (sessions ended, refresh families revoked)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pyotp
import pytest

from tests.e2e.flow import hidden_fields, location
from tests.inprocess import InProcess, serving
from tests.mfa.flow import path_of, post_form, recovery_codes_of, secret_of
from tests.mfa.test_totp_signin import begin, doc, enrol, login, tokens
from tests.support import replace_tenant, write_tenant

_ACTION_FORM = re.compile(r'name="action" value="([a-z-]+)"')


@pytest.fixture
async def idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> AsyncIterator[InProcess]:
    write_tenant(tenants_dir, "acme.yaml", doc())
    async with serving(tenants_dir, themes_dir, tmp_path / "state") as server:
        yield server


async def account_sign_in(idp: InProcess) -> None:
    client = idp.client
    start = await client.get("/acme/account")
    login_url = location(start)
    assert path_of(login_url) == "/acme/login"
    done = await post_form(client, login_url, username="alice", password="wonderland")
    assert location(done) == "/acme/account"


async def test_signing_in_to_the_page_and_setting_up_totp(idp: InProcess) -> None:
    await account_sign_in(idp)
    client = idp.client
    page = await client.get("/acme/account")
    assert page.status_code == 200 and "<script" not in page.text
    assert "Signed in as" in page.text and "alice" in page.text
    assert "Set up an authenticator app" in page.text
    assert set(_ACTION_FORM.findall(page.text)) == {"sign-out-everywhere"}
    setup = await client.get("/acme/account/totp")
    assert setup.status_code == 200
    secret = secret_of(setup.text)
    done = await client.post("/acme/account/totp", data={
        **hidden_fields(setup.text), "code": pyotp.TOTP(secret).at(idp.clock.now)})
    assert done.status_code == 200
    codes = recovery_codes_of(done.text)
    assert len(codes) == 10
    page = await client.get("/acme/account")
    assert "Remove the authenticator app" in page.text
    assert "10 recovery codes left." in page.text
    # the session has no second factor: changing factors needs a fresh sign-in with one
    assert "Sign in again" in page.text
    idp.clock.now += 5
    removed = await client.post("/acme/account", data={**hidden_fields(page.text),
                                                       "action": "remove-totp"})
    again = location(removed)
    assert path_of(again) == "/acme/login"
    after_password = location(await post_form(client, again, username="alice",
                                              password="wonderland"))
    assert path_of(after_password) == "/acme/factor/code"
    idp.clock.now += 30
    back = await post_form(client, after_password, code=pyotp.TOTP(secret).at(idp.clock.now))
    assert location(back) == "/acme/account"
    page = await client.get("/acme/account")
    assert "Sign in again" not in page.text
    fresh = await client.post("/acme/account", data={**hidden_fields(page.text),
                                                     "action": "recovery-codes"})
    new_codes = recovery_codes_of(fresh.text)
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    removed = await client.post("/acme/account", data={**hidden_fields(page.text),
                                                       "action": "remove-totp"})
    assert removed.status_code == 200 and "The factor was removed." in removed.text
    stored = await idp.ctx.enrolments.load("acme", "alice")
    assert stored.empty  # the last factor took its recovery codes along
    # a recent sign-in ages: after recent_authentication (10 minutes) it is not recent
    idp.clock.now += 601
    page = await client.get("/acme/account")
    assert "Sign in again" in page.text


async def test_forms_need_the_session_csrf_token(idp: InProcess) -> None:
    await account_sign_in(idp)
    refused = await idp.client.post("/acme/account", data={"action": "sign-out-everywhere",
                                                           "csrf_token": "forged"})
    assert refused.status_code == 400
    assert (await idp.client.get("/acme/account")).status_code == 200  # still signed in
    stranger = idp.browser()
    assert (await stranger.post("/acme/account", data={"action": "sign-out-everywhere"})
            ).status_code == 400


async def test_sign_out_everywhere_ends_sessions_and_refresh_families(idp: InProcess) -> None:
    other = idp.browser()
    issued = await tokens(other, await login(other))  # another browser, with a refresh token
    assert "refresh_token" in issued
    await account_sign_in(idp)
    page = await idp.client.get("/acme/account")
    assert page.text.count("Another browser") == 1 and "This browser" in page.text
    assert "Portal" in page.text  # the application holding a refresh token
    ended = await idp.client.post("/acme/account", data={**hidden_fields(page.text),
                                                         "action": "sign-out-everywhere"})
    assert ended.status_code == 200
    assert path_of(location(await idp.client.get("/acme/account"))) == "/acme/login"
    assert path_of(location(await begin(other))) == "/acme/login"  # its session ended too
    refreshed = await other.post("/acme/token", data={
        "grant_type": "refresh_token", "refresh_token": issued["refresh_token"],
        "client_id": "portal-spa"})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


async def test_enrolled_in_a_sign_in_then_listed(idp: InProcess, tenants_dir: Path) -> None:
    replace_tenant(tenants_dir, "acme.yaml", doc(second_factors={"required": True}))
    await idp.reloaded(lambda s: s.tenant("acme").second_factors.required)  # type: ignore[union-attr]
    await enrol(idp, idp.client)
    page = await idp.client.get("/acme/account")
    assert page.status_code == 200
    assert "Remove the authenticator app" in page.text
    assert "Your organisation requires" not in page.text
