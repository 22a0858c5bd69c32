"""The ``github`` connector against a fake GitHub Enterprise Server (its OAuth app endpoints
and REST API over real HTTP), and the generic ``oauth2`` connector against the same
endpoints described by URL: organisations and teams as groups and as a filter, the verified
primary e-mail, the numeric id as the upstream subject, and a code GitHub refuses."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.flow import query_of
from tests.federation.fake_upstream import CLIENT_SECRET, FakeGitHub
from tests.federation.flow import (
    SECRET_ENV,
    app,
    at_upstream,
    callback,
    code_after,
    id_claims,
    to_upstream,
    tokens,
)
from tests.inprocess import InProcess, serving
from tests.support import tenant_doc, write_tenant
from tests.web.conftest import PORT


@pytest.fixture(scope="module")
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub().running() as github:
        yield github


@pytest.fixture
def github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.token_auth.clear()
    fake_github.orgs, fake_github.teams = ["acme", "other"], [("acme", "platform"),
                                                               ("other", "fans")]
    return fake_github


WRONG_SECRET_ENV = "CONFIDP_TEST_WRONG_SECRET"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory,
                 fake_github: FakeGitHub) -> AsyncIterator[InProcess]:
    """One downstream confidp with a connector (and an application) per case."""
    connectors = [
        github_connector(fake_github, id="gh", orgs=[{"name": "acme", "teams": ["platform"]}]),
        github_connector(fake_github, id="gh-all", load_all_groups=True),
        github_connector(fake_github, id="gh-security",
                         orgs=[{"name": "acme", "teams": ["security"]}]),
        github_connector(fake_github, id="gh-acme", orgs=[{"name": "acme"}]),
        github_connector(fake_github, id="gh-bad", client_secret={"env": WRONG_SECRET_ENV}),
        oauth2_connector(fake_github, id="ex")]
    base = tmp_path_factory.mktemp("github")
    (base / "tenants").mkdir()
    write_tenant(base / "tenants", "acme.yaml", tenant_doc(
        f"http://127.0.0.1:{PORT}/acme", connectors=connectors,
        applications=[app(c["id"], connectors=[c["id"]]) for c in connectors]))
    saved = {name: os.environ.get(name) for name in (SECRET_ENV, WRONG_SECRET_ENV)}
    os.environ.update({SECRET_ENV: CLIENT_SECRET, WRONG_SECRET_ENV: "not-the-secret"})
    try:
        async with serving(base / "tenants", None, base / "state") as server:
            yield server
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def github_connector(fake: FakeGitHub, **overrides: Any) -> dict[str, Any]:
    return {"id": "corp", "type": "github", "name": "GitHub", "host": fake.url,
            "client_id": "confidp-acme", "client_secret": {"env": SECRET_ENV},
            "allow_http": True, **overrides}


def oauth2_connector(fake: FakeGitHub, **overrides: Any) -> dict[str, Any]:
    return {"id": "corp", "type": "oauth2", "name": "Example OAuth",
            "authorization_endpoint": f"{fake.url}/login/oauth/authorize",
            "token_endpoint": f"{fake.url}/login/oauth/access_token",
            "userinfo_endpoint": f"{fake.url}/api/v3/user",
            "token_endpoint_auth_method": "client_secret_post", "scopes": ["read:user"],
            "client_id": "confidp-acme", "client_secret": {"env": SECRET_ENV},
            "allow_http": True, **overrides}


async def sign_in(server: InProcess, connector_id: str) -> tuple[Any, dict[str, Any]]:
    """A whole sign-in through a connector (its application has its id), in a fresh
    browser: the callback's answer, and the ID token's claims when it passed."""
    async with server.browser() as client:
        url = await to_upstream(client, connector_id)
        answer = await callback(client, at_upstream(url))
        if answer.status_code != 303:
            return answer, {"url": url}
        result = await tokens(client, await code_after(client, answer), connector_id)
        return answer, {"url": url, **id_claims(server, result["id_token"])}


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_github_enterprise_with_orgs_and_teams_as_groups(
        shared: InProcess, github: FakeGitHub) -> None:
    _, claims = await sign_in(shared, "gh")
    sent = query_of(claims["url"])
    assert claims["url"].startswith(f"{github.url}/login/oauth/authorize?")
    assert sent["scope"] == "read:user user:email read:org"
    assert sent["code_challenge_method"] == "S256"
    assert sent["redirect_uri"] == f"http://127.0.0.1:{PORT}/acme/callback/gh"
    assert claims["sub"] == "gh:4242"  # the numeric id, never the login
    assert claims["preferred_username"] == "octocat"
    assert (claims["email"], claims["email_verified"]) == ("octo@corp.example", True)
    assert claims["groups"] == ["acme", "acme:platform"]  # only the listed ones
    assert claims["amr"] == ["fed"]
    assert github.token_auth == ["client_secret_post"]


async def test_github_load_all_groups(shared: InProcess, github: FakeGitHub) -> None:
    _, claims = await sign_in(shared, "gh-all")
    assert claims["groups"] == ["acme", "other", "acme:platform", "other:fans"]
    assert query_of(claims["url"])["scope"] == "read:user user:email read:org"


async def test_github_refuses_people_outside_the_listed_orgs_and_teams(
        shared: InProcess, github: FakeGitHub) -> None:
    answer, _ = await sign_in(shared, "gh-security")
    assert answer.status_code == 403 and "may not sign in here" in answer.text
    github.orgs = ["elsewhere"]
    answer, _ = await sign_in(shared, "gh-acme")
    assert answer.status_code == 403


async def test_a_generic_oauth2_provider_with_its_user_info_fields(
        shared: InProcess, github: FakeGitHub) -> None:
    _, claims = await sign_in(shared, "ex")
    assert claims["sub"] == "ex:4242"
    assert claims["preferred_username"] == "octocat"
    assert claims["name"] == "The Octocat"
    assert "email" not in claims  # the user info's email is null
    assert github.token_auth == ["client_secret_post"]
    assert "code_challenge" in query_of(claims["url"])  # pkce: true by default


async def test_an_oauth2_error_in_a_200_answer_is_refused(
        shared: InProcess, github: FakeGitHub) -> None:
    answer, _ = await sign_in(shared, "gh-bad")
    assert answer.status_code == 502 and "could not be used" in answer.text
    assert "bad_verification_code" in str(shared.ctx.outbound.status("acme", "gh-bad")
                                           .last_error)
