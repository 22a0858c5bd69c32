"""Real Chromium through a federated sign-in between two real confidp processes: the
application's authorization URL at the downstream confidp goes straight to the upstream
confidp's login page, back to the downstream's consent page, and to the application with a
code, which the application (Authlib) exchanges for tokens whose ID token carries the
mapped claims and amr fed.

Run in their own pytest process (``make test`` does).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt as pyjwt
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from playwright.async_api import Browser

from tests.federation.two_servers import DANA_PASSWORD, Federation, federation

pytestmark = pytest.mark.asyncio(loop_scope="session")
VERIFIER = "federated-browser-verifier-" + "x" * 40


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, callback: str) -> Iterator[Federation]:
    with federation(tmp_path_factory.mktemp("federation"), callback) as running:
        yield running


async def test_a_federated_sign_in_in_chromium(browser: Browser, fed: Federation) -> None:
    client = OAuth2Client("portal-corp", token_endpoint_auth_method="none",
                          redirect_uri=fed.callback, code_challenge_method="S256",
                          scope="openid profile email groups", timeout=10)
    url, state = client.create_authorization_url(f"{fed.acme}/authorize",
                                                 code_verifier=VERIFIER, nonce="n-chromium")
    context = await browser.new_context(locale="en-US")
    try:
        page = await context.new_page()
        await page.goto(url)
        # a plain redirect chain: straight to the upstream's themed login page
        await page.wait_for_url(f"{fed.corp}/login?request=*")
        await page.locator("#username").fill("dana")
        await page.locator("#password").fill(DANA_PASSWORD)
        await page.locator("form[action$='/login'] button[type=submit]").click()
        await page.wait_for_url(f"{fed.acme}/consent?request=*")
        assert "dana" in await page.content()
        await page.locator("button[value=approve]").click()
        await page.wait_for_url(f"{fed.callback}?*")
        back = page.url
    finally:
        await context.close()
    answer = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    assert answer["state"] == state and answer["iss"] == fed.acme
    with client:
        token = client.fetch_token(f"{fed.acme}/token", authorization_response=back,
                                   code_verifier=VERIFIER)
    metadata = httpx.get(f"{fed.acme}/.well-known/openid-configuration").json()
    key = pyjwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token["id_token"])
    claims = pyjwt.decode(token["id_token"], key.key, algorithms=["RS256"],
                          audience="portal-corp", issuer=fed.acme)
    assert claims["sub"] == "corp:u-1001" and claims["amr"] == ["fed"]
    assert claims["nonce"] == "n-chromium"
    assert (claims["email"], claims["name"]) == ("dana@corp.example", "Dana Scully")
    assert claims["groups"] == ["engineering", "staff"]
