"""A failover of the Redis behind confidp, under load, loses nothing Redis acknowledged (issue
16 item 3): a real confidp server on a real Redis Cluster (3 masters, 3 replicas) and on a real
Sentinel set (a master, a replica, three sentinels), while refresh-token chains refresh and
people sign in without pause, each client retrying after a 503 as a client should. The master
serving the tenant is stopped (SIGSTOP) and its replica promoted by hand (CLUSTER FAILOVER
FORCE, SENTINEL FAILOVER), then resumed; or killed (SIGKILL), failed over by the cluster or the
sentinels, and started again as a replica.

Afterwards every chain still refreshes (no family revoked, no token lost), no code or
refresh token used before or during the failover is there again (read from the new master),
every answer was 200 (302/303 in the sign-in steps) or the documented 503, and no request took
5 s or more. Every write is confirmed by the replica before it counts (wait_replicas=1, the
default for both), which is what makes a promoted replica hold everything acknowledged. The
figures are printed (run with -s)."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from confidp.oauth.tokens import digest
from confidp.store.kinds import CODE, REFRESH
from confidp.store.redis import RedisStore
from confidp.store.tenant import TenantStore
from tests.e2e.flow import (
    VERIFIER,
    authorize_url,
    hidden_fields,
    location,
    query_of,
    seed_params,
    submit_login,
)
from tests.support import (
    SENTINEL_SERVICE,
    RedisCluster,
    RedisSentinel,
    Server,
    free_port,
    running_server,
    tenant_doc,
    wait_until,
    write_tenant,
)

pytestmark = pytest.mark.e2e
CHAINS = 6
SIGN_IN_THREADS = 2
CALLBACK = "http://127.0.0.1:9999/callback"
LONGEST_ALLOWED = 5.0
CLIENT_TIMEOUT = 30.0  # long enough to measure a hang, not to wait for ever
BEFORE, AFTER = 2.0, 2.0  # seconds of load before the fault, and after Redis is whole again


def start_idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
              url: str) -> AbstractContextManager[Server]:
    port = free_port()
    doc = tenant_doc(f"http://127.0.0.1:{port}/acme")
    doc["applications"][0]["scopes"].append("offline_access")
    doc["applications"][0]["grant_types"] = ["authorization_code", "refresh_token"]
    # a cheap hash, so that the sign-ins' store steps, not argon2, set their pace
    doc["users"] = [{"username": "alice", "password_hash": PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1).hash("wonderland")}]
    # every sign-in is alice's, from 127.0.0.1: the throttle is not what this measures
    doc["login_throttle"] = {"max_failures_per_user": 1000, "max_failures_per_ip": 100000}
    write_tenant(tenants_dir, "acme.yaml", doc)
    return running_server(tenants_dir, themes_dir, tmp_path / "state", port, ("--store", url))


def redeem(client: httpx.Client, code: str) -> httpx.Response:
    return client.post("/acme/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER, "client_id": "portal-spa"})


def refresh(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/acme/token", data={"grant_type": "refresh_token",
                                            "refresh_token": token, "client_id": "portal-spa"})


def refresh_tokens(server: Server, count: int) -> list[str]:
    """``count`` refresh-token chains: one login, then one code per chain."""
    tokens = []
    with httpx.Client(base_url=server.base, follow_redirects=False, timeout=10) as browser:
        params = seed_params(scope="openid offline_access")
        login = location(browser.get(authorize_url("/acme", params)))
        submit_login(browser, login, "alice", "wonderland")
        for _ in range(count):
            code = query_of(location(browser.get(authorize_url("/acme", params))))["code"]
            response = redeem(browser, code)
            assert response.status_code == 200, response.text
            tokens.append(response.json()["refresh_token"])
    return tokens


class Unavailable(Exception):
    """A 503: the client starts again (a refresh: with the same token)."""


class Unexpected(Exception):
    """An answer other than the documented ones (recorded; the test fails on it)."""


@dataclass
class Load:
    """Refresh chains and sign-ins in threads until stopped; what they saw."""

    server: Server
    chains: list[list[str]]  # each chain's refresh tokens, oldest first; the last is current
    statuses: Counter[int | str] = field(default_factory=Counter)
    longest: float = 0.0
    longest_what: str = ""
    lost: set[int] = field(default_factory=set)
    unexpected: list[str] = field(default_factory=list)
    redeemed: list[str] = field(default_factory=list)  # codes exchanged for tokens
    sign_ins: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, call: Callable[[], httpx.Response], expected: tuple[int, ...],
             what: str) -> httpx.Response:
        """One request, timed and counted; a 503 raises ``Unavailable``, anything else not
        ``expected`` is recorded and raises ``Unexpected``."""
        started = time.monotonic()
        try:
            response: httpx.Response | None = call()
            outcome: int | str = response.status_code  # type: ignore[union-attr]
        except httpx.TimeoutException:
            response, outcome = None, "timeout"
        except httpx.TransportError:
            response, outcome = None, "no answer"
        elapsed = time.monotonic() - started
        with self._lock:
            self.statuses[outcome] += 1
            if elapsed > self.longest:
                self.longest, self.longest_what = elapsed, f"{what} ({outcome})"
        if outcome == 503:
            raise Unavailable()
        if response is None or response.status_code not in expected:
            with self._lock:
                self.unexpected.append(f"{what}: {outcome} "
                                       f"{response.text[:160] if response else ''}")
            raise Unexpected()
        return response

    def chain(self, index: int) -> None:
        with httpx.Client(base_url=self.server.base, timeout=CLIENT_TIMEOUT) as client:
            while not self._stop.is_set():
                token = self.chains[index][-1]
                try:
                    response = self.send(lambda token=token: refresh(client, token), (200,),
                                         f"refresh (chain {index})")
                except Unavailable:
                    time.sleep(0.1)  # and retry the same token
                    continue
                except Unexpected:
                    with self._lock:
                        self.lost.add(index)
                    return
                self.chains[index].append(response.json()["refresh_token"])

    def sign_in(self) -> None:
        """A person signing in from scratch (a new browser) and the application exchanging
        the code, over and over; after a 503 the person starts again."""
        while not self._stop.is_set():
            with httpx.Client(base_url=self.server.base, timeout=CLIENT_TIMEOUT) as browser:
                try:
                    self.sign_in_once(browser)
                except (Unavailable, Unexpected):
                    time.sleep(0.1)

    def sign_in_once(self, browser: httpx.Client) -> None:
        params = seed_params(scope="openid offline_access")
        login = location(self.send(lambda: browser.get(authorize_url("/acme", params)),
                                   (302,), "authorize"))
        page = self.send(lambda: browser.get(login), (200,), "login page")
        fields = hidden_fields(page.text)
        answer = self.send(lambda: browser.post(login.split("?")[0], data={
            **fields, "username": "alice", "password": "wonderland"}), (302, 303), "login")
        target = location(answer)
        for _ in range(3):  # back to /authorize, then to the application with the code
            if target.startswith(CALLBACK):
                break
            target = location(self.send(lambda url=target: browser.get(url), (302, 303),
                                        "after login"))
        code = query_of(target)["code"]
        self.send(lambda: redeem(browser, code), (200,), "code exchange")
        with self._lock:
            self.redeemed.append(code)
            self.sign_ins += 1

    def run(self, fault: Callable[[], None]) -> float:
        """Load, then the fault (which returns once Redis is whole again), then load; the
        seconds the fault took."""
        threads = [threading.Thread(target=self.chain, args=(index,))
                   for index in range(len(self.chains))]
        threads += [threading.Thread(target=self.sign_in) for _ in range(SIGN_IN_THREADS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(BEFORE)
            started = time.monotonic()
            fault()
            took = time.monotonic() - started
            time.sleep(AFTER)
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(CLIENT_TIMEOUT + 10)
        return took

    def check_every_chain_refreshes(self) -> None:
        """Every chain refreshes once more, now that the failover is over."""
        wait_until(lambda: self.server.get("/readyz").status_code == 200, timeout=20)
        with httpx.Client(base_url=self.server.base, timeout=CLIENT_TIMEOUT) as client:
            for index, chain in enumerate(self.chains):
                response = refresh(client, chain[-1])
                if response.status_code == 200:
                    chain.append(response.json()["refresh_token"])
                else:
                    self.lost.add(index)
                    self.unexpected.append(f"chain {index} after the failover: "
                                           f"{response.status_code} {response.text[:160]}")

    def resurrected(self, url: str) -> list[str]:
        """Codes and refresh tokens used up (acknowledged by a 200) that the store has again,
        read from the master now serving the tenant."""
        async def look() -> list[str]:
            store = RedisStore(url)
            view = TenantStore(store, "acme")
            found = []
            try:
                for index, chain in enumerate(self.chains):
                    for position, token in enumerate(chain[:-1]):
                        if await view.get(REFRESH, digest(token)) is not None:
                            found.append(f"chain {index}: refresh token #{position}")
                for code in self.redeemed:
                    if await view.get(CODE, digest(code)) is not None:
                        found.append(f"code {code[:8]}...")
            finally:
                await store.close()
            return found
        return asyncio.run(look())

    def report(self, what: str, took: float) -> None:
        requests = sum(self.statuses.values())
        print(f"\n{what}: {requests} requests, {self.statuses[503]} answered 503, "
              f"longest {self.longest:.2f} s ({self.longest_what}), {len(self.lost)} of "
              f"{len(self.chains)} chains lost, {self.sign_ins} sign-ins, "
              f"{sum(len(c) - 1 for c in self.chains)} rotations; Redis whole again after "
              f"{took:.1f} s; all answers "
              f"{dict(self.statuses)}")
        for line in self.unexpected[:5]:
            print(f"  unexpected: {line}")

    def assert_nothing_lost(self, url: str) -> None:
        assert self.unexpected == [], self.unexpected
        assert self.lost == set()
        assert set(self.statuses) <= {200, 302, 303, 503}, self.statuses
        assert self.statuses[503] > 0  # the failover was felt
        assert self.sign_ins > 0 and all(len(chain) > 3 for chain in self.chains)
        assert self.longest < LONGEST_ALLOWED
        assert self.resurrected(url) == []
        with httpx.Client(base_url=self.server.base, timeout=CLIENT_TIMEOUT) as client:
            # and as a client sees it: a code used again, a rotated token presented again
            assert redeem(client, self.redeemed[0]).json()["error"] == "invalid_grant"
            assert refresh(client, self.chains[0][0]).json()["error"] == "invalid_grant"


def promoted(read_role: Callable[[], str]) -> None:
    def is_master() -> bool:
        try:
            return read_role() == "master"
        except Exception:  # the node is busy failing over
            return False
    wait_until(is_master, timeout=20, interval=0.05)


@pytest.fixture
def cluster_idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
                redis_cluster: RedisCluster) -> Iterator[Server]:
    with start_idp(tmp_path, tenants_dir, themes_dir, redis_cluster.url) as server:
        yield server


@pytest.fixture
def sentinel_idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
                 redis_sentinel: RedisSentinel) -> Iterator[Server]:
    with start_idp(tmp_path, tenants_dir, themes_dir, redis_sentinel.url) as server:
        yield server


def test_cluster_master_stalled_and_replaced(cluster_idp: Server,
                                             redis_cluster: RedisCluster) -> None:
    """The master of acme's slot stops (SIGSTOP), its replica takes over (CLUSTER FAILOVER
    FORCE), and the old master comes back, to find itself a replica."""
    load = Load(cluster_idp, [[token] for token in refresh_tokens(cluster_idp, CHAINS)])
    master = redis_cluster.master_of("acme")
    replica = redis_cluster.replica_of(master)

    def fault() -> None:
        redis_cluster.nodes[master].signal(signal.SIGSTOP)
        time.sleep(0.5)  # requests pile up on the stalled master
        with redis_cluster.nodes[replica].client() as client:
            client.execute_command("CLUSTER", "FAILOVER", "FORCE")
        promoted(lambda: redis_cluster.info(replica)["role"])
        time.sleep(1)
        redis_cluster.nodes[master].signal(signal.SIGCONT)
        redis_cluster.wait_healthy()
    took = load.run(fault)
    load.check_every_chain_refreshes()
    load.report("Cluster: master stopped, CLUSTER FAILOVER FORCE, old master back", took)
    assert redis_cluster.master_of("acme") == replica
    load.assert_nothing_lost(redis_cluster.url)


def test_cluster_master_killed(cluster_idp: Server, redis_cluster: RedisCluster) -> None:
    """The master of acme's slot is killed (SIGKILL); the cluster promotes its replica after
    the node timeout; the killed node starts again and joins as the new master's replica."""
    load = Load(cluster_idp, [[token] for token in refresh_tokens(cluster_idp, CHAINS)])
    master = redis_cluster.master_of("acme")
    replica = redis_cluster.replica_of(master)

    def fault() -> None:
        redis_cluster.nodes[master].kill()
        promoted(lambda: redis_cluster.info(replica)["role"])
        redis_cluster.nodes[master].start()  # its nodes.conf: it rejoins, as a replica
        redis_cluster.wait_healthy()
    took = load.run(fault)
    load.check_every_chain_refreshes()
    load.report("Cluster: master killed (SIGKILL), automatic failover, restarted", took)
    assert redis_cluster.master_of("acme") == replica
    load.assert_nothing_lost(redis_cluster.url)


