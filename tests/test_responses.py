"""The response class every handler uses: same header bytes as Sanic's, security headers
always present."""

from __future__ import annotations

from itertools import product

import pytest
from sanic import HTTPResponse

from confidp.config.loader import validate_file
from confidp.model import Tenant
from confidp.web.flow import clear_cookie, set_cookie
from confidp.web.responses import SECURITY_HEADERS, Response, clean_header_value, json
from tests.support import dump, tenant_doc


def test_header_values_are_cleaned_exactly_as_sanic_cleans_them() -> None:
    alphabet = "a\r\n\x00 é;\t"
    for length in range(5):  # every string of up to 4 of these characters
        for chars in product(alphabet, repeat=length):
            value = "".join(chars)
            assert clean_header_value(value) == HTTPResponse._sanitize_header_value(value)


def test_no_header_splitting() -> None:
    response = Response(None, 302, {"Location": "/x\r\nSet-Cookie: evil=1"})
    headers = dict(response.processed_headers)
    assert headers[b"Location"] == b"/xSet-Cookie: evil=1"
    assert b"evil" not in b"".join(name for name in headers)


def test_security_headers_present_and_not_shared_between_responses() -> None:
    first = json({"a": 1}, headers={"Cache-Control": "no-store"})
    first.headers["X-Frame-Options"] = "SAMEORIGIN"
    second = json({"a": 1})
    for name, value in SECURITY_HEADERS.items():
        assert second.headers[name] == value
    assert first.headers["Cache-Control"] == "no-store"
    assert second.body == b'{"a":1}'


def _tenant(issuer: str) -> Tenant:
    result = validate_file("acme.yaml", dump(tenant_doc(issuer)), themes=None, environ={})
    assert result.tenant is not None, result.errors
    return result.tenant


def test_cookies_are_written_with_every_flag() -> None:
    response = Response()
    set_cookie(response, _tenant("https://id.example.com/acme"), "confidp_flow_acme", "a-b_C")
    clear_cookie(response, _tenant("http://127.0.0.1:8000"), "confidp_session_acme")
    assert response.headers.getall("set-cookie") == [
        "confidp_flow_acme=a-b_C; Path=/acme; SameSite=Lax; Secure; HttpOnly",
        "confidp_session_acme=; Path=/; Max-Age=0; SameSite=Lax; HttpOnly"]


@pytest.mark.parametrize("value", ["a;b", "a b", "a\r\nSet-Cookie: x=1", "é", '"q"'])
def test_a_cookie_value_that_would_need_quoting_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        set_cookie(Response(), _tenant("https://id.example.com"), "confidp_flow_acme", value)
