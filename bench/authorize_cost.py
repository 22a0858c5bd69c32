"""Where the time of a valid /authorize goes, measured in the running server.

bench/flow.py shows a valid /authorize (302 to the login page) well under the 60%-of-hello
target. This script says why, by ablation: it starts the real server (memory store, one
worker on a core of its own) several times, and each time replaces some of /authorize's steps
with stand-ins that hand back what the real step returned on the first request. The server
then skips that work but still answers the same 302, with the same Location, cookie and
headers. The difference in time per request is what the skipped steps cost where they really
run: in the server, between the HTTP parsing and sending, with cold caches, which is often
two to three times what the same functions take in a loop on their own.

The stand-ins exist only in this script's own server process (``--serve``); confidp is not
changed. A server with stand-ins answers every browser with the first request's answer, so
it is only for measuring.

    python bench/authorize_cost.py [--duration 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flow

STEPS = {
    "parse": "parse the query (stdlib parse_qsl)",
    "validate": "check the parameters against the tenant",
    "seal": "seal the sign-in request into the login URL",
}
RUNS: tuple[tuple[str, ...], ...] = ((), ("seal",), ("parse", "validate"),
                                     ("parse", "validate", "seal"))


def first_result(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, computed once; later calls return that first result."""
    remembered: list[Any] = []

    def stand_in(*args: Any) -> Any:
        if not remembered:
            remembered.append(function(*args))
        return remembered[0]
    return stand_in


def serve(stand_ins: list[str], argv: list[str]) -> int:
    """confidp serve, with the named steps of /authorize replaced by their first result."""
    from confidp import cli
    from confidp.web import authorize, pending

    if "parse" in stand_ins:
        authorize.parse_query = first_result(authorize.parse_query)  # type: ignore[assignment]
    if "validate" in stand_ins:
        authorize.validate_authorization_request = first_result(  # type: ignore[assignment]
            authorize.validate_authorization_request)
    if "seal" in stand_ins:
        # the steps' driver seals through confidp.web.signin.steps's own reference
        from confidp.web.signin import steps
        steps.seal = first_result(pending.seal)  # type: ignore[assignment]
    return cli.main(argv)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # internal: the server process
    args, rest = parser.parse_known_args()
    if args.serve is not None:
        return serve([step for step in args.serve.split(",") if step], rest)
    if shutil.which("wrk") is None:
        print("bench/authorize_cost.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    every_cpu = os.sched_getaffinity(0)
    client_cpus = {min(every_cpu)} if len(every_cpu) > 1 else every_cpu
    server_cpus = every_cpu - client_cpus or every_cpu
    os.sched_setaffinity(0, client_cpus)
    seconds, concurrency = args.duration, args.concurrency
    work = Path(tempfile.mkdtemp(prefix="confidp-cost-"))
    try:
        hello_port = flow.free_port()
        hello_url = f"http://127.0.0.1:{hello_port}/hello"
        with flow.process([sys.executable, str(flow.REPO / "bench" / "hello.py"),
                           str(hello_port), "1"], hello_url, server_cpus):
            flow.wrk(hello_url, 2, concurrency)
            hello = flow.wrk(hello_url, seconds, concurrency)["rate"]
        print(f"bare Sanic hello: {hello:.0f}/s, {1e6 / hello:.1f} µs per request; "
              f"60% of it is {0.6 * hello:.0f}/s, {1e6 / (0.6 * hello):.1f} µs per request")
        print(f"valid /authorize, 1 worker, memory store, {seconds:g} s per figure (best of "
              "two):")
        per_request: dict[tuple[str, ...], float] = {}
        for skipped in RUNS:
            command = (sys.executable, str(Path(__file__).resolve()),
                       f"--serve={','.join(skipped)}")
            with flow.confidp(work, "memory", 1, server_cpus, command) as base:
                url = base + flow.authorize_path()
                flow.wrk(url, 2, concurrency)
                results = [flow.wrk(url, seconds, concurrency) for _ in range(2)]
            if any(result["non_2xx"] for result in results):
                raise RuntimeError(f"unexpected answers with {skipped} stood in")
            rate = max(result["rate"] for result in results)
            per_request[skipped] = 1e6 / rate
            label = ("the real handler" if not skipped else
                     "without: " + ", ".join(STEPS[step] for step in skipped))
            print(f"  {rate:8.0f}/s {1e6 / rate:7.1f} µs/request {rate / hello:5.0%} of hello"
                  f"  {label}")
        full = per_request[()]
        print("cost of each step in the server:")
        for skipped in RUNS[1:]:
            print(f"  {full - per_request[skipped]:6.1f} µs  {' + '.join(skipped)}")
        rest_of_it = per_request[RUNS[-1]]
        print(f"everything but those steps (dispatch, session check, redirect, cookie, HTTP): "
              f"{rest_of_it:.1f} µs; the 60% target leaves "
              f"{1e6 / (0.6 * hello) - rest_of_it:.1f} µs for parsing, checking and sealing")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
