"""A bare Sanic app with two routes, the baselines of bench/compare.py.

``/hello`` answers "hello". The other route (the path given) answers what a valid
``/authorize`` without a session answers in confidp, doing none of its work: the status and
headers recorded from a real confidp answer (the Location to the login page, the security
headers), with every Set-Cookie's value drawn afresh per request as confidp draws its flow
cookie. That is the fastest a Sanic handler can send that 302: the ceiling for /authorize.

    python bench/ceiling.py PORT ANSWER.json

ANSWER.json: {"path": "/acme/authorize", "status": 302, "headers": [[name, value], ...]}.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from pathlib import Path

from sanic import HTTPResponse, Request, Sanic, text

# headers Sanic writes itself for every answer
TRANSPORT_HEADERS = frozenset({"content-length", "date", "connection", "keep-alive",
                               "transfer-encoding", "server"})
COOKIE = re.compile(r"([^=;\s]+)=([^;]*)(.*)", re.S)


def build(path: str, status: int, headers: list[tuple[str, str]]) -> Sanic:
    fixed = [(name, value) for name, value in headers
             if name.lower() not in TRANSPORT_HEADERS and name.lower() != "set-cookie"]
    cookies: list[tuple[str, int, str]] = []
    for name, value in headers:
        if name.lower() == "set-cookie":
            match = COOKIE.fullmatch(value)
            if match is None:
                raise ValueError(f"not a Set-Cookie value: {value!r}")
            cookies.append((match.group(1), max(1, len(match.group(2)) * 3 // 4),
                            match.group(3)))
    app = Sanic("ceiling")

    @app.get("/hello")
    async def hello(request: Request) -> HTTPResponse:
        return text("hello")

    @app.get(path)
    async def ceiling(request: Request) -> HTTPResponse:
        response = HTTPResponse(status=status)
        for name, value in fixed:
            response.headers.add(name, value)
        for name, size, attributes in cookies:
            response.headers.add("Set-Cookie",
                                 f"{name}={secrets.token_urlsafe(size)}{attributes}")
        return response
    return app


if __name__ == "__main__":
    answer = json.loads(Path(sys.argv[2]).read_text())
    build(answer["path"], int(answer["status"]),
          [(str(name), str(value)) for name, value in answer["headers"]]).run(
        host="127.0.0.1", port=int(sys.argv[1]), single_process=True, motd=False,
        access_log=False)
