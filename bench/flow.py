"""Throughput and latency of the whole flow (issue: shared state and speed).

Drives real servers on 127.0.0.1 from separate processes and prints requests (or flows) per
second and p50/p99 latency for: discovery; /authorize valid (302 to login) and invalid (400);
the complete code flow from /authorize to /token with an existing session; refresh grants;
for the memory store with 1 worker and Redis with 1 and 2 workers. A bare Sanic "hello" route
is measured the same way and every figure is also printed as a ratio to it, since absolute
numbers vary between machines. Finally, /authorize p99 while 20 password logins run at once.

Single-URL figures use wrk (apt-get install wrk), an event-driven C client, so the client is
not the bottleneck; multi-step flows use an asyncio httpx client at a fixed concurrency. On a
machine with several cores the load clients run on one core and a one-worker server (and its
bare Sanic baseline) on the others, so that the two do not take CPU time from each other.

    python bench/flow.py [--duration 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CALLBACK = "http://127.0.0.1:9999/callback"
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready")


@contextmanager
def process(args: list[str], ready_url: str | None = None,
            cpus: set[int] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, on ``cpus`` when given (its own core, away from the load client)."""
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=preexec)
    try:
        if ready_url:
            wait_ready(ready_url, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wrk(url: str, seconds: float, connections: int,
        headers: dict[str, str] | None = None) -> dict[str, float]:
    threads = len(os.sched_getaffinity(0))  # one per core the load clients may use
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rate": rate, "p50": latency("50"), "p99": latency("99"),
            "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0}


async def closed_loop(seconds: float, concurrency: int,
                      make_worker: Callable[[int], Awaitable[Callable[[], Awaitable[None]]]],
                      ) -> dict[str, float]:
    """``concurrency`` workers repeating one operation for ``seconds``."""
    operations = [await make_worker(index) for index in range(concurrency)]
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop(operation: Callable[[], Awaitable[None]]) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await operation()
            latencies.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    await asyncio.gather(*(loop(op) for op in operations))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rate": len(latencies) / elapsed, "p50": statistics.median(latencies),
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def authorize_path(**extra: str) -> str:
    return "/acme/authorize?" + urlencode({
        "client_id": "portal-spa", "redirect_uri": CALLBACK, "response_type": "code",
        "scope": "openid profile offline_access", "state": "s", "code_challenge": CHALLENGE,
        "code_challenge_method": "S256", **extra})


async def signed_in_client(base: str) -> httpx.AsyncClient:
    """A browser with a session and the consent given."""
    client = httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=30)
    login = (await client.get(authorize_path())).headers["location"]
    page = await client.get(login)
    fields = dict(HIDDEN.findall(page.text))
    after = (await client.post("/acme/login", data={**fields, "username": "alice",
                                                    "password": "wonderland"}))
    consent = after.headers["location"]
    if consent.startswith("/acme/consent"):  # the first time only: consent is remembered
        page = await client.get(consent)
        await client.post("/acme/consent", data={**dict(HIDDEN.findall(page.text)),
                                                 "decision": "approve"})
    return client