def test_sentinel_master_stalled_and_replaced(sentinel_idp: Server,
                                              redis_sentinel: RedisSentinel) -> None:
    """The master stops (SIGSTOP), the sentinels promote its replica (SENTINEL FAILOVER), and
    the old master comes back, to be made a replica by the sentinels."""
    load = Load(sentinel_idp, [[token] for token in refresh_tokens(sentinel_idp, CHAINS)])
    master = redis_sentinel.master()

    def fault() -> None:
        redis_sentinel.servers[master].signal(signal.SIGSTOP)
        time.sleep(0.5)
        with next(iter(redis_sentinel.sentinels.values())).client() as client:
            client.execute_command("SENTINEL", "FAILOVER", SENTINEL_SERVICE)
        wait_until(lambda: redis_sentinel.master() != master, timeout=20)
        time.sleep(1)
        redis_sentinel.servers[master].signal(signal.SIGCONT)
        redis_sentinel.wait_healthy()
    took = load.run(fault)
    load.check_every_chain_refreshes()
    load.report("Sentinel: master stopped, SENTINEL FAILOVER, old master back", took)
    load.assert_nothing_lost(redis_sentinel.url)


def test_sentinel_master_killed(sentinel_idp: Server, redis_sentinel: RedisSentinel) -> None:
    """The master is killed (SIGKILL); the sentinels agree it is down and promote its
    replica; the killed server starts again as the new master's replica."""
    load = Load(sentinel_idp, [[token] for token in refresh_tokens(sentinel_idp, CHAINS)])
    master = redis_sentinel.master()

    def fault() -> None:
        redis_sentinel.servers[master].kill()
        wait_until(lambda: redis_sentinel.master() != master, timeout=20)
        redis_sentinel.servers[master].start(
            extra=("--replicaof", "127.0.0.1", str(redis_sentinel.master())))
        redis_sentinel.wait_healthy()
    took = load.run(fault)
    load.check_every_chain_refreshes()
    load.report("Sentinel: master killed (SIGKILL), automatic failover, restarted", took)
    load.assert_nothing_lost(redis_sentinel.url)
