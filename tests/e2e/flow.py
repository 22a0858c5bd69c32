"""Helpers to drive the browser flow over plain HTTP, as a browser without JavaScript would."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


def seed_params(redirect_uri: str = "http://127.0.0.1:9999/callback",
                **overrides: str) -> dict[str, str]:
    params = {"client_id": "portal-spa", "redirect_uri": redirect_uri, "response_type": "code",
              "scope": "openid profile email offline_access orders.read", "state": "9d4f8dd1",
              "code_challenge": CHALLENGE, "code_challenge_method": "S256"}
    params.update(overrides)
    return params


def authorize_url(tenant_path: str, params: dict[str, str] | list[tuple[str, str]],
                  endpoint: str = "/authorize") -> str:
    return f"{tenant_path}{endpoint}?{urlencode(params)}"


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def location(response: httpx.Response) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    return response.headers["location"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def submit_login(client: httpx.Client, login_url: str, username: str,
                 password: str) -> httpx.Response:
    page = client.get(login_url)
    assert page.status_code == 200, page.text[:500]
    fields = hidden_fields(page.text)
    return client.post(login_url.split("?")[0],
                       data={**fields, "username": username, "password": password})


def submit_consent(client: httpx.Client, consent_url: str, decision: str) -> httpx.Response:
    page = client.get(consent_url)
    assert page.status_code == 200, page.text[:500]
    return client.post(consent_url.split("?")[0],
                       data={**hidden_fields(page.text), "decision": decision})
