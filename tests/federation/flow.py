"""Driving a sign-in through an upstream provider in-process: the downstream confidp is
called through its ASGI client, the upstream over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import jwt

from tests.e2e.flow import VERIFIER, authorize_url, location, query_of, seed_params
from tests.federation.fake_upstream import CLIENT_SECRET, FakeOidc
from tests.inprocess import BASE, InProcess
from tests.support import tenant_doc
from tests.web.conftest import PORT

ISSUER = f"http://127.0.0.1:{PORT}/acme"
SECRET_ENV = "CONFIDP_TEST_CORP_SECRET"


def corp(provider: FakeOidc, **overrides: Any) -> dict[str, Any]:
    return {"id": "corp", "type": "oidc", "name": "Corporate SSO", "issuer": provider.issuer,
            "client_id": "confidp-acme", "client_secret": {"env": SECRET_ENV},
            "allow_http": True, **overrides}


def app(client_id: str = "portal-spa", **overrides: Any) -> dict[str, Any]:
    return {"client_id": client_id, "name": "Portal", "type": "public",
            "redirect_uris": ["http://127.0.0.1:9999/callback"],
            "scopes": ["openid", "profile", "email", "offline_access", "groups"],
            "grant_types": ["authorization_code", "refresh_token"], **overrides}


def tenant(*connectors: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    document = tenant_doc(ISSUER, connectors=list(connectors),
                          applications=[app(connectors=["corp"]),
                                        app("portal-both"), app("portal-consent",
                                                                require_consent=True)])
    document.update(overrides)
    return document


def environ() -> dict[str, str]:
    return {SECRET_ENV: CLIENT_SECRET}


def local(url: str) -> str:
    """A downstream URL as the in-process client calls it."""
    return url.removeprefix(BASE)


async def to_upstream(client: httpx.AsyncClient, client_id: str = "portal-spa",
                      **params: str) -> str:
    """/authorize until the browser is sent to the upstream provider: its URL."""
    response = await client.get(authorize_url("/acme", seed_params(
        client_id=client_id, scope="openid profile email offline_access groups",
        nonce="n-0S6_WzA2Mj", **params)))
    while location(response).startswith(("/acme/", BASE)):
        response = await client.get(local(location(response)))
    return location(response)


def at_upstream(url: str) -> str:
    """The upstream signs the person in at once: the callback URL it sends them to."""
    response = httpx.get(url, follow_redirects=False)
    return location(response)


async def callback(client: httpx.AsyncClient, url: str) -> httpx.Response:
    return await client.get(local(url))


async def code_after(client: httpx.AsyncClient, response: httpx.Response) -> str:
    """Follow the downstream's redirects until the application gets its code."""
    while location(response).startswith(("/acme/", BASE)):
        response = await client.get(local(location(response)))
    answer = query_of(location(response))
    assert "code" in answer, answer
    return answer["code"]


async def tokens(client: httpx.AsyncClient, code: str,
                 client_id: str = "portal-spa") -> dict[str, Any]:
    response = await client.post("/acme/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": client_id,
        "redirect_uri": "http://127.0.0.1:9999/callback", "code_verifier": VERIFIER})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def id_claims(server: InProcess, id_token: str) -> dict[str, Any]:
    """The ID token's claims, its signature checked with the downstream's published key."""
    ring = server.ctx.keys.ring("acme")
    header, claims = ring.verify(id_token)
    assert header["alg"] == "RS256"
    unverified = jwt.decode(id_token, options={"verify_signature": False})
    assert unverified == claims
    return claims
