"""The response class every handler uses: same header bytes as Sanic's, security headers
always present."""

from __future__ import annotations

from itertools import product

from sanic import HTTPResponse

from confidp.web.responses import SECURITY_HEADERS, Response, clean_header_value, json


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
