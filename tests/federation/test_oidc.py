"""Sign-in through an upstream OpenID Connect provider (the ``oidc`` connector and the
``upstream`` step), in-process against a fake provider served over real HTTP: the happy path
with the mapped claims and ``amr`` ``fed``, the login page's buttons, the connector hint, and
every way an upstream answer must be refused (wrong nonce, a replayed callback, another
browser's state, an unknown signing key, another audience, an expired token, a provider
down or too slow, a person the connector does not allow, a person who declines)."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from confidp.web.ops import connectors_status
from tests.e2e.flow import hidden_fields, location, query_of
from tests.federation.fake_upstream import FakeOidc
from tests.federation.flow import (
    SECRET_ENV,
    app,
    at_upstream,
    callback,
    code_after,
    corp,
    environ,
    id_claims,
    local,
    tenant,
    to_upstream,
    tokens,
)
from tests.inprocess import InProcess, serving
from tests.support import free_port, replace_tenant, write_tenant

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in environ().items():
        monkeypatch.setenv(name, value)


async def serve(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
                document: dict[str, Any]) -> Any:
    write_tenant(tenants_dir, "acme.yaml", document)
    return serving(tenants_dir, themes_dir, tmp_path / "state")


def shared_tenant(provider: FakeOidc) -> dict[str, Any]:
    """Every connector and application the tests without a tenant edit need."""
    connectors = [corp(provider), corp(provider, id="other"),
                  corp(provider, id="down", issuer=f"http://127.0.0.1:{free_port()}"),
                  corp(provider, id="slow", timeout="2s"),
                  corp(provider, id="picky", allowed_groups=["admins"]),
                  corp(provider, id="post", token_endpoint_auth_method="client_secret_post")]
    applications = [_app("portal-spa", ["corp"]), app("portal-both"),
                    app("portal-consent", connectors=["corp"], require_consent=True),
                    *(_app(f"portal-{c}", [c]) for c in ("down", "slow", "picky", "post"))]
    return tenant(*connectors, applications=applications)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory,
                 fake_oidc: FakeOidc) -> AsyncIterator[InProcess]:
    """One downstream confidp for the module's tests that edit no tenant file."""
    base = tmp_path_factory.mktemp("shared")
    (base / "tenants").mkdir()
    write_tenant(base / "tenants", "acme.yaml", shared_tenant(fake_oidc))
    previous = os.environ.get(SECRET_ENV)
    os.environ.update(environ())
    try:
        async with serving(base / "tenants", None, base / "state") as server:
            yield server
    finally:
        if previous is None:
            os.environ.pop(SECRET_ENV, None)


@pytest.fixture
def events() -> Iterator[list[dict[str, Any]]]:
    """The audit events (confidp.audit) written while the test runs."""
    written: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            event = getattr(record, "audit", None)
            if isinstance(event, dict):
                written.append(event)

    handler = Keep()
    logger = logging.getLogger("confidp.audit")
    logger.addHandler(handler)
    try:
        yield written
    finally:
        logger.removeHandler(handler)


