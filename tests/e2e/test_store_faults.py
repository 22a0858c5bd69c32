"""Store faults must never sign people out (issue 10 item 13): a real Redis stopped (SIGSTOP)
or killed and restarted from its append-only file while 16 refresh-token chains refresh as
fast as they can, each retrying its token after a 503 as a client should.

Afterwards every chain must still refresh (none was revoked as reuse), every answer must have
been 200 or the documented 503, and no request may have taken 5 s or more: the store calls of a
request share one deadline (confidp.store.deadline) and are never retried by the client
library. The figures are printed (run with -s)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import RedisError

from tests.e2e.flow import VERIFIER, authorize_url, location, query_of, seed_params, submit_login
from tests.support import (
    RedisServer,
    Server,
    free_port,
    running_server,
    tenant_doc,
    wait_until,
    write_tenant,
)

pytestmark = pytest.mark.e2e
CHAINS = 16
CALLBACK = "http://127.0.0.1:9999/callback"
LONGEST_ALLOWED = 5.0
CLIENT_TIMEOUT = 30.0  # long enough to measure a hang, not to wait for ever


class DurableRedis(RedisServer):
    """A real redis-server that writes every change to its append-only file before answering
    (``appendfsync always``), so a kill -9 loses nothing it acknowledged."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory),
             "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up() -> bool:
            try:
                with Redis(port=self.port, socket_timeout=1) as client:
                    return bool(client.ping())
            except RedisError:  # not listening yet, or still loading the file
                return False
        wait_until(up, timeout=20, interval=0.05)

    def signal(self, number: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, number)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.process = None


@pytest.fixture
def redis(tmp_path: Path, redis_binary: str) -> Iterator[DurableRedis]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = DurableRedis(directory)
    server.start()
    yield server
    if server.process is not None:
        server.signal(signal.SIGCONT)
    server.stop()


@pytest.fixture
def idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
        redis: DurableRedis) -> Iterator[Server]:
    port = free_port()
    doc = tenant_doc(f"http://127.0.0.1:{port}/acme")
    doc["applications"][0]["scopes"].append("offline_access")
    doc["applications"][0]["grant_types"] = ["authorization_code", "refresh_token"]
    write_tenant(tenants_dir, "acme.yaml", doc)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port,
                        ("--store", redis.url)) as server:
        yield server


def refresh_tokens(server: Server, count: int) -> list[str]:
    """``count`` refresh-token chains: one login, then one code per chain."""
    tokens = []
    with httpx.Client(base_url=server.base, follow_redirects=False, timeout=10) as browser:
        params = seed_params(scope="openid offline_access")
        login = location(browser.get(authorize_url("/acme", params)))
        submit_login(browser, login, "alice", "wonderland")
        for _ in range(count):
            code = query_of(location(browser.get(authorize_url("/acme", params))))["code"]
            response = browser.post("/acme/token", data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                "code_verifier": VERIFIER, "client_id": "portal-spa"})
            assert response.status_code == 200, response.text
            tokens.append(response.json()["refresh_token"])
    return tokens


def refresh(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/acme/token", data={"grant_type": "refresh_token",
                                            "refresh_token": token, "client_id": "portal-spa"})


@dataclass
class Load:
    """Chains refreshing in threads until stopped; what they saw."""

    server: Server
    tokens: list[str]
    statuses: Counter[int | str] = field(default_factory=Counter)
    longest: float = 0.0
    lost: set[int] = field(default_factory=set)
    lost_how: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def chain(self, index: int) -> None:
        with httpx.Client(base_url=self.server.base, timeout=CLIENT_TIMEOUT) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = refresh(client, self.tokens[index])
                    outcome: int | str = response.status_code
                except httpx.TimeoutException:
                    response, outcome = None, "timeout"
                except httpx.TransportError:
                    response, outcome = None, "no answer"
                elapsed = time.monotonic() - started
                with self._lock:
                    self.statuses[outcome] += 1
                    self.longest = max(self.longest, elapsed)
                if response is not None and response.status_code == 200:
                    self.tokens[index] = response.json()["refresh_token"]
                elif response is not None and response.status_code == 503:
                    time.sleep(0.2)  # and retry the same token, as a client should
                elif response is not None:
                    with self._lock:
                        self.lost.add(index)
                        self.lost_how.append(f"{outcome} {response.text[:120]}")
                    return
                else:
                    time.sleep(0.2)

    def run(self, fault: Callable[[], None]) -> None:
        threads = [threading.Thread(target=self.chain, args=(index,))
                   for index in range(len(self.tokens))]
        for thread in threads:
            thread.start()
        try:
            time.sleep(2)  # load before the fault
            fault()
            time.sleep(4)  # and after it
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(CLIENT_TIMEOUT + 10)

    def check_every_chain_refreshes(self) -> None:
        """Every chain not already lost refreshes once more, now that Redis is back."""
        wait_until(lambda: self.server.get("/readyz").status_code == 200, timeout=20)
        with httpx.Client(base_url=self.server.base, timeout=CLIENT_TIMEOUT) as client:
            for index, token in enumerate(self.tokens):
                if index in self.lost:
                    continue
                response = refresh(client, token)
                if response.status_code != 200:
                    self.lost.add(index)
                    self.lost_how.append(f"after: {response.status_code} "
                                         f"{response.text[:120]}")

    def report(self, what: str) -> None:
        other = {k: v for k, v in self.statuses.items() if k not in (200, 503)}
        print(f"\n{what}: {len(self.lost)} of {len(self.tokens)} chains lost, "
              f"{sum(other.values())} answers other than 200/503 {dict(other)}, longest "
              f"request {self.longest:.2f} s; all answers {dict(self.statuses)}")
        for line in self.lost_how[:5]:
            print(f"  lost: {line}")

    def assert_nothing_lost(self) -> None:
        assert self.lost == set(), self.lost_how
        assert set(self.statuses) <= {200, 503}, self.statuses
        assert self.statuses[200] > 2 * len(self.tokens)  # the load really ran
        assert self.longest < LONGEST_ALLOWED


def test_redis_stopped_for_8_s_under_refresh_load(idp: Server, redis: DurableRedis) -> None:
    load = Load(idp, refresh_tokens(idp, CHAINS))

    def stall() -> None:
        redis.signal(signal.SIGSTOP)
        time.sleep(8)
        redis.signal(signal.SIGCONT)
    load.run(stall)
    load.check_every_chain_refreshes()
    load.report("Redis stopped (SIGSTOP) for 8 s")
    assert load.statuses[503] > 0  # the stall was felt
    load.assert_nothing_lost()


def test_redis_killed_and_restarted_from_its_append_only_file(idp: Server,
                                                              redis: DurableRedis) -> None:
    load = Load(idp, refresh_tokens(idp, CHAINS))

    def crash() -> None:
        redis.kill()
        time.sleep(1)
        redis.start()  # same port and directory: everything it acknowledged is back
    load.run(crash)
    load.check_every_chain_refreshes()
    load.report("Redis killed (SIGKILL) and restarted from its append-only file")
    load.assert_nothing_lost()
