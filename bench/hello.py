"""A bare Sanic "hello" route: the baseline bench/flow.py divides every figure by."""

from __future__ import annotations

import sys

from sanic import Request, Sanic, text

app = Sanic("hello")


@app.get("/hello")
async def hello(request: Request) -> object:
    return text("hello")


if __name__ == "__main__":
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if workers == 1:
        app.run(host="127.0.0.1", port=int(sys.argv[1]), single_process=True, motd=False,
                access_log=False)
    else:
        app.run(host="127.0.0.1", port=int(sys.argv[1]), workers=workers, motd=False,
                access_log=False)
