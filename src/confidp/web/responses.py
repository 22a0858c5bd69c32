"""Every response confidp sends is a ``Response``: Sanic's HTTPResponse with the security headers
every response carries added as ready-made bytes when it is sent (no response middleware,
which cost as much as the headers themselves), and a cheaper header-value check.

Sanic strips CR, LF and NUL from every header name and value with ``str.translate``, about
1.5 µs for a long Location or Set-Cookie, on every response; here the translation runs only
when one of those characters is present, which gives the same bytes. Errors Sanic raises
itself (before a handler runs, e.g. 413) are rendered with these too
(``confidp.web.http_errors``).

Text from a request header that is not UTF-8 reaches handlers as lone surrogates (Sanic
decodes the head with ``surrogateescape``); a page that shows it (escaped) is encoded with
``replace``, so such text never makes a response fail.
"""

from __future__ import annotations

import json as _json
from collections.abc import Iterator
from typing import Any

from sanic import HTTPResponse
from sanic.helpers import has_message_body

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_ENCODED_SECURITY = tuple(((name.encode("ascii"), value.encode("ascii")), name)
                          for name, value in SECURITY_HEADERS.items())
_NOT_IN_HEADERS = str.maketrans("", "", "\r\n\x00")
# one encoder: json.dumps with any option builds a new JSONEncoder on every call
COMPACT_JSON = _json.JSONEncoder(separators=(",", ":"))


def clean_header_value(value: str) -> str:
    """``value`` without CR, LF and NUL (no header splitting), translated only if needed."""
    if "\r" in value or "\n" in value or "\x00" in value:
        return value.translate(_NOT_IN_HEADERS)
    return value


class Response(HTTPResponse):
    __slots__ = ()

    @property
    def processed_headers(self) -> Iterator[tuple[bytes, bytes]]:
        """Sanic's header bytes, with the security headers added ready-encoded unless the
        response set its own."""
        headers = self.headers
        if has_message_body(self.status):  # type: ignore[no-untyped-call]  # unannotated
            headers.setdefault("content-type", self.content_type)
        encoded = [(clean_header_value(name).encode("ascii"),
                    clean_header_value(f"{value}").encode(errors="surrogateescape"))
                   for name, value in headers.items()]
        encoded.extend(pair for pair, name in _ENCODED_SECURITY if name not in headers)
        return iter(encoded)


def json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(COMPACT_JSON.encode(body), status, headers, "application/json")


def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body.encode(errors="replace"), status, headers, "text/html; charset=utf-8")


def raw(body: bytes, status: int = 200, headers: dict[str, str] | None = None,
        content_type: str = "application/octet-stream") -> Response:
    return Response(body, status, headers, content_type)


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(None, status, headers)