async def redeem(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    response = await client.post("/acme/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER, "client_id": "portal-spa"})
    assert response.status_code == 200, response.text
    return dict(response.json())


Operation = Callable[[], Awaitable[None]]


async def per_browser(base: str, seconds: float, concurrency: int,
                      operation_for: Callable[[httpx.AsyncClient], Awaitable[Operation]],
                      ) -> dict[str, float]:
    """``closed_loop`` over ``concurrency`` signed-in browsers, each repeating the operation
    ``operation_for`` makes for it; the browsers are closed afterwards."""
    clients: list[httpx.AsyncClient] = []

    async def make(_: int) -> Operation:
        client = await signed_in_client(base)
        clients.append(client)
        return await operation_for(client)
    try:
        return await closed_loop(seconds, concurrency, make)
    finally:
        for client in clients:
            await client.aclose()


async def measure_flows(base: str, seconds: float, concurrency: int) -> dict[str, float]:
    async def flow_of(client: httpx.AsyncClient) -> Operation:
        async def flow() -> None:
            response = await client.get(authorize_path())
            code = query_of(response.headers["location"])["code"]
            await redeem(client, code)
        return flow
    return await per_browser(base, seconds, concurrency, flow_of)


async def measure_refresh(base: str, seconds: float, concurrency: int) -> dict[str, float]:
    async def refresh_of(client: httpx.AsyncClient) -> Operation:
        response = await client.get(authorize_path())
        state = {"token": (await redeem(client, query_of(response.headers["location"])[
            "code"]))["refresh_token"]}

        async def refresh() -> None:
            answer = await client.post("/acme/token", data={
                "grant_type": "refresh_token", "refresh_token": state["token"],
                "client_id": "portal-spa"})
            assert answer.status_code == 200, answer.text
            state["token"] = answer.json()["refresh_token"]
        return refresh
    return await per_browser(base, seconds, concurrency, refresh_of)


async def login_storm(base: str, seconds: float) -> dict[str, float]:
    """/authorize latency (4 steady clients) while 20 clients log in with passwords."""
    stop = time.perf_counter() + seconds
    logins = 0

    async def storm() -> None:
        nonlocal logins
        async with httpx.AsyncClient(base_url=base, follow_redirects=False,
                                     timeout=60) as client:
            while time.perf_counter() < stop:
                login = (await client.get(authorize_path())).headers["location"]
                page = await client.get(login)
                response = await client.post("/acme/login", data={
                    **dict(HIDDEN.findall(page.text)), "username": "alice",
                    "password": "wonderland"})
                assert response.status_code == 303, response.status_code
                logins += 1
                client.cookies.clear()

    latencies: list[float] = []

    async def probe() -> None:
        async with httpx.AsyncClient(base_url=base, follow_redirects=False) as client:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                response = await client.get(authorize_path())
                assert response.status_code == 302
                latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.005)
    started = time.perf_counter()
    await asyncio.gather(*(storm() for _ in range(20)), *(probe() for _ in range(4)))
    latencies.sort()
    return {"logins_per_s": logins / (time.perf_counter() - started),
            "p50": statistics.median(latencies),
            "p99": latencies[int(len(latencies) * 0.99)], "samples": len(latencies)}


CLI = (sys.executable, "-m", "confidp.cli")


def confidp_command(work: Path, store: str, workers: int,
                    command: tuple[str, ...] = CLI,
                    application: dict[str, str] | None = None) -> tuple[list[str], str]:
    """The command line of a confidp server for the example acme tenant (written to a new
    directory under ``work``) and the server's base URL; ``command`` runs the CLI;
    ``application``: keys set on its portal-spa application (token format, algorithms)."""
    port, ops_port = free_port(), free_port()
    while ops_port == port:
        ops_port = free_port()
    tenants = work / f"tenants-{port}"
    tenants.mkdir()
    doc = yaml.safe_load((REPO / "tenants" / "acme.yaml").read_text())
    doc["issuer"] = f"http://127.0.0.1:{port}/acme"
    doc["login_throttle"] = {"max_failures_per_user": 1000, "max_failures_per_ip": 100000}
    for app in doc["applications"]:
        if app["client_id"] == "portal-spa":
            app.update(application or {})
    (tenants / "acme.yaml").write_text(yaml.safe_dump(doc))
    return ([*command, "serve", "--tenants", str(tenants), "--themes", str(REPO / "themes"),
             "--state-dir", str(work / "state"), "--host", "127.0.0.1", "--port", str(port),
             "--store", store, "--ops-host", "127.0.0.1", "--ops-port", str(ops_port),
             "--workers", str(workers), "--log-level", "WARNING"],
            f"http://127.0.0.1:{port}")


@contextmanager
def confidp(work: Path, store: str, workers: int, cpus: set[int] | None,
            command: tuple[str, ...] = CLI) -> Iterator[str]:
    """A confidp server for the example acme tenant; ``command`` runs the CLI."""
    args, base = confidp_command(work, store, workers, command)
    with process(args, f"{base}/readyz", cpus):
        httpx.get(f"{base}/acme/jwks")  # make the tenant's keys before measuring
        yield base


def row(name: str, result: dict[str, float], baseline: float | None) -> str:
    ratio = f"{result['rate'] / baseline:6.0%}" if baseline else "     -"
    return (f"  {name:<34} {result['rate']:9.0f}/s  p50 {result['p50']:7.2f} ms  "
            f"p99 {result['p99']:7.2f} ms  {ratio} of hello")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("redis-server") is None:
        print("bench/flow.py needs wrk and redis-server: apt-get install wrk redis-server",
              file=sys.stderr)
        return 2
    seconds, concurrency = args.duration, args.concurrency
    every_cpu = os.sched_getaffinity(0)
    client_cpus = {min(every_cpu)} if len(every_cpu) > 1 else every_cpu
    # One-worker servers get a core of their own and the load clients (this process, wrk)
    # another, so the server's share of the CPU does not move with the client's; two-worker
    # servers may use every core. The bare Sanic baseline is placed the same way.
    os.sched_setaffinity(0, client_cpus)
    work = Path(tempfile.mkdtemp(prefix="confidp-flow-"))
    redis_port = free_port()
    print(f"{os.cpu_count()} cores; {seconds:g} s per figure, {concurrency} connections; "
          f"load clients on CPU {sorted(client_cpus)}")
    flows: dict[str, float] = {}
    try:
        with process(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                      "--save", "", "--appendonly", "no"], cpus=every_cpu):
            time.sleep(0.3)
            for store_name, store, workers in (
                    ("memory, 1 worker", "memory", 1),
                    ("redis, 1 worker", f"redis://127.0.0.1:{redis_port}/0", 1),
                    ("redis, 2 workers", f"redis://127.0.0.1:{redis_port}/0", 2)):
                server_cpus = (every_cpu - client_cpus or every_cpu) if workers == 1 \
                    else every_cpu
                hello_port = free_port()
                with process([sys.executable, str(REPO / "bench" / "hello.py"),
                              str(hello_port), str(workers)],
                             f"http://127.0.0.1:{hello_port}/hello", server_cpus):
                    hello_url = f"http://127.0.0.1:{hello_port}/hello"
                    wrk(hello_url, 2, concurrency)  # warm-up: every worker up and serving
                    hello = wrk(hello_url, seconds, concurrency)
                print(f"\n{store_name}")
                print(row("bare Sanic hello", hello, None))
                print(f"  (server on CPU {sorted(server_cpus)})")
                with confidp(work, store, workers, server_cpus) as base:
                    wrk(base + "/acme/.well-known/openid-configuration", 2, concurrency)
                    for name, url, headers in (
                            ("discovery", "/acme/.well-known/openid-configuration", None),
                            ("/authorize valid (302 to login)", authorize_path(), None),
                            ("/authorize invalid (400)",
                             "/acme/authorize?client_id=portal-spa",
                             {"Accept": "application/json"})):
                        print(row(name, wrk(base + url, seconds, concurrency, headers),
                                  hello["rate"]))
                    flow = asyncio.run(measure_flows(base, seconds, concurrency))
                    flows[store_name] = flow["rate"]
                    print(row("code flow with a session (flows)", flow, hello["rate"]))
                    print(row("refresh grant", asyncio.run(
                        measure_refresh(base, seconds, concurrency)), hello["rate"]))
                    storm = asyncio.run(login_storm(base, seconds))
                    print(f"  /authorize during 20 concurrent logins: p50 {storm['p50']:.2f} "
                          f"ms, p99 {storm['p99']:.2f} ms over {storm['samples']:.0f} "
                          f"requests ({storm['logins_per_s']:.1f} logins/s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = flows["redis, 1 worker"] / flows["memory, 1 worker"]
    print(f"\nredis / memory flows per second (1 worker): {ratio:.0%}   (target >= 70%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
