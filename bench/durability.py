"""What confirming every write with a replica costs (issue 16 item 3): ``wait_replicas``.

With ``wait_replicas=1`` (the default for ``redis+cluster://`` and ``redis+sentinel://``) each
write is followed, in the same round trip, by Redis's ``WAIT 1 timeout``, so it counts as done
only once a replica has it and a failover cannot lose it. This prints, with and without it:

- the store alone: refresh rotations per second (``RedisStore.consume`` with the writes a
  refresh grant makes, the step that decides) at a fixed concurrency, and their p50/p99;
- the whole server: refresh grants per second against ``confidp serve`` (one worker), and
  how many were answered 503 (a replica that did not confirm within ``wait_timeout``) and
  sent again.

On a single Redis (no replica: the baseline), a Sentinel set (a master, a replica, three
sentinels) and a Redis Cluster (3 masters, 3 replicas), all started here on 127.0.0.1 by the
test suite's helpers (tests/support.py). Needs redis-server, redis-sentinel and redis-cli.

    python bench/durability.py [--duration 5] [--concurrency 16] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import flow  # noqa: E402  (bench/flow.py: the server and its refresh-grant load)
from tests.support import RedisCluster, RedisSentinel, RedisServer  # noqa: E402

from confidp.store.redis import RedisStore  # noqa: E402


async def rotations(url: str, seconds: float, concurrency: int) -> dict[str, float]:
    """``concurrency`` tasks each rotating refresh tokens of their own through the store for
    ``seconds``: a consume with the five records a refresh grant writes."""
    store = RedisStore(url)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    record = {"tenant": "acme", "family": "f" * 32, "client_id": "portal-spa",
              "scopes": ["openid", "offline_access"], "subject": "alice", "auth_time": 1.0}

    async def worker(index: int) -> None:
        token = 0
        await store.put("acme:refresh", f"{index}-{token}", record, 600)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writes = [("acme:refresh_used", f"{index}-{token}", record, 600),
                      ("acme:refresh_reuse", f"{index}-{token}", record, 30),
                      ("acme:refresh", f"{index}-{token + 1}", record, 600),
                      ("acme:family", f"{index}", record, 600),
                      ("acme:access", f"{index}-{token}", record, 300)]
            assert await store.consume("acme:refresh", f"{index}-{token}", writes)
            latencies.append((time.perf_counter() - started) * 1000)
            token += 1
    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(index) for index in range(concurrency)))
    finally:
        await store.close()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rate": len(latencies) / elapsed, "p50": statistics.median(latencies),
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


async def retried(send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """A request sent again after a 503 (a write a replica did not confirm in time: on a
    machine this busy, a starved replica), as a client would; any other failure stops."""
    for _ in range(20):
        response = await send()
        if response.status_code != 503:
            return response
        await asyncio.sleep(0.1)
    raise RuntimeError(f"503 twenty times in a row: {response.text[:200]}")


async def refresh_grants(base: str, seconds: float, concurrency: int) -> dict[str, float]:
    """``concurrency`` clients each refreshing its own token for ``seconds`` (one sign-in,
    one code per client); a 503 is counted and the token presented again."""
    async with httpx.AsyncClient(base_url=base, follow_redirects=False,
                                 timeout=30) as browser:
        login = (await retried(lambda: browser.get(flow.authorize_path()))).headers["location"]
        page = await retried(lambda: browser.get(login))
        fields = dict(flow.HIDDEN.findall(page.text))
        after = await retried(lambda: browser.post("/acme/login", data={
            **fields, "username": "alice", "password": "wonderland"}))
        target = after.headers["location"]
        if target.startswith("/acme/consent"):
            page = await retried(lambda: browser.get(target))
            await retried(lambda: browser.post("/acme/consent", data={
                **dict(flow.HIDDEN.findall(page.text)), "decision": "approve"}))
        tokens = []
        for _ in range(concurrency):
            answer = await retried(lambda: browser.get(flow.authorize_path()))
            code = flow.query_of(answer.headers["location"])["code"]
            redeemed = await retried(lambda code=code: browser.post("/acme/token", data={
                "grant_type": "authorization_code", "code": code,
                "redirect_uri": flow.CALLBACK, "code_verifier": flow.VERIFIER,
                "client_id": "portal-spa"}))
            tokens.append(redeemed.json()["refresh_token"])
    unavailable = 0
    clients = [httpx.AsyncClient(base_url=base, timeout=30) for _ in tokens]

    async def make(index: int) -> Callable[[], Awaitable[None]]:
        async def refresh() -> None:
            nonlocal unavailable
            while True:
                answer = await clients[index].post("/acme/token", data={
                    "grant_type": "refresh_token", "refresh_token": tokens[index],
                    "client_id": "portal-spa"})
                if answer.status_code != 503:
                    break
                unavailable += 1
            assert answer.status_code == 200, answer.text
            tokens[index] = answer.json()["refresh_token"]
        return refresh
    try:
        result = await flow.closed_loop(seconds, concurrency, make)
    finally:
        for client in clients:
            await client.aclose()
    return {**result, "503": unavailable}


SERVER_CPUS: set[int] | None = None  # main() places the server on a core of its own


def line(name: str, result: dict[str, float], baseline: float | None) -> str:
    ratio = f"  {result['rate'] / baseline:5.0%} of wait_replicas=0" if baseline else ""
    retried_after = f"  ({result['503']:.0f} answered 503)" if result.get("503") else ""
    return (f"  {name:<34} {result['rate']:8.0f}/s  p50 {result['p50']:6.2f} ms  "
            f"p99 {result['p99']:6.2f} ms{ratio}{retried_after}")


def measure(name: str, url: str, work: Path, seconds: float, concurrency: int,
            rounds: int) -> None:
    """Each figure the best of ``rounds``, the settings taking turns (so that a burst of
    other work on the machine does not fall on one of them only)."""
    print(f"\n{name}")
    separator = "&" if "?" in url else "?"
    waits = (0,) if url.startswith("redis://") else (0, 1)  # a single Redis: no replica
    for what in ("store", "server"):
        best: dict[int, dict[str, float]] = {}
        for _ in range(rounds):
            for wait in waits:
                target = f"{url}{separator}wait_replicas={wait}"
                if what == "store":
                    result = asyncio.run(rotations(target, seconds, concurrency))
                else:
                    with flow.confidp(work, target, 1, SERVER_CPUS) as base:
                        result = asyncio.run(refresh_grants(base, seconds, concurrency))
                if wait not in best or result["rate"] > best[wait]["rate"]:
                    best[wait] = result
        label = "store rotations" if what == "store" else "refresh grants"
        for wait in waits:
            print(line(f"{label}, wait_replicas={wait}", best[wait],
                       best[0]["rate"] if wait else None))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="best of this many runs")
    args = parser.parse_args()
    missing = [name for name in ("redis-server", "redis-sentinel", "redis-cli")
               if shutil.which(name) is None]
    if missing:
        print(f"bench/durability.py needs {', '.join(missing)}: apt-get install redis-server "
              "redis-sentinel redis-tools", file=sys.stderr)
        return 2
    global SERVER_CPUS
    every_cpu = os.sched_getaffinity(0)
    work = Path(tempfile.mkdtemp(prefix="confidp-durability-"))
    print(f"{os.cpu_count()} cores; {args.duration:g} s per run, {args.concurrency} "
          f"concurrent, best of {args.rounds} runs")
    single = RedisServer()
    sentinel = RedisSentinel(work / "sentinel")
    cluster = RedisCluster(work / "cluster")
    try:
        single.start()  # Redis may use every core
        sentinel.start()
        cluster.start()
        if len(every_cpu) > 1:  # as bench/flow.py: the server on a core, the load on another
            client_cpus = {min(every_cpu)}
            SERVER_CPUS = every_cpu - client_cpus
            os.sched_setaffinity(0, client_cpus)
            print(f"server on CPU {sorted(SERVER_CPUS)}, load on CPU {sorted(client_cpus)}, "
                  "Redis on all")
        for name, url in (("single Redis, no replica", single.url),
                          ("Sentinel: a master and a replica", sentinel.url),
                          ("Cluster: 3 masters, 3 replicas", cluster.url)):
            measure(name, url, work, args.duration, args.concurrency, args.rounds)
    finally:
        single.stop()
        sentinel.stop()
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
