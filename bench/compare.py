"""confidp side by side with node-oidc-provider: same client, same machine, same run (issue 16).

Starts confidp (memory store, one worker: the acme tenant as bench/flow.py runs it) and panva's
node-oidc-provider (bench/peer/provider.mjs: the same public client, PKCE S256, rotating refresh
tokens, RS256 ID tokens, one user, its own in-memory store), each one process pinned to the
same core, and drives both from the other core with the same client code, 8 concurrent:

1. complete code flows: /authorize with an existing session (302/303 to the callback with a
   code) and the code exchanged at /token with its PKCE verifier;
2. refresh grants, each using the refresh token the last one returned (rotation);
3. a valid /authorize without a session, answering its redirect to the login page (wrk);
4. the "302 ceiling": a bare Sanic route answering the 302 confidp's /authorize answers, with
   the same headers and cookie but none of the work (bench/ceiling.py), and a bare "hello".

Browsers sign in (login and consent) before the measures, through each server's own pages.
Each figure is a window of ``--duration`` seconds after ``--warmup`` seconds of the same
load; the two servers take turns within a measure, every measure is repeated ``--rounds``
times with new browsers, and the best window of each counts (other load only ever slows a
server down). It prints requests (or flows) per second, confidp / node-oidc-provider, the
valid /authorize as a fraction of the 302 ceiling, the CPU time each server and the client
used (a server under load should use all of its core: if it did not, something else ran there
or the client could not keep up, and it warns), and ``openssl speed`` signatures per second
on one core.

    bench/peer/setup.sh      # once: node-oidc-provider 9.13.3 and Node 22 into bench/.peer
    python bench/compare.py [--duration 5] [--warmup 2] [--rounds 2] [--quick]
        [--access-token opaque|jwt] [--access-token-alg RS256|ES256|EdDSA]
        [--id-token-alg RS256|ES256|EdDSA] [--peer-access-token opaque|jwt]

By default both servers issue opaque access tokens and RS256 ID tokens (node-oidc-provider's
defaults, and the issue's target): one RSA signature per token response on each side.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import flow
import httpx

BENCH = Path(__file__).resolve().parent
PEER_DIR = Path(os.environ.get("PEER_DIR", BENCH / ".peer"))
PEER_MODULES = PEER_DIR / "node_modules"
CONCURRENCY = 8
CLIENT_ID = "portal-spa"
SCOPE = "openid profile offline_access"
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TARGETS = {"refresh": 1.5, "flows": 1.5, "authorize": 1.5}
CEILING_TARGET = 0.8


# ---- servers -----------------------------------------------------------------------------------

@dataclass
class Server:
    """One server under load: its process (for CPU time), endpoints and how to sign in."""

    name: str
    process: subprocess.Popen[bytes]
    base: str
    authorize_url: str = ""
    token_endpoint: str = ""
    sign_in: Callable[[Server], Awaitable[httpx.AsyncClient]] | None = None
    tokens: str = ""  # what its token responses carry, found by ``describe``

    def cpu_seconds(self) -> float:
        """User and system time of the process, every thread (proc(5): utime, stime)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@contextmanager
