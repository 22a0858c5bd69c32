"""Headers every response carries."""

from __future__ import annotations

from sanic import HTTPResponse, Request

_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def add_security_headers(request: Request, response: HTTPResponse) -> None:
    for name, value in _ALWAYS.items():
        response.headers.setdefault(name, value)
