"""End to end with real processes: an application (Authlib's OAuth 2.0 client as the
relying party) -> the downstream confidp's /authorize -> the upstream confidp's login page
(or the fake GitHub) -> the downstream's consent -> code -> tokens, whose ID token (verified
with the downstream's JWKS fetched over HTTP) carries the mapped claims and amr fed; through
each connector type. And what the real upstream can refuse: a person outside the allowed
groups, a person who declines at the upstream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import httpx
import jwt as pyjwt
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from tests.e2e.flow import location, query_of, submit_consent, submit_login
from tests.federation.two_servers import DANA_PASSWORD, Federation, federation

pytestmark = pytest.mark.e2e
CALLBACK = "http://127.0.0.1:9999/callback"


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    with federation(tmp_path_factory.mktemp("federation"), CALLBACK) as running:
        yield running


def relying_party(client_id: str) -> OAuth2Client:
    return OAuth2Client(client_id, token_endpoint_auth_method="none", redirect_uri=CALLBACK,
                        scope="openid profile email groups offline_access",
                        code_challenge_method="S256", timeout=10)


def target(response: httpx.Response) -> str:
    """Where a redirect sends the browser, as an absolute URL."""
    return urljoin(str(response.url), location(response))


def walk(browser: httpx.Client, url: str, fed: Federation) -> httpx.Response:
    """Follow redirects as a browser would, signing in at the upstream confidp and
    approving the downstream's consent, until the application's callback."""
    response = browser.get(url)
    while response.status_code in (302, 303):
        target_url = target(response)
        if target_url.startswith(CALLBACK):
            return response
        if target_url.startswith(f"{fed.corp}/login?"):
            response = submit_login(browser, target_url, "dana", DANA_PASSWORD)
        elif target_url.startswith(f"{fed.acme}/consent?"):
            response = submit_consent(browser, target_url, "approve")
        else:
            response = browser.get(target_url)
    return response


def verified_id_token(fed: Federation, token: str, audience: str) -> dict[str, Any]:
    metadata = httpx.get(f"{fed.acme}/.well-known/openid-configuration").json()
    key = pyjwt.PyJWKClient(metadata["jwks_uri"], cache_jwk_set=False
                            ).get_signing_key_from_jwt(token)
    return pyjwt.decode(token, key.key, algorithms=["RS256"], audience=audience,
                        issuer=metadata["issuer"])


def complete(fed: Federation, client_id: str) -> dict[str, Any]:
    with relying_party(client_id) as client, httpx.Client() as browser:
        verifier = "v" * 64
        url, state = client.create_authorization_url(
            f"{fed.acme}/authorize", code_verifier=verifier, nonce="n-fed-1")
        answer = walk(browser, url, fed)
        back = location(answer)
        assert query_of(back)["state"] == state and "code" in query_of(back), back
        token = client.fetch_token(f"{fed.acme}/token", authorization_response=back,
                                   code_verifier=verifier)
        claims = verified_id_token(fed, token["id_token"], client_id)
        assert claims["nonce"] == "n-fed-1"
        info = client.get(f"{fed.acme}/userinfo").json()
        assert info["sub"] == claims["sub"]
        return claims


def test_an_application_signs_in_through_the_upstream_confidp(fed: Federation) -> None:
    claims = complete(fed, "portal-corp")
    assert claims["sub"] == "corp:u-1001"
    assert claims["amr"] == ["fed"]
    assert (claims["email"], claims["email_verified"]) == ("dana@corp.example", True)
    assert claims["name"] == "Dana Scully" and claims["preferred_username"] == "dana"
    assert claims["groups"] == ["engineering", "staff"]
    status = fed.downstream.status("acme")["connectors"]
    assert status["corp"]["type"] == "oidc"
    assert status["corp"]["discovery"]["last_success"] is not None
    assert status["corp"]["jwks"]["last_success"] is not None
    metrics = fed.downstream.ops_get("/metrics").text
    assert 'confidp_upstream_requests_total{connector="corp",outcome="ok",' in metrics


def test_an_application_signs_in_through_github(fed: Federation) -> None:
    claims = complete(fed, "portal-gh")
    assert claims["sub"] == "gh:4242" and claims["amr"] == ["fed"]
    assert claims["groups"] == ["acme", "acme:platform"]  # the org, and its teams


def test_an_application_signs_in_through_an_oauth2_provider(fed: Federation) -> None:
    claims = complete(fed, "portal-ex")
    assert claims["sub"] == "ex:4242" and claims["amr"] == ["fed"]


def test_the_real_upstream_signs_in_someone_the_connector_does_not_allow(
        fed: Federation) -> None:
    with relying_party("portal-corp-admins") as client, httpx.Client() as browser:
        url, _ = client.create_authorization_url(f"{fed.acme}/authorize",
                                                 code_verifier="w" * 64)
        answer = walk(browser, url, fed)
        assert answer.status_code == 403
        assert "may not sign in here" in answer.text


def test_the_login_page_of_an_application_of_every_source(fed: Federation) -> None:
    with httpx.Client() as browser:
        with relying_party("portal-all") as client:
            url, _ = client.create_authorization_url(f"{fed.acme}/authorize",
                                                     code_verifier="x" * 64)
        page = browser.get(target(browser.get(url)))
        assert page.status_code == 200
        for name in ("Corp Directory", "GitHub", "Example OAuth"):
            assert name in page.text
        assert 'name="password"' in page.text  # acme has users of its own


def test_declining_at_the_upstream_goes_back_with_access_denied(fed: Federation) -> None:
    with relying_party("portal-corp-consent") as client, httpx.Client() as browser:
        url, state = client.create_authorization_url(f"{fed.acme}/authorize",
                                                     code_verifier="y" * 64)
        response = browser.get(url)
        while not target(response).startswith(f"{fed.corp}/login?"):
            response = browser.get(target(response))
        response = submit_login(browser, target(response), "dana", DANA_PASSWORD)
        assert target(response).startswith(f"{fed.corp}/consent?")
        response = submit_consent(browser, target(response), "deny")
        response = browser.get(target(response))  # the downstream's callback
        back = query_of(location(response))
        assert location(response).startswith(CALLBACK)
        assert (back["error"], back["state"]) == ("access_denied", state)