def started(args: list[str], ready_url: str, cpus: set[int], log: Path,
            env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A server process on ``cpus``, its output in ``log``, ready when ``ready_url`` answers."""
    with log.open("wb") as output:
        proc = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})},
                                preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    try:
        try:
            flow.wait_ready(ready_url, proc)
        except RuntimeError:
            sys.stderr.write(log.read_text(errors="replace")[-3000:])
            raise
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def discover(server: Server, issuer: str) -> None:
    metadata = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    server.authorize_url = metadata["authorization_endpoint"] + "?" + urlencode({
        "client_id": CLIENT_ID, "redirect_uri": flow.CALLBACK, "response_type": "code",
        "scope": SCOPE, "state": "s", "code_challenge": flow.CHALLENGE,
        "code_challenge_method": "S256"})
    server.token_endpoint = metadata["token_endpoint"]


def peer_node() -> str:
    node = PEER_MODULES / ".bin" / "node"
    return str(node) if node.exists() else shutil.which("node") or "node"


def peer_versions() -> str:
    package = json.loads((PEER_MODULES / "oidc-provider" / "package.json").read_text())
    node = subprocess.run([peer_node(), "--version"], capture_output=True, text=True,
                          check=True).stdout.strip()
    return f"node-oidc-provider {package['version']} on Node {node}"


# ---- signing in: each server's own pages, once per browser, before measuring -----------------

async def confidp_sign_in(server: Server) -> httpx.AsyncClient:
    return await flow.signed_in_client(server.base)


async def peer_sign_in(server: Server) -> httpx.AsyncClient:
    """Through node-oidc-provider's interaction endpoints (bench/peer/provider.mjs): the login
    page, then the consent page, each a form the browser posts, then back to /authorize."""
    client = httpx.AsyncClient(base_url=server.base, follow_redirects=False, timeout=30)
    location = server.authorize_url
    for _ in range(12):
        response = await client.get(location)
        if response.status_code in (302, 303):
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(flow.CALLBACK):
                return client
            continue
        action = FORM_ACTION.search(response.text)
        if response.status_code != 200 or action is None:
            raise RuntimeError(f"node-oidc-provider sign-in: {response.status_code} "
                               f"{response.text[:300]}")
        form = ({"username": "alice", "password": "wonderland"}
                if action.group(1).endswith("/login") else {})
        response = await client.post(action.group(1), content=urlencode(form), headers={
            "content-type": "application/x-www-form-urlencoded"})  # as a browser, if empty
        if response.status_code != 303:
            raise RuntimeError(f"node-oidc-provider sign-in: {response.status_code} "
                               f"{response.text[:300]}")
        location = urljoin(str(response.url), response.headers["location"])
    raise RuntimeError("node-oidc-provider sign-in did not reach the callback")


# ---- the client: the same code for both servers ------------------------------------------------

class Answer:
    """One HTTP response as the client needs it."""

    def __init__(self, status_code: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status_code
        self.headers = headers  # lower-case names; the last of repeated ones
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Browser:
    """A signed-in browser for the measures: one kept-alive HTTP/1.1 connection, the cookies
    its sign-in got (updated from Set-Cookie), and nothing else. httpx spent about 2.8 ms of
    the client's CPU per request, so with 8 browsers on one core the client, not the servers,
    set the pace of the flows (the client at 90-95% of its core, the server at 55-75%); this
    takes a tenth of that, so the servers are what is measured."""

    def __init__(self, base: str, cookies: dict[str, str]) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.authority = parts.netloc
        self.cookies = dict(cookies)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @classmethod
    async def from_client(cls, client: httpx.AsyncClient, base: str) -> Browser:
        """The browser a signed-in httpx client is (its cookies); the httpx client is
        closed."""
        cookies = {cookie.name: cookie.value or "" for cookie in client.cookies.jar}
        await client.aclose()
        return cls(base, cookies)

    async def get(self, url: str) -> Answer:
        return await self._request("GET", url, b"", {})

    async def post(self, url: str, data: dict[str, str]) -> Answer:
        return await self._request("POST", url, urlencode(data).encode(), {
            "Content-Type": "application/x-www-form-urlencoded"})

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None

    async def _request(self, method: str, url: str, body: bytes,
                       headers: dict[str, str]) -> Answer:
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.authority}",
                 "Accept: */*", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        message = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        for attempt in (1, 2):  # a kept-alive connection the server closed: once more
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host,
                                                                           self.port)
            assert self._reader is not None and self._writer is not None
            try:
                self._writer.write(message)
                return await self._response(self._reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.aclose()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _response(self, reader: asyncio.StreamReader) -> Answer:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in head[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = value
            if name == "set-cookie":
                cookie, _, attributes = value.partition(";")
                key, _, cookie_value = cookie.partition("=")
                if "max-age=0" in attributes.lower().replace(" ", ""):
                    self.cookies.pop(key.strip(), None)
                else:
                    self.cookies[key.strip()] = cookie_value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await reader.readexactly(size + 2))
            await reader.readuntil(b"\r\n")
            body = b"".join(chunk[:-2] for chunk in chunks)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return Answer(status, headers, body)


async def authorize_code(client: Browser, server: Server) -> str:
    """/authorize with the browser's session: the redirect to the callback, with a code."""
    response = await client.get(server.authorize_url)
    location = response.headers.get("location", "")
    if response.status_code not in (302, 303) or not location.startswith(flow.CALLBACK):
        raise RuntimeError(f"{server.name} /authorize: {response.status_code} {location}")
    return flow.query_of(location)["code"]


async def token(client: Browser, server: Server, form: dict[str, str]) -> dict[str, Any]:
    response = await client.post(server.token_endpoint, data={**form, "client_id": CLIENT_ID})
    if response.status_code != 200:
        raise RuntimeError(f"{server.name} /token: {response.status_code} {response.text}")
    answer: dict[str, Any] = response.json()
    return answer


async def exchange(client: Browser, server: Server, code: str) -> dict[str, Any]:
    answer = await token(client, server, {
        "grant_type": "authorization_code", "code": code, "redirect_uri": flow.CALLBACK,
        "code_verifier": flow.VERIFIER})
    if "id_token" not in answer or "refresh_token" not in answer:
        raise RuntimeError(f"{server.name} /token gave no ID or refresh token: {answer}")
    return answer


async def refresh(client: Browser, server: Server, refresh_token: str) -> str:
    answer = await token(client, server, {"grant_type": "refresh_token",
                                          "refresh_token": refresh_token})
    rotated = answer.get("refresh_token")
    if not rotated or rotated == refresh_token or "id_token" not in answer:
        raise RuntimeError(f"{server.name} refresh did not rotate: {answer}")
    return str(rotated)


Operation = Callable[[], Awaitable[None]]


async def code_flow(client: Browser, server: Server) -> Operation:
    async def operation() -> None:
        await exchange(client, server, await authorize_code(client, server))
    return operation


async def refresh_grant(client: Browser, server: Server) -> Operation:
    state = {"token": (await exchange(client, server, await authorize_code(
        client, server)))["refresh_token"]}

    async def operation() -> None:
        state["token"] = await refresh(client, server, state["token"])
    return operation


@dataclass
class Window:
    """One measured window: operations per second and what it cost the server and client."""

    rate: float
    p50: float
    p99: float
    server_cpu: float  # share of one core
    client_cpu: float
    errors: int = 0

    @property
    def per_cpu(self) -> float:
        """Operations per second of the server's CPU time."""
        return self.rate / self.server_cpu if self.server_cpu > 0 else float("nan")


async def closed_loop(operations: list[Operation], seconds: float) -> tuple[int, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop(operation: Operation) -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            await operation()
            latencies.append((time.perf_counter() - began) * 1000)
    await asyncio.gather(*(loop(operation) for operation in operations))
    return len(latencies), latencies


async def per_browser(server: Server, make: Callable[[Browser, Server], Awaitable[Operation]],
                      warmup: int, seconds: int) -> Window:
    """``CONCURRENCY`` signed-in browsers repeating an operation: ``warmup`` seconds, then
    ``seconds`` measured."""
    assert server.sign_in is not None
    clients = [await Browser.from_client(client, server.base) for client in
               await asyncio.gather(*(server.sign_in(server) for _ in range(CONCURRENCY)))]
    try:
        operations = [await make(client, server) for client in clients]
        await closed_loop(operations, warmup)
        server_before, client_before = server.cpu_seconds(), time.process_time()
        began = time.perf_counter()
        count, latencies = await closed_loop(operations, seconds)
        elapsed = time.perf_counter() - began
        server_used, client_used = (server.cpu_seconds() - server_before,
                                    time.process_time() - client_before)
    finally:
        for client in clients:
            await client.aclose()
    latencies.sort()
    return Window(count / elapsed, statistics.median(latencies),
                  latencies[min(count - 1, int(count * 0.99))], server_used / elapsed,
                  client_used / elapsed)


def wrk_window(server: Server, url: str, warmup: int, seconds: int) -> Window:
    """wrk on one URL, ``CONCURRENCY`` connections without cookies: ``warmup``, then measured."""
    if warmup > 0:
        flow.wrk(url, warmup, CONCURRENCY)
    server_before = server.cpu_seconds()
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    result = flow.wrk(url, seconds, CONCURRENCY)
    elapsed = time.perf_counter() - began
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_used = (client_after.ru_utime + client_after.ru_stime
                   - client_before.ru_utime - client_before.ru_stime)
    return Window(result["rate"], result["p50"], result["p99"],
                  (server.cpu_seconds() - server_before) / elapsed, client_used / elapsed,
                  int(result["non_2xx"]))


# ---- checks before measuring -----------------------------------------------------------------

def jwt_alg(value: str) -> str | None:
    parts = value.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except ValueError:
        return None
    return str(header.get("alg")) if isinstance(header, dict) else None


async def describe(server: Server) -> str:
    """Signs a browser in, takes a code and refreshes twice: says what the tokens are and that
    a used refresh token is refused (rotation with reuse detection), so both servers are seen
    doing the same work."""
    assert server.sign_in is not None
    client = await Browser.from_client(await server.sign_in(server), server.base)
    try:
        first = await exchange(client, server, await authorize_code(client, server))
        second = await refresh(client, server, first["refresh_token"])
        await refresh(client, server, second)
        reuse = await client.post(server.token_endpoint, data={
            "grant_type": "refresh_token", "refresh_token": first["refresh_token"],
            "client_id": CLIENT_ID})
    finally:
        await client.aclose()
    if reuse.status_code != 400:
        raise RuntimeError(f"{server.name} accepted a used refresh token: {reuse.text}")
    access = jwt_alg(first["access_token"])
    return (f"ID token {jwt_alg(first['id_token'])}, access token "
            f"{f'JWT {access}' if access else 'opaque'}, refresh token rotated, reuse "
            "refused")


def record_authorize_answer(server: Server, work: Path) -> tuple[Path, str]:
    """confidp's answer to a valid /authorize without a session, for bench/ceiling.py, and
    the path and query wrk asks the ceiling for (the same request line)."""
    response = httpx.get(server.authorize_url)
    if response.status_code != 302:
        raise RuntimeError(f"confidp /authorize: {response.status_code}")
    url = urlsplit(server.authorize_url)
    answer = work / "authorize-answer.json"
    answer.write_text(json.dumps({"path": url.path, "status": response.status_code,
                                  "headers": list(response.headers.multi_items())}))
    return answer, f"{url.path}?{url.query}"


def openssl_speed(cpus: set[int], seconds: int) -> dict[str, float]:
    """Signatures per second on one core (``openssl speed``, pinned to ``cpus``)."""
    out = subprocess.run(["openssl", "speed", "-seconds", str(seconds), "rsa2048",
                          "ecdsap256", "ed25519"], capture_output=True, text=True, check=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, cpus)).stdout
    figures: dict[str, float] = {}
    for name, pattern in (("RSA-2048", r"rsa 2048 bits"), ("ECDSA P-256", r"\(nistp256\)"),
                          ("Ed25519", r"\(Ed25519\)")):
        match = re.search(pattern + r"\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)", out)
        figures[name] = float(match.group(1)) if match else float("nan")
    return figures


# ---- the run ---------------------------------------------------------------------------------

MEASURES = (
    ("flows", "complete code flow (authorize + token)"),
    ("refresh", "refresh grant (rotating)"),
    ("authorize", "/authorize valid, no session (redirect)"),
)
BASELINES = (
    ("ceiling", "302 ceiling (bare Sanic, the same 302)"),
    ("hello", "bare Sanic hello"),
)
BUSY_SERVER = 0.8  # a server under load below this share of its core was starved


def best(windows: list[Window]) -> Window:
    return max(windows, key=lambda window: window.rate)


Results = dict[tuple[str, str], list[Window]]
BARE = "bare Sanic"


def report(results: Results, names: tuple[str, str]) -> None:
    ours, peer = names
    print(f"\n{'measure':<42} {'confidp/s':>10} {'node-oidc-provider/s':>21} "
          f"{'ratio':>6}  target")
    for key, label in MEASURES:
        a, b = best(results[key, ours]), best(results[key, peer])
        print(f"{label:<42} {a.rate:10.0f} {b.rate:21.0f} {a.rate / b.rate:5.2f}x  "
              f">= {TARGETS[key]}x")
    for key, label in BASELINES:
        print(f"{label:<42} {best(results[key, BARE]).rate:10.0f}")
    print("\nthe same windows per second of the server's CPU time (less moved by other load on "
          "the machine, not a throughput):")
    for key, label in MEASURES:
        a, b = best(results[key, ours]), best(results[key, peer])
        print(f"{label:<42} {a.per_cpu:10.0f} {b.per_cpu:21.0f} {a.per_cpu / b.per_cpu:5.2f}x")
    for key, label in BASELINES:
        print(f"{label:<42} {best(results[key, BARE]).per_cpu:10.0f}")
    authorize, ceiling, hello = (best(results[key, name]) for key, name in (
        ("authorize", ours), ("ceiling", BARE), ("hello", BARE)))
    print(f"\nconfidp /authorize / 302 ceiling: {authorize.rate / ceiling.rate:.2f} (target "
          f">= {CEILING_TARGET}; per CPU second {authorize.per_cpu / ceiling.per_cpu:.2f}); "
          f"302 ceiling / hello: {ceiling.rate / hello.rate:.2f}; /authorize / hello: "
          f"{authorize.rate / hello.rate:.2f}")
    print("\nbest window of each (latency in ms; CPU time as a share of one core):")
    rows = [(f"{label} [{name}]", best(results[key, name]))
            for key, label in MEASURES for name in names]
    rows += [(label, best(results[key, BARE])) for key, label in BASELINES]
    for label, window in rows:
        print(f"  {label:<58} {window.rate:8.0f}/s  p50 {window.p50:6.2f}  p99 "
              f"{window.p99:6.2f}  server CPU {window.server_cpu:4.0%}  client CPU "
              f"{window.client_cpu:4.0%}")
    starved = sorted({f"{key} [{name}] {window.server_cpu:.0%}"
                      for (key, name), windows in results.items() for window in windows
                      if window.server_cpu < BUSY_SERVER})
    if starved:
        print(f"\nWARNING: a server had less than {BUSY_SERVER:.0%} of its core in "
              f"{len(starved)} window(s) ({', '.join(starved[:4])}"
              f"{', ...' if len(starved) > 4 else ''}): something else ran on that core "
              "or the client could not keep up; these figures are not comparable.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # whole seconds: wrk takes no fractions
    parser.add_argument("--duration", type=int, default=5,
                        help="seconds measured per window (default 5)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="seconds of the same load before each window (default 2)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="windows per server and measure; the best counts (default 2)")
    parser.add_argument("--openssl-seconds", type=int, default=2,
                        help="seconds per openssl speed figure (default 2)")
    parser.add_argument("--peer-access-token", choices=("opaque", "jwt"), default="opaque",
                        help="node-oidc-provider's access tokens: opaque (its default) or "
                             "RS256 JWTs (default opaque)")
    parser.add_argument("--access-token", choices=("opaque", "jwt"), default="opaque",
                        help="confidp's access tokens (the application's access_token_format; "
                             "default opaque, as node-oidc-provider's default)")
    parser.add_argument("--access-token-alg", choices=("RS256", "ES256", "EdDSA"),
                        default="RS256", help="confidp's JWT access tokens (default RS256)")
    parser.add_argument("--id-token-alg", choices=("RS256", "ES256", "EdDSA"),
                        default="RS256", help="confidp's ID tokens (default RS256, as the "
                        "peer's and the target's)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 s windows after 1 s of warm-up, one round")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup, args.rounds, args.openssl_seconds = 1, 1, 1, 1
    if args.duration < 1 or args.warmup < 0 or args.rounds < 1 or args.openssl_seconds < 1:
        parser.error("--duration, --rounds and --openssl-seconds are at least 1, --warmup 0")
    missing = [tool for tool in ("wrk", "openssl") if shutil.which(tool) is None]
    if missing:
        print(f"bench/compare.py needs {' and '.join(missing)}: apt-get install "
              f"{' '.join(missing)}", file=sys.stderr)
        return 2
    if not (PEER_MODULES / "oidc-provider" / "package.json").exists():
        print(f"node-oidc-provider is not installed in {PEER_DIR}: run bench/peer/setup.sh",
              file=sys.stderr)
        return 2
    every_cpu = os.sched_getaffinity(0)
    client_cpus = {min(every_cpu)} if len(every_cpu) > 1 else every_cpu
    server_cpus = every_cpu - client_cpus or every_cpu
    os.sched_setaffinity(0, client_cpus)
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="confidp-compare-"))
    try:
        with ExitStack() as stack:
            args_ours, base = flow.confidp_command(work, "memory", 1, application={
                "access_token_format": args.access_token,
                "access_token_signing_alg": args.access_token_alg,
                "id_token_signed_response_alg": args.id_token_alg})
            ours = Server("confidp", stack.enter_context(started(
                args_ours, f"{base}/readyz", server_cpus, work / "confidp.log")), base,
                sign_in=confidp_sign_in)
            httpx.get(f"{base}/acme/jwks")  # make the tenant's keys before measuring
            discover(ours, f"{base}/acme")
            port = flow.free_port()
            base = f"http://127.0.0.1:{port}"
            peer = Server("node-oidc-provider", stack.enter_context(started(
                [peer_node(), str(BENCH / "peer" / "provider.mjs"), "--port", str(port),
                 "--modules", str(PEER_MODULES), "--access-token", args.peer_access_token],
                f"{base}/.well-known/openid-configuration", server_cpus,
                work / "peer.log", {"NODE_ENV": "production"})), base, sign_in=peer_sign_in)
            discover(peer, base)
            answer, ceiling_path = record_authorize_answer(ours, work)
            port = flow.free_port()
            base = f"http://127.0.0.1:{port}"
            bare = Server(BARE, stack.enter_context(started(
                [sys.executable, str(BENCH / "ceiling.py"), str(port), str(answer)],
                f"{base}/hello", server_cpus, work / "ceiling.log")), base)
            servers = (ours, peer)
            for server in servers:
                server.tokens = asyncio.run(describe(server))
            print(f"confidp (memory store, 1 worker) vs {peer_versions()}")
            print(f"{os.cpu_count()} cores: the servers one process each on CPU "
                  f"{sorted(server_cpus)}, the load clients on CPU {sorted(client_cpus)}; "
                  f"{CONCURRENCY} concurrent")
            print(f"each window: {args.warmup:g} s warm-up, then {args.duration:g} s "
                  f"measured; {args.rounds} round(s), the servers taking turns, best "
                  "window counts")
            for server in servers:
                print(f"  {server.name}: {server.tokens}")
            recorded = json.loads(answer.read_text())
            print(f"  302 ceiling: {recorded['status']} with "
                  + ", ".join(name for name, _ in recorded["headers"]
                              if name.lower() not in ("content-length", "date")))
            print("load average before the run: "
                  + " ".join(f"{load:.2f}" for load in os.getloadavg()), flush=True)
            results: Results = {}

            def add(key: str, name: str, window: Window) -> None:
                results.setdefault((key, name), []).append(window)
                print(f"  {key:<9} {name:<18} {window.rate:8.0f}/s  server CPU "
                      f"{window.server_cpu:4.0%}  client CPU {window.client_cpu:4.0%}"
                      + (f"  {window.errors} unexpected answers" if window.errors else ""),
                      flush=True)
            print("\nwindows, in the order run:")
            for _ in range(args.rounds):
                for key, make in (("flows", code_flow), ("refresh", refresh_grant)):
                    for server in servers:
                        add(key, server.name, asyncio.run(
                            per_browser(server, make, args.warmup, args.duration)))
                for server in servers:
                    add("authorize", server.name, wrk_window(
                        server, server.authorize_url, args.warmup, args.duration))
                for key, path in (("ceiling", ceiling_path), ("hello", "/hello")):
                    add(key, BARE, wrk_window(bare, bare.base + path, args.warmup,
                                              args.duration))
        errors = [f"{key} [{name}]: {window.errors}" for (key, name), windows in
                  results.items() for window in windows if window.errors]
        report(results, (ours.name, peer.name))
        figures = openssl_speed(server_cpus, args.openssl_seconds)
        print(f"\nopenssl speed, signatures/s on one core (CPU {sorted(server_cpus)}, "
              f"{args.openssl_seconds} s each): " + ", ".join(
                  f"{name} {rate:,.0f}" for name, rate in figures.items()))
        if errors:
            print("unexpected answers (non-2xx/3xx): " + "; ".join(errors), file=sys.stderr)
            return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ntook {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
