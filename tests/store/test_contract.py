"""The store contract. Clock-driven cases run on the memory store (the reference); the
conformance suite runs the same cases on memory and on a real Redis."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest

from confidp.store import MemoryStore, Store, StoreUnavailable
from confidp.store.deadline import store_deadline
from confidp.store.redis import RedisStore
from confidp.store.tenant import TenantStore
from tests.support import Clock, RedisCluster, RedisSentinel, RedisServer, free_port


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryStore:
    return MemoryStore(clock)


async def test_put_get_expire(store: MemoryStore, clock: Clock) -> None:
    await store.put("session", "a", {"x": 1}, ttl=10)
    assert await store.get("session", "a") == {"x": 1}
    assert await store.get("code", "a") is None  # kinds are separate
    clock.now += 10
    assert await store.get("session", "a") is None


async def test_values_are_copies(store: MemoryStore) -> None:
    value = {"scopes": ["openid"]}
    await store.put("consent", "k", value, ttl=10)
    value["scopes"].append("admin")
    got = await store.get("consent", "k")
    assert got == {"scopes": ["openid"]}
    got["scopes"].append("admin")  # type: ignore[index]
    assert await store.get("consent", "k") == {"scopes": ["openid"]}


async def test_a_value_that_cannot_be_stored_stores_nothing(store: MemoryStore) -> None:
    await store.put("code", "c", {"v": 1}, ttl=60)
    unstorable = ("access", "j2", {"v": object()}, 60)
    with pytest.raises(TypeError):
        await store.consume("code", "c", [("access", "j1", {}, 60), unstorable])
    with pytest.raises(TypeError):
        await store.claim("code_used", "c", {}, 60, [("access", "j1", {}, 60), unstorable])
    with pytest.raises(TypeError):
        await store.put_many([("access", "j1", {}, 60), unstorable])
    assert await store.get("code", "c") == {"v": 1}
    assert await store.get("code_used", "c") is None
    assert await store.get("access", "j1") is None


async def test_delete(store: MemoryStore) -> None:
    await store.put("session", "s", {}, ttl=60)
    await store.delete("session", "s")
    await store.delete("session", "absent")
    assert await store.get("session", "s") is None


async def test_hit_counts_in_a_window(store: MemoryStore, clock: Clock) -> None:
    assert await store.count("throttle", "u") == (0, 0.0)
    assert await store.hit("throttle", "u", 60) == (1, 60)
    clock.now += 20
    assert await store.hit("throttle", "u", 60) == (2, 40)
    assert await store.count("throttle", "u") == (2, 40)
    clock.now += 40
    assert await store.count("throttle", "u") == (0, 0.0)
    assert await store.hit("throttle", "u", 60) == (1, 60)


async def test_refund_keeps_the_window(store: MemoryStore, clock: Clock) -> None:
    await store.hit("throttle", "u", 60)
    await store.hit("throttle", "u", 60)
    clock.now += 30
    await store.refund("throttle", "u")
    assert await store.count("throttle", "u") == (1, 30)
    clock.now += 30
    await store.refund("throttle", "u")
    assert await store.count("throttle", "u") == (0, 0.0)
    assert await store.hit("throttle", "u", 60) == (1, 60)


async def test_expired_entries_are_swept(store: MemoryStore, clock: Clock) -> None:
    for index in range(2000):
        await store.put("pending", str(index), {}, ttl=1)
        await store.hit("throttle", str(index), window=1)
    clock.now += 2
    await store.put("pending", "new", {}, ttl=60)  # one write removes everything expired
    assert len(store._values) == 1 and len(store._counters) == 0


async def test_rewritten_entries_keep_the_expiry_heap_bounded(store: MemoryStore,
                                                              clock: Clock) -> None:
    for step in range(20_000):  # one session touched over and over, a throttle hit often
        clock.now += 0.01
        await store.put("session", "s", {"n": step}, ttl=3600)
        await store.hit("throttle", "u", window=600)
    assert len(store._expiries) <= 2 * 2 + 1024 + 1
    assert await store.get("session", "s") == {"n": 19_999}
    assert (await store.count("throttle", "u"))[0] == 20_000
    clock.now += 3601
    await store.put("other", "o", {}, ttl=1)
    assert set(store._values) == {("other", "o")} and not store._counters


@pytest.fixture(params=["memory", "redis", "cluster", "sentinel"])
async def any_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """The reference store, and Redis as a single server, a Redis Cluster (3 masters, 3
    replicas) and a master watched by Sentinel (with a replica); the last two confirm every
    write with a replica (wait_replicas=1, their default)."""
    if request.param == "memory":
        store: Store = MemoryStore()
    else:
        deployment: RedisServer | RedisCluster | RedisSentinel = request.getfixturevalue(
            {"redis": "redis_server", "cluster": "redis_cluster",
             "sentinel": "redis_sentinel"}[request.param])
        # the longest confirmation wait the URL allows: the contract is about what a store
        # does, and a replica starved of CPU by a parallel suite may take more than 0.5 s
        patient = "" if request.param == "redis" else "?wait_timeout=1.5"
        store = RedisStore(deployment.url + patient)
    yield store
    await store.close()


async def test_contract_put_get_consume_delete(any_store: Store) -> None:
    await any_store.put("session", "a", {"x": [1, "two"], "y": None}, ttl=30)
    assert await any_store.get("session", "a") == {"x": [1, "two"], "y": None}
    assert await any_store.get("code", "a") is None
    assert await any_store.consume("session", "a")
    assert not await any_store.consume("session", "a")
    assert await any_store.get("session", "a") is None
    await any_store.put("session", "b", {}, ttl=30)
    await any_store.delete("session", "b")
    assert await any_store.get("session", "b") is None
    assert await any_store.ping()


async def test_contract_expiry(any_store: Store) -> None:
    await any_store.put("pending", "p", {"v": 1}, ttl=0.2)
    assert await any_store.get("pending", "p") == {"v": 1}
    await asyncio.sleep(0.35)
    assert await any_store.get("pending", "p") is None


async def test_contract_consume_races(any_store: Store) -> None:
    """Of requests racing to use one code, one wins, and only what it issues is written."""
    for round_ in range(20):
        code = f"c{round_}"
        await any_store.put("code", code, {"round": round_}, ttl=30)
        won = await asyncio.gather(*(any_store.consume("code", code, [
            ("code_used", code, {"by": racer}, 30), ("access", f"{code}-{racer}", {}, 30)])
            for racer in range(8)))
        assert won.count(True) == 1
        winner = won.index(True)
        assert await any_store.get("code", code) is None
        assert await any_store.get("code_used", code) == {"by": winner}
        written = [await any_store.get("access", f"{code}-{racer}") for racer in range(8)]
        assert [racer for racer, value in enumerate(written) if value is not None] == [winner]


async def test_contract_claim_races(any_store: Store) -> None:
    for round_ in range(20):
        marker = f"p{round_}"
        won = await asyncio.gather(*(any_store.claim(
            "pending_used", marker, {"by": racer}, 30, [("code", f"{marker}-{racer}", {}, 30)])
            for racer in range(8)))
        assert won.count(True) == 1
        winner = won.index(True)
        assert await any_store.get("pending_used", marker) == {"by": winner}
        written = [await any_store.get("code", f"{marker}-{racer}") for racer in range(8)]
        assert [racer for racer, value in enumerate(written) if value is not None] == [winner]


async def test_contract_claim_and_consume_write_with_their_lifetimes(any_store: Store) -> None:
    assert await any_store.claim("pending_used", "p", {"m": 1}, 0.2,
                                 [("code", "short", {"s": 1}, 0.2), ("code", "long", {}, 30)])
    assert not await any_store.claim("pending_used", "p", {"m": 2}, 30,
                                     [("code", "other", {}, 30)])
    assert await any_store.get("code", "other") is None
    await any_store.put("refresh", "r", {}, 30)
    assert await any_store.consume("refresh", "r", [("refresh", "r", {"new": True}, 30),
                                                    ("family", "f", {"g": 1}, 0.2)])
    assert await any_store.get("refresh", "r") == {"new": True}  # writes follow the delete
    assert not await any_store.consume("absent", "x", [("code", "never", {}, 30)])
    assert await any_store.get("code", "never") is None
    assert await any_store.get("code", "short") == {"s": 1}
    await asyncio.sleep(0.35)
    assert await any_store.get("pending_used", "p") is None
    assert await any_store.get("code", "short") is None
    assert await any_store.get("family", "f") is None
    assert await any_store.get("code", "long") == {}


async def test_contract_counters(any_store: Store) -> None:
    assert await any_store.count("throttle", "u") == (0, 0.0)
    counts = await asyncio.gather(*(any_store.hit("throttle", "u", 60) for _ in range(10)))
    assert sorted(c for c, _ in counts) == list(range(1, 11))
    count, left = await any_store.count("throttle", "u")
    assert count == 10 and 55 < left <= 60
    await any_store.hit("throttle", "short", 0.2)
    await asyncio.sleep(0.35)
    assert await any_store.count("throttle", "short") == (0, 0.0)


async def test_contract_refund(any_store: Store) -> None:
    """A refund takes back one count, atomically, never below zero, keeping the window's end;
    it never starts a window."""
    await any_store.refund("throttle", "absent")
    assert await any_store.count("throttle", "absent") == (0, 0.0)
    for _ in range(3):
        await any_store.hit("throttle", "u", 60)
    await any_store.refund("throttle", "u")
    count, left = await any_store.count("throttle", "u")
    assert count == 2 and 55 < left <= 60
    assert (await any_store.hit("throttle", "u", 60))[0] == 3
    # concurrent hits and refunds: every hit gets its own count, and they all cancel out (five
    # hits first, so that no interleaving takes the count below zero, where a refund is lost)
    for _ in range(5):
        await any_store.hit("throttle", "r", 60)
    await asyncio.gather(*(any_store.hit("throttle", "r", 60) for _ in range(5)),
                         *(any_store.refund("throttle", "r") for _ in range(5)))
    assert (await any_store.count("throttle", "r"))[0] == 5
    await asyncio.gather(*(any_store.refund("throttle", "r") for _ in range(8)))
    assert (await any_store.count("throttle", "r"))[0] == 0
    assert (await any_store.hit("throttle", "r", 60))[0] == 1
    await any_store.hit("throttle", "short", 0.2)
    await asyncio.sleep(0.35)
    await any_store.refund("throttle", "short")
    assert await any_store.count("throttle", "short") == (0, 0.0)


async def test_contract_put_many(any_store: Store) -> None:
    await any_store.put_many([("access", "j", {"a": 1}, 30), ("family", "f", {"b": 2}, 30)])
    assert await any_store.get("access", "j") == {"a": 1}
    assert await any_store.get("family", "f") == {"b": 2}


async def test_redis_unreachable_is_store_unavailable() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    assert not await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.get("session", "x")
    with pytest.raises(StoreUnavailable):
        await store.put("session", "x", {}, 10)
    with pytest.raises(StoreUnavailable):
        await store.consume("code", "x", [("code_used", "x", {}, 10)])
    with pytest.raises(StoreUnavailable):
        await store.claim("pending_used", "x", {}, 10)
    await store.close()


async def test_redis_password_is_not_in_messages() -> None:
    store = RedisStore(f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreUnavailable) as caught:
        await store.get("session", "x")
    assert "hunter2" not in str(caught.value)
    await store.close()


async def test_redis_stalled_a_call_is_never_sent_twice_and_the_deadline_holds(
        redis_server: RedisServer) -> None:
    """Redis stopped (SIGSTOP): a call gives up after its socket timeout and is never sent
    again (a script run twice would take its own retry for a second use); within a request's
    store deadline, a call ends at the deadline and the calls after it fail at once, unsent."""
    store = RedisStore(redis_server.url)
    assert redis_server.process is not None
    pid = redis_server.process.pid
    await store.put("session", "warm", {}, 30)
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(StoreUnavailable):
            await store.hit("throttle", "u", 60)
        with store_deadline(0.2):
            with pytest.raises(StoreUnavailable, match="deadline"):
                await store.get("session", "warm")
            with pytest.raises(StoreUnavailable, match="deadline"):
                await store.consume("session", "warm")
    finally:
        os.kill(pid, signal.SIGCONT)
    # Redis ran the stalled hit once it resumed, and only once: it was never sent again
    for _ in range(50):
        if (await store.count("throttle", "u"))[0]:
            break
        await asyncio.sleep(0.05)
    assert (await store.count("throttle", "u"))[0] == 1
    assert await store.get("session", "warm") == {}  # the consume, past the deadline, never sent
    await store.close()


async def test_contract_one_step_stays_in_one_namespace(any_store: Store) -> None:
    """Every key of one atomic step is in one namespace (a tenant's: one hash slot in a Redis
    Cluster); a step that spans two is refused on every store, before it changes anything."""
    await any_store.put("acme:code", "c", {"v": 1}, 30)
    with pytest.raises(ValueError, match="spans several namespaces"):
        await any_store.consume("acme:code", "c", [("globex:access", "j", {}, 30)])
    with pytest.raises(ValueError, match="spans several namespaces"):
        await any_store.claim("acme:pending_used", "p", {}, 30, [("code", "c", {}, 30)])
    with pytest.raises(ValueError, match="spans several namespaces"):
        await any_store.put_many([("acme:access", "j", {}, 30), ("globex:access", "j", {}, 30)])
    assert await any_store.get("acme:code", "c") == {"v": 1}
    assert await any_store.get("globex:access", "j") is None
    assert await any_store.get("acme:pending_used", "p") is None
    assert await any_store.get("acme:access", "j") is None
    # within one tenant's namespace, as the tenant view writes
    assert await any_store.consume("acme:code", "c", [("acme:code_used", "c", {"u": 1}, 30),
                                                      ("acme:access", "j", {}, 30)])
    assert await any_store.get("acme:code_used", "c") == {"u": 1}
    await any_store.put_many([("globex:access", "j", {"g": 1}, 30),
                              ("globex:family", "f", {}, 30)])
    assert await any_store.get("globex:access", "j") == {"g": 1}
    assert await any_store.get("acme:access", "j") == {}  # namespaces are apart


async def test_redis_keys_carry_the_tenant_as_hash_tag(redis_server: RedisServer) -> None:
    """``confidp:{<tenant>}:<kind>:<id>``: the braces keep a tenant's keys in one Redis
    Cluster hash slot; the same layout on a single Redis."""
    import redis.asyncio as aioredis

    store = RedisStore(redis_server.url)
    view = TenantStore(store, "acme")
    await view.put("session", "abc", {}, 30)
    await view.hit("throttle", "alice", 60)
    await store.put("session", "bare", {}, 30)
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        assert {key async for key in raw.scan_iter("confidp:*")} == {
            b"confidp:{acme}:session:abc", b"confidp:{acme}:throttle:alice",
            b"confidp:{_}:session:bare"}
    finally:
        await raw.aclose()
        await store.close()


async def test_redis_client_failing_unexpectedly_is_store_unavailable(
        redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the client library raises is a store that failed, a 503, never a 500: in a
    failover redis-py's cluster client lets through AttributeError and RuntimeError from
    connections another task closed (seen in tests/e2e/test_failover.py)."""
    store = RedisStore(redis_server.url)

    async def broken(*command: object) -> object:
        raise AttributeError("'NoneType' object has no attribute 'writelines'")
    monkeypatch.setattr(store._client, "read", broken)
    monkeypatch.setattr(store._client, "write", broken)
    with pytest.raises(StoreUnavailable, match="the client failed: AttributeError"):
        await store.get("session", "x")
    with pytest.raises(StoreUnavailable, match="the client failed"):
        await store.consume("code", "c", [("code_used", "c", {}, 10)])
    await store.close()


