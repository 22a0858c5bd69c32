"""The response class every handler uses: same header bytes as Sanic's, security headers
always present."""

from __future__ import annotations

from itertools import product

import pytest
from sanic import HTTPResponse

from confidp.config.loader import validate_file
from confidp.model import Tenant
from confidp.web.cookies import clear_cookie, set_cookie
from confidp.web.responses import SECURITY_HEADERS, Response, clean_header_value, html, json
from tests.support import dump, tenant_doc


def test_header_values_are_cleaned_exactly_as_sanic_cleans_them() -> None:
    alphabet = "a\r\n\x00 é;\t"
    for length in range(5):  # every string of up to 4 of these characters
        for chars in product(alphabet, repeat=length):
            value = "".join(chars)
            assert clean_header_value(value) == HTTPResponse._sanitize_header_value(value)


def test_no_header_splitting() -> None:
    response = Response(None, 302, {"Location": "/x\r\nSet-Cookie: evil=1"})
    headers = list(response.processed_headers)
    assert (b"Location", b"/xSet-Cookie: evil=1") in headers
    assert not any(name.lower() == b"set-cookie" for name, _ in headers)


def test_security_headers_on_every_response_unless_it_sets_its_own() -> None:
    framed = json({"a": 1}, headers={"Cache-Control": "no-store"})
    framed.headers["X-Frame-Options"] = "SAMEORIGIN"
    sent = dict(framed.processed_headers)
    assert sent[b"X-Frame-Options"] == b"SAMEORIGIN"
    assert [name for name, _ in framed.processed_headers].count(b"X-Frame-Options") == 1
    plain = dict(json({"a": 1}).processed_headers)
    for name, value in SECURITY_HEADERS.items():
        assert plain[name.encode()] == value.encode()
    assert plain[b"content-type"] == b"application/json"
    assert sent[b"Cache-Control"] == b"no-store"
    assert json({"a": 1}).body == b'{"a":1}'


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


def test_a_page_showing_undecodable_header_text_is_sent() -> None:
    # Sanic decodes a header's bytes with surrogateescape: b"\xff" arrives as "\udcff"
    page = html("<p>ex\udcffample</p>", status=404)
    assert page.body == b"<p>ex?ample</p>"