@pytest_asyncio.fixture(loop_scope="module")
async def browser(shared: InProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh browser (its own cookies) on the shared downstream."""
    async with shared.browser() as client:
        yield client


async def test_an_application_of_one_connector_goes_straight_to_it_and_gets_mapped_claims(
        shared: InProcess, browser: httpx.AsyncClient, upstream: FakeOidc,
        events: list[dict[str, Any]]) -> None:
    url = await to_upstream(browser)
    sent = query_of(url)
    assert url.startswith(upstream.issuer + "/authorize?")
    assert sent["redirect_uri"] == "http://127.0.0.1:8000/acme/callback/corp"
    assert sent["response_type"] == "code" and sent["code_challenge_method"] == "S256"
    assert sent["scope"].split() == ["openid", "profile", "email"]
    assert len(sent["state"]) >= 43 and len(sent["nonce"]) >= 43
    assert sent["nonce"] != "n-0S6_WzA2Mj"  # the application's nonce stays downstream
    code = await code_after(browser, await callback(browser, at_upstream(url)))
    result = await tokens(browser, code)
    claims = id_claims(shared, result["id_token"])
    assert claims["sub"] == "corp:u-1001"
    assert claims["amr"] == ["fed"]
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert (claims["email"], claims["email_verified"]) == ("dana@corp.example", True)
    assert (claims["name"], claims["preferred_username"]) == ("Dana Scully", "dana")
    assert claims["groups"] == ["engineering", "staff"]
    assert upstream.token_auth == ["client_secret_basic"]  # the default
    [succeeded] = [e for e in events if e["event"] == "signin.succeeded"]
    assert (succeeded["connector"], succeeded["subject"], succeeded["amr"]) == (
        "corp", "corp:u-1001", ["fed"])
    # userinfo gives the same person, and the refresh grant keeps them
    info = await browser.get("/acme/userinfo", headers={
        "Authorization": f"Bearer {result['access_token']}"})
    assert info.json()["sub"] == "corp:u-1001"
    refreshed = await browser.post("/acme/token", data={
        "grant_type": "refresh_token", "refresh_token": result["refresh_token"],
        "client_id": "portal-spa"})
    assert refreshed.status_code == 200, refreshed.text
    assert id_claims(shared, refreshed.json()["id_token"])["groups"] == [
        "engineering", "staff"]
    # the session is the provider's person: a second authorization needs no trip
    again = await browser.get("/acme/authorize?" + _query("portal-spa"))
    assert query_of(location(again)).get("code")


async def test_the_login_page_offers_the_form_and_a_button_per_connector(
        shared: InProcess, browser: httpx.AsyncClient, upstream: FakeOidc) -> None:
    login = location(await browser.get("/acme/authorize?" + _query("portal-both")))
    assert login.startswith("/acme/login?")
    page = await browser.get(login)
    assert 'name="password"' in page.text
    assert 'name="connector" value="corp"' in page.text and "Corporate SSO" in page.text
    chosen = await browser.post("/acme/upstream", data={**hidden_fields(page.text),
                                                        "connector": "corp"})
    assert chosen.status_code == 303
    url = location(chosen)
    assert url.startswith(upstream.issuer + "/authorize?")
    code = await code_after(browser, await callback(browser, at_upstream(url)))
    assert (await tokens(browser, code, "portal-both"))["id_token"]
    # a connector the tenant does not have is refused, never followed
    shared.clock.now += 10  # prompt=login asks for a sign-in newer than the request
    page = await browser.get(location(await browser.get("/acme/authorize?" + _query(
        "portal-both", prompt="login", state="second"))))
    refused = await browser.post("/acme/upstream", data={**hidden_fields(page.text),
                                                         "connector": "github"})
    assert refused.status_code == 400, refused.text
    assert "not available" in refused.text


async def test_a_connector_the_application_does_not_accept_is_refused(
        browser: httpx.AsyncClient) -> None:
    from tests.inprocess import submit_login
    login = location(await browser.get("/acme/authorize?" + _query("portal-both")))
    page = await browser.get(login)
    # portal-both accepts every connector; portal-picky's sign-in offers only picky
    picky = location(await browser.get("/acme/authorize?" + _query("portal-picky")))
    assert picky.startswith("/acme/upstream?")  # straight there, no page
    refused = await browser.post("/acme/upstream", data={
        **hidden_fields(page.text), "connector": "nope"})
    assert refused.status_code == 400
    assert (await submit_login(browser, login, "alice", "wonderland")).status_code == 303


async def test_the_connector_hint_goes_straight_to_an_accepted_connector(
        browser: httpx.AsyncClient, upstream: FakeOidc) -> None:
    url = await to_upstream(browser, "portal-both", connector="corp")
    assert url.startswith(upstream.issuer + "/authorize?")
    # an unknown hint is ignored: the login page
    response = await browser.get("/acme/authorize?" + _query("portal-both", connector="nope"))
    assert location(response).startswith("/acme/login?")


async def test_a_local_session_does_not_sign_in_to_an_application_of_the_connector_only(
        browser: httpx.AsyncClient, upstream: FakeOidc) -> None:
    from tests.inprocess import submit_login
    login = location(await browser.get("/acme/authorize?" + _query("portal-both")))
    signed_in = await submit_login(browser, login, "alice", "wonderland")
    assert signed_in.status_code == 303
    assert browser.cookies.get("confidp_session_acme")
    url = await to_upstream(browser)  # portal-spa accepts only corp
    assert url.startswith(upstream.issuer + "/authorize?")


def _query(client_id: str, **extra: str) -> str:
    from urllib.parse import urlencode

    from tests.e2e.flow import seed_params
    return urlencode(seed_params(client_id=client_id, scope="openid profile", **extra))


@pytest.mark.parametrize(("misbehave", "reason"), [
    ("wrong_nonce", "nonce"), ("unknown_key", "key"), ("wrong_aud", "aud"),
    ("expired", "expired")])
async def test_an_id_token_that_fails_a_check_ends_the_sign_in_with_a_page(
        shared: InProcess, browser: httpx.AsyncClient, upstream: FakeOidc,
        misbehave: str, reason: str, events: list[dict[str, Any]]) -> None:
    url = await to_upstream(browser)
    upstream.misbehave = misbehave
    jwks_before = upstream.requests.count(("GET", "/jwks"))
    shared.clock.now += 11  # past the key set's refetch interval
    answer = await callback(browser, at_upstream(url))
    assert answer.status_code == 502, answer.text[:300]
    assert "could not be used" in answer.text
    assert not browser.cookies.get("confidp_session_acme")
    # /status says which check failed, and so does the audit event
    assert reason in str(shared.ctx.outbound.status("acme", "corp").last_error)
    [failed] = [e for e in events if e["event"] == "signin.failed"]
    assert (failed["reason"], failed["connector"], failed["client_id"]) == (
        "upstream_error", "corp", "portal-spa")
    assert reason in failed["detail"] or (reason, failed["detail"]) == ("key", "unknown_key")
    if misbehave == "unknown_key":  # the key set was fetched again for the unknown kid
        assert upstream.requests.count(("GET", "/jwks")) == jwks_before + 1


async def test_a_callback_is_taken_once(browser: httpx.AsyncClient, upstream: FakeOidc) -> None:
    # an application with consent: the sign-in is still open after the first callback
    back = at_upstream(await to_upstream(browser, "portal-consent"))
    first = await callback(browser, back)
    assert first.status_code == 303 and "/acme/consent?" in location(first)
    replay = await callback(browser, back)
    assert replay.status_code == 400
    assert "expired or was already used" in replay.text
    assert upstream.requests.count(("POST", "/token")) == 1  # the code was not sent again


async def test_another_browsers_callback_is_refused_and_left_for_its_owner(
        shared: InProcess, browser: httpx.AsyncClient, upstream: FakeOidc) -> None:
    back = at_upstream(await to_upstream(browser))
    async with shared.browser() as attacker:
        stolen = await callback(attacker, back)
        assert stolen.status_code == 400
        assert "started in another browser" in stolen.text
        assert not attacker.cookies.get("confidp_session_acme")
    # the browser that started it still finishes it
    assert await code_after(browser, await callback(browser, back))


async def test_a_callback_with_a_made_up_state_or_for_another_connector_is_refused(
        browser: httpx.AsyncClient, upstream: FakeOidc) -> None:
    made_up = await browser.get("/acme/callback/corp?code=x&state=" + "A" * 43)
    assert made_up.status_code == 400
    back = at_upstream(await to_upstream(browser))
    elsewhere = await browser.get(local(back).replace("/callback/corp", "/callback/other"))
    assert elsewhere.status_code == 400 and "another identity provider" in elsewhere.text
    doubled = await browser.get(local(back) + "&state=x")
    assert doubled.status_code == 400 and "malformed" in doubled.text
    unknown = await browser.get("/acme/callback/nope?state=" + "A" * 43)
    assert unknown.status_code == 400
    nested = await browser.get("/acme/callback/corp/x?state=" + "A" * 43)
    assert nested.status_code == 404
    # the trip is still there for the right callback
    assert await code_after(browser, await callback(browser, back))


async def test_a_provider_that_is_down_or_too_slow_gives_a_page_not_a_hang(
        browser: httpx.AsyncClient, upstream: FakeOidc) -> None:
    response = await browser.get("/acme/authorize?" + _query("portal-down"))
    response = await browser.get(location(response))
    assert response.status_code == 502
    assert "did not answer" in response.text
    url = location(await browser.get(location(await browser.get(
        "/acme/authorize?" + _query("portal-slow")))))
    upstream.delay = 3  # the token endpoint answers after the connector's timeout
    answer = await callback(browser, at_upstream(url))
    assert answer.status_code == 502 and "did not answer" in answer.text


@pytest.mark.parametrize("misbehave", ["deep_json", "drip"])
async def test_a_hostile_token_answer_is_refused_in_time(
        browser: httpx.AsyncClient, upstream: FakeOidc, misbehave: str) -> None:
    """JSON nested past the parser's depth; a body trickling in a byte every 0.1 s (each read
    within httpx's own timeouts, the whole past the connector's 2 s)."""
    url = location(await browser.get(location(await browser.get(
        "/acme/authorize?" + _query("portal-slow")))))
    upstream.misbehave = misbehave
    answer = await callback(browser, at_upstream(url))
    assert answer.status_code == 502
    assert ("did not answer" if misbehave == "drip" else "could not be used") in answer.text


def _app(client_id: str, connectors: list[str]) -> dict[str, Any]:
    return app(client_id, connectors=connectors)


async def test_a_person_outside_the_allowed_groups_may_not_sign_in(
        browser: httpx.AsyncClient, upstream: FakeOidc, events: list[dict[str, Any]]) -> None:
    answer = await callback(browser, at_upstream(await to_upstream(browser, "portal-picky")))
    assert answer.status_code == 403
    assert "may not sign in here" in answer.text
    assert [(e["event"], e["reason"], e["connector"]) for e in events] == [
        ("signin.failed", "not_allowed", "picky")]
    assert not browser.cookies.get("confidp_session_acme")


async def test_a_person_who_declines_at_the_provider_goes_back_with_access_denied(
        browser: httpx.AsyncClient, upstream: FakeOidc, events: list[dict[str, Any]]) -> None:
    url = await to_upstream(browser)
    upstream.deny = True
    answer = await callback(browser, at_upstream(url))
    back = query_of(location(answer))
    assert location(answer).startswith("http://127.0.0.1:9999/callback?")
    assert (back["error"], back["state"]) == ("access_denied", "9d4f8dd1")
    assert [(e["event"], e["reason"], e["detail"]) for e in events] == [
        ("signin.failed", "upstream_error", "access_denied")]


async def test_client_secret_post_when_configured(
        browser: httpx.AsyncClient, upstream: FakeOidc) -> None:
    assert await code_after(browser, await callback(browser, at_upstream(
        await to_upstream(browser, "portal-post"))))
    assert upstream.token_auth == ["client_secret_post"]


async def test_status_and_metrics_show_each_connector(
        shared: InProcess, browser: httpx.AsyncClient, upstream: FakeOidc) -> None:
    await code_after(browser, await callback(browser, at_upstream(await to_upstream(browser))))
    await browser.get(location(await browser.get("/acme/authorize?" + _query("portal-down"))))
    connectors = connectors_status(shared.ctx.snapshot.tenant("acme"), shared.ctx.outbound)
    status = str(connectors)
    assert connectors["corp"]["type"] == "oidc"
    assert connectors["corp"]["discovery"]["last_success"] is not None
    assert connectors["corp"]["jwks"]["last_success"] is not None
    assert connectors["down"]["discovery"]["last_error"]
    metrics = shared.ctx.metrics.exposition().decode()
    assert 'confidp_upstream_requests_total{connector="corp",outcome="ok",tenant="acme"}' \
        in metrics
    assert 'confidp_upstream_requests_total{connector="down",outcome="error",tenant="acme"}' \
        in metrics
    assert 'confidp_upstream_request_duration_seconds_count{connector="corp",tenant="acme"}' \
        in metrics
    assert SECRET_ENV not in status and "upstream-secret" not in status


async def test_a_tenant_edit_stops_identities_that_no_longer_qualify(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    document = tenant(corp(upstream, allowed_groups=["engineering"]))
    async with await serve(tmp_path, tenants_dir, themes_dir, document) as server:
        client = server.client
        code = await code_after(client, await callback(client, at_upstream(
            await to_upstream(client))))
        result = await tokens(client, code)
        # engineering is no longer allowed: the refresh token ends at its next use
        replace_tenant(tenants_dir, "acme.yaml", tenant(corp(upstream,
                                                             allowed_groups=["admins"])))
        await server.reloaded(lambda s: s.tenant("acme").connectors[0].settings[
            "allowed_groups"] == ["admins"])
        refused = await client.post("/acme/token", data={
            "grant_type": "refresh_token", "refresh_token": result["refresh_token"],
            "client_id": "portal-spa"})
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        # and the session no longer signs anyone in: the next authorization goes upstream
        assert (await to_upstream(client)).startswith(upstream.issuer)
        # an application that stops accepting the connector ends its refresh tokens too
        replace_tenant(tenants_dir, "acme.yaml", tenant(corp(upstream), applications=[
            _app("portal-spa", ["corp"]), app("portal-both")]))
        await server.reloaded(lambda s: not s.tenant("acme").connectors[0].settings[
            "allowed_groups"])
        both = await tokens(client, await code_after(client, await callback(
            client, at_upstream(await to_upstream(client, "portal-both", connector="corp")))),
            "portal-both")
        replace_tenant(tenants_dir, "acme.yaml", tenant(corp(upstream), applications=[
            _app("portal-spa", ["corp"]), _app("portal-both", ["local"])]))
        await server.reloaded(lambda s: s.tenant("acme").application("portal-both")
                              .connectors == ("local",))
        refused = await client.post("/acme/token", data={
            "grant_type": "refresh_token", "refresh_token": both["refresh_token"],
            "client_id": "portal-both"})
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        # removing the connector ends what it signed in too, and its callback
        replace_tenant(tenants_dir, "acme.yaml", tenant(applications=[
            _app("portal-spa", ["local"])]))
        await server.reloaded(lambda s: not s.tenant("acme").connectors)
        login = location(await client.get("/acme/authorize?" + _query("portal-spa")))
        assert login.startswith("/acme/login?")