async def test_contract_sets_of_members_each_with_its_expiry(any_store: Store) -> None:
    """The index of a person's sessions and refresh families (the account page, "sign out
    everywhere"): members expire one by one, a renewed member lives on, removal is one."""
    # TTLs of seconds: a store that confirms each write on a replica (cluster, sentinel) may
    # take a good part of a second under a loaded CI machine before the first check runs
    await any_store.add_member("sessions_of", "alice", "s1", ttl=1.5)
    await any_store.add_member("sessions_of", "alice", "s2", ttl=30)
    await any_store.add_member("sessions_of", "bob", "s3", ttl=30)
    assert sorted(await any_store.members("sessions_of", "alice")) == ["s1", "s2"]
    assert await any_store.members("sessions_of", "carol") == []
    assert await any_store.members("families_of", "alice") == []  # kinds are separate
    await asyncio.sleep(1.6)
    assert await any_store.members("sessions_of", "alice") == ["s2"]
    await any_store.add_member("sessions_of", "alice", "s2", ttl=1.0)  # renewed, shorter
    await any_store.remove_member("sessions_of", "bob", "s3")
    await any_store.remove_member("sessions_of", "bob", "never")
    assert await any_store.members("sessions_of", "bob") == []
    await asyncio.sleep(1.1)
    assert await any_store.members("sessions_of", "alice") == []


async def test_memory_sets_are_dropped_when_their_members_expired(store: MemoryStore,
                                                                  clock: Clock) -> None:
    for number in range(2000):
        await store.add_member("sessions_of", f"person{number}", "s", ttl=60)
    clock.now += 61
    await store.add_member("sessions_of", "new", "s", ttl=60)
    assert list(store._sets) == [("sessions_of", "new")]
    assert len(store._set_expiries) <= 2 + 1024
