"""Driving second-factor sign-ins over plain HTTP (in-process or against a real server), as a
browser without JavaScript would; pyotp computes the codes."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from tests.e2e.flow import hidden_fields

SECRET = re.compile(r"secret=([A-Z2-7]+)")
RECOVERY = re.compile(r"<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>")
CALLBACK = "http://127.0.0.1:9999/callback"


def secret_of(page: str) -> str:
    found = SECRET.search(unquote(page))
    assert found, page[:1000]
    return found[1]


def recovery_codes_of(page: str) -> list[str]:
    return RECOVERY.findall(page)


def path_of(url: str) -> str:
    return urlsplit(url).path


def code_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["code"][0]


def claims_of(id_token: str) -> dict[str, Any]:
    payload = id_token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


async def post_form(client: httpx.AsyncClient, url: str, **fields: str) -> httpx.Response:
    """The page at ``url``, then its form posted with ``fields``."""
    page = await client.get(url)
    assert page.status_code == 200, (url, page.status_code, page.text[:800])
    return await client.post(url.split("?")[0], data={**hidden_fields(page.text), **fields})
