"""Sign-in through an upstream OpenID Connect provider (the ``oidc`` connector and the
``upstream`` step), in-process against a fake provider served over real HTTP: the happy path
with the mapped claims and ``amr`` ``fed``, the login page's buttons, the connector hint, and
every way an upstream answer must be refused (wrong nonce, a replayed callback, another
browser's state, an unknown signing key, another audience, an expired token, a provider
down or too slow, a person the connector does not allow, a person who declines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from confidp.web.ops import connectors_status
from tests.e2e.flow import hidden_fields, location, query_of
from tests.federation.fake_upstream import FakeOidc
from tests.federation.flow import (
    SECRET_ENV,
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
from tests.inprocess import serving
from tests.support import free_port, replace_tenant, write_tenant


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in environ().items():
        monkeypatch.setenv(name, value)


async def serve(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
                document: dict[str, Any]) -> Any:
    write_tenant(tenants_dir, "acme.yaml", document)
    return serving(tenants_dir, themes_dir, tmp_path / "state")


async def test_an_application_of_one_connector_goes_straight_to_it_and_gets_mapped_claims(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    async with await serve(tmp_path, tenants_dir, themes_dir, tenant(corp(upstream))) as server:
        client = server.client
        url = await to_upstream(client)
        sent = query_of(url)
        assert url.startswith(upstream.issuer + "/authorize?")
        assert sent["redirect_uri"] == "http://127.0.0.1:8000/acme/callback/corp"
        assert sent["response_type"] == "code" and sent["code_challenge_method"] == "S256"
        assert sent["scope"].split() == ["openid", "profile", "email"]
        assert len(sent["state"]) >= 43 and len(sent["nonce"]) >= 43
        assert sent["nonce"] != "n-0S6_WzA2Mj"  # the application's nonce stays downstream
        code = await code_after(client, await callback(client, at_upstream(url)))
        result = await tokens(client, code)
        claims = id_claims(server, result["id_token"])
        assert claims["sub"] == "corp:u-1001"
        assert claims["amr"] == ["fed"]
        assert claims["nonce"] == "n-0S6_WzA2Mj"
        assert (claims["email"], claims["email_verified"]) == ("dana@corp.example", True)
        assert (claims["name"], claims["preferred_username"]) == ("Dana Scully", "dana")
        assert claims["groups"] == ["engineering", "staff"]
        assert upstream.token_auth == ["client_secret_basic"]  # the default
        # userinfo gives the same person, and the refresh grant keeps them
        info = await client.get("/acme/userinfo", headers={
            "Authorization": f"Bearer {result['access_token']}"})
        assert info.json()["sub"] == "corp:u-1001"
        refreshed = await client.post("/acme/token", data={
            "grant_type": "refresh_token", "refresh_token": result["refresh_token"],
            "client_id": "portal-spa"})
        assert refreshed.status_code == 200, refreshed.text
        assert id_claims(server, refreshed.json()["id_token"])["groups"] == [
            "engineering", "staff"]
        # the session is the provider's person: a second authorization needs no trip
        again = await client.get("/acme/authorize?" + _query("portal-spa"))
        assert query_of(location(again)).get("code")


async def test_the_login_page_offers_the_form_and_a_button_per_connector(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    async with await serve(tmp_path, tenants_dir, themes_dir, tenant(corp(upstream))) as server:
        client = server.client
        response = await client.get("/acme/authorize?" + _query("portal-both"))
        login = location(response)
        assert login.startswith("/acme/login?")
        page = await client.get(login)
        assert 'name="password"' in page.text
        assert 'name="connector" value="corp"' in page.text and "Corporate SSO" in page.text
        chosen = await client.post("/acme/upstream", data={**hidden_fields(page.text),
                                                           "connector": "corp"})
        assert chosen.status_code == 303
        url = location(chosen)
        assert url.startswith(upstream.issuer + "/authorize?")
        code = await code_after(client, await callback(client, at_upstream(url)))
        assert (await tokens(client, code, "portal-both"))["id_token"]
        # a connector the application does not accept is refused, never followed
        server.clock.now += 10  # prompt=login asks for a sign-in newer than the request
        page = await client.get(location(await client.get("/acme/authorize?" + _query(
            "portal-both", prompt="login"))))
        refused = await client.post("/acme/upstream", data={**hidden_fields(page.text),
                                                            "connector": "github"})
        assert refused.status_code == 400, refused.text
        assert "not available" in refused.text, refused.text[-800:]


async def test_the_connector_hint_goes_straight_to_an_accepted_connector(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    async with await serve(tmp_path, tenants_dir, themes_dir, tenant(corp(upstream))) as server:
        url = await to_upstream(server.client, "portal-both", connector="corp")
        assert url.startswith(upstream.issuer + "/authorize?")
        # an unknown hint is ignored: the login page
        response = await server.client.get("/acme/authorize?" + _query(
            "portal-both", connector="nope"))
        assert location(response).startswith("/acme/login?")


async def test_a_local_session_does_not_sign_in_to_an_application_of_the_connector_only(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    from tests.inprocess import submit_login
    async with await serve(tmp_path, tenants_dir, themes_dir, tenant(corp(upstream))) as server:
        client = server.client
        login = location(await client.get("/acme/authorize?" + _query("portal-both")))
        signed_in = await submit_login(client, login, "alice", "wonderland")
        assert signed_in.status_code == 303
        assert client.cookies.get("confidp_session_acme")
        url = await to_upstream(client)  # portal-spa accepts only corp
        assert url.startswith(upstream.issuer + "/authorize?")


def _query(client_id: str, **extra: str) -> str:
    from urllib.parse import urlencode

    from tests.e2e.flow import seed_params
    return urlencode(seed_params(client_id=client_id, scope="openid profile", **extra))


@pytest.mark.parametrize(("misbehave", "reason"), [
    ("wrong_nonce", "nonce"), ("unknown_key", "key"), ("wrong_aud", "aud"),
    ("expired", "expired")])
async def test_an_id_token_that_fails_a_check_ends_the_sign_in_with_a_page(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc,
        misbehave: str, reason: str) -> None:
    async with await serve(tmp_path, tenants_dir, themes_dir, tenant(corp(upstream))) as server:
        client = server.client
        url = await to_upstream(client)
        upstream.misbehave = misbehave
        jwks_before = upstream.requests.count(("GET", "/jwks"))
        answer = await callback(client, at_upstream(url))
        assert answer.status_code == 502, answer.text[:300]
        assert "could not be used" in answer.text
        assert not client.cookies.get("confidp_session_acme")
        # /status says which check failed
        assert reason in str(server.ctx.outbound.status("acme", "corp").last_error)
        if misbehave == "unknown_key":  # the key set was fetched again for the unknown kid
            assert upstream.requests.count(("GET", "/jwks")) == jwks_before + 1


async def test_a_callback_is_taken_once(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
                                        upstream: FakeOidc) -> None:
    async with await serve(tmp_path, tenants_dir, themes_dir, tenant(corp(upstream))) as server:
        client = server.client
        back = at_upstream(await to_upstream(client))
        first = await callback(client, back)
        assert first.status_code == 303
        replay = await callback(client, back)
        assert replay.status_code == 400
        assert "expired or was already used" in replay.text


async def test_another_browsers_callback_is_refused_and_left_for_its_owner(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    async with await serve(tmp_path, tenants_dir, themes_dir, tenant(corp(upstream))) as server:
        victim = server.client
        back = at_upstream(await to_upstream(victim))
        async with server.browser() as attacker:
            stolen = await callback(attacker, back)
            assert stolen.status_code == 400
            assert "started in another browser" in stolen.text
            assert not attacker.cookies.get("confidp_session_acme")
        # the browser that started it still finishes it
        assert await code_after(victim, await callback(victim, back))


async def test_a_callback_with_a_made_up_state_or_for_another_connector_is_refused(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    document = tenant(corp(upstream), corp(upstream, id="other"))
    async with await serve(tmp_path, tenants_dir, themes_dir, document) as server:
        client = server.client
        made_up = await client.get("/acme/callback/corp?code=x&state=" + "A" * 43)
        assert made_up.status_code == 400
        back = at_upstream(await to_upstream(client))
        elsewhere = await client.get(local(back).replace("/callback/corp", "/callback/other"))
        assert elsewhere.status_code == 400 and "another identity provider" in elsewhere.text
        doubled = await client.get(local(back) + "&state=x")
        assert doubled.status_code == 400 and "malformed" in doubled.text
        unknown = await client.get("/acme/callback/nope?state=" + "A" * 43)
        assert unknown.status_code == 400


async def test_a_provider_that_is_down_or_too_slow_gives_a_page_not_a_hang(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    down = corp(upstream, id="down", issuer=f"http://127.0.0.1:{free_port()}")
    slow = corp(upstream, id="slow", timeout="1s")
    document = tenant(corp(upstream), down, slow,
                      applications=[_app("portal-down", ["down"]), _app("portal-slow", ["slow"])])
    async with await serve(tmp_path, tenants_dir, themes_dir, document) as server:
        client = server.client
        response = await client.get("/acme/authorize?" + _query("portal-down"))
        response = await client.get(location(response))
        assert response.status_code == 502
        assert "did not answer" in response.text
        status = await client.get("/acme/authorize?" + _query("portal-slow"))
        url = location(await client.get(location(status)))
        upstream.delay = 1.5  # the token endpoint answers after the connector's timeout
        answer = await callback(client, at_upstream(url))
        assert answer.status_code == 502 and "did not answer" in answer.text


def _app(client_id: str, connectors: list[str]) -> dict[str, Any]:
    from tests.federation.flow import app
    return app(client_id, connectors=connectors)


async def test_a_person_outside_the_allowed_groups_may_not_sign_in(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    document = tenant(corp(upstream, allowed_groups=["admins"]))
    async with await serve(tmp_path, tenants_dir, themes_dir, document) as server:
        client = server.client
        answer = await callback(client, at_upstream(await to_upstream(client)))
        assert answer.status_code == 403
        assert "may not sign in here" in answer.text
        assert not client.cookies.get("confidp_session_acme")


async def test_a_person_who_declines_at_the_provider_goes_back_with_access_denied(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    async with await serve(tmp_path, tenants_dir, themes_dir, tenant(corp(upstream))) as server:
        client = server.client
        url = await to_upstream(client)
        upstream.deny = True
        answer = await callback(client, at_upstream(url))
        back = query_of(location(answer))
        assert location(answer).startswith("http://127.0.0.1:9999/callback?")
        assert (back["error"], back["state"]) == ("access_denied", "9d4f8dd1")


async def test_client_secret_post_when_configured(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    document = tenant(corp(upstream, token_endpoint_auth_method="client_secret_post"))
    async with await serve(tmp_path, tenants_dir, themes_dir, document) as server:
        client = server.client
        assert await code_after(client, await callback(client, at_upstream(
            await to_upstream(client))))
        assert upstream.token_auth == ["client_secret_post"]


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


async def test_removing_the_connector_ends_its_sessions_and_refresh_tokens(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    async with await serve(tmp_path, tenants_dir, themes_dir, tenant(corp(upstream))) as server:
        client = server.client
        code = await code_after(client, await callback(client, at_upstream(
            await to_upstream(client))))
        result = await tokens(client, code)
        without = tenant(applications=[{**_app("portal-spa", ["local"])}])
        replace_tenant(tenants_dir, "acme.yaml", without)
        await server.reloaded(lambda s: not s.tenant("acme").connectors)
        refused = await client.post("/acme/token", data={
            "grant_type": "refresh_token", "refresh_token": result["refresh_token"],
            "client_id": "portal-spa"})
        assert refused.status_code == 400
        login = location(await client.get("/acme/authorize?" + _query("portal-spa")))
        assert login.startswith("/acme/login?")  # the session ended with its source


async def test_status_and_metrics_show_each_connector(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path, upstream: FakeOidc) -> None:
    down = corp(upstream, id="down", issuer=f"http://127.0.0.1:{free_port()}")
    document = tenant(corp(upstream), down, applications=[_app("portal-spa", ["corp"]),
                                                          _app("portal-down", ["down"])])
    async with await serve(tmp_path, tenants_dir, themes_dir, document) as server:
        client = server.client
        await code_after(client, await callback(client, at_upstream(await to_upstream(client))))
        await client.get(location(await client.get("/acme/authorize?" + _query("portal-down"))))
        connectors = connectors_status(server.ctx.snapshot.tenant("acme"), server.ctx.outbound)
        status = str(connectors)
        assert connectors["corp"]["type"] == "oidc"
        assert connectors["corp"]["discovery"]["last_success"] is not None
        assert connectors["corp"]["jwks"]["last_success"] is not None
        assert connectors["down"]["discovery"]["last_error"]
        metrics = server.ctx.metrics.exposition().decode()
        assert 'confidp_upstream_requests_total{connector="corp",endpoint="token",' \
               'outcome="ok",tenant="acme"} 1.0' in metrics
        assert 'connector="down",endpoint="discovery",outcome="unreachable"' in metrics
        assert SECRET_ENV not in str(status)
