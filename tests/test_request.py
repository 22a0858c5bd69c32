"""Which request heads confidp refuses (RFC 9112), without HTTP: the real server's answers are
in tests/e2e/test_hostile_http.py."""

from __future__ import annotations

import pytest

from confidp.web.request import head_problem

BROWSER = (b"GET /acme/authorize?client_id=portal-spa&state=%00%FF HTTP/1.1\r\n"
           b"Host: id.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
           b"Accept: text/html,*/*;q=0.8\r\nAccept-Language: fr-CH, fr;q=0.9\r\n"
           b"Cookie: confidp_session_acme=acme.abc\r\nX-Empty:\r\nX-Tab:\ta\tb\r\n"
           b"X-Obs-Text: caf\xe9")


@pytest.mark.parametrize(("head", "version", "hosts"), [
    (BROWSER, "1.1", ["id.example.com"]),
    (b"GET / HTTP/1.0", "1.0", []),
    (b"OPTIONS * HTTP/1.1\r\nHost: [::1]:8000", "1.1", ["[::1]:8000"]),
    (b"GET http://a/b HTTP/1.1\r\nHost: a", "1.1", ["a"]),
    (b"M-SEARCH / HTTP/1.1\r\nHost: 127.0.0.1:9080", "1.1", ["127.0.0.1:9080"]),
    (b"GET / HTTP/1.1\r\nHost:", "1.1", [""]),  # RFC 9112 3.2: an empty Host is allowed
])
def test_valid_heads(head: bytes, version: str, hosts: list[str]) -> None:
    assert head_problem(head, version, hosts) is None


@pytest.mark.parametrize("byte", [*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])
def test_a_control_byte_anywhere(byte: int) -> None:
    control = bytes([byte])
    for head in (b"GET /a" + control + b" HTTP/1.1\r\nHost: a",
                 b"G" + control + b"T / HTTP/1.1\r\nHost: a",
                 b"GET / HTTP/1.1\r\nHost: a\r\nX-" + control + b": v",
                 b"GET / HTTP/1.1\r\nHost: a\r\nX-A: v" + control + b"w"):
        assert head_problem(head, "1.1", ["a"]) is not None, head


@pytest.mark.parametrize("head", [
    b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked",  # RFC 9112 5.1
    b"GET / HTTP/1.1\r\nHost: a\r\nX-A: v\r\n folded",  # RFC 9112 5.2
    b"GET / HTTP/1.1\r\nHost: a\r\n: no name",
    b"GET / HTTP/1.1\r\nHost: a\r\nX(A): v",
    b"GET / HTTP/2.0\r\nHost: a",
    b"GET / HTTP/1.1 \r\nHost: a",
    b"GE(T / HTTP/1.1\r\nHost: a",
    b"GET /\xff HTTP/1.1\r\nHost: a",
])
def test_malformed_heads(head: bytes) -> None:
    assert head_problem(head, "1.1", ["a"]) is not None


@pytest.mark.parametrize("hosts", [[], ["a", "b"], ["a b"], ["a\udcff"], ["a/b"], ["a@b"]])
def test_http_1_1_needs_one_valid_host(hosts: list[str]) -> None:
    assert head_problem(b"GET / HTTP/1.1", "1.1", hosts) is not None
