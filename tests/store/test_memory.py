"""The store contract, on the memory store (the reference implementation)."""

from __future__ import annotations

import asyncio

import pytest

from confidp.store import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


async def test_take_is_one_time(store: MemoryStore) -> None:
    await store.put("code", "c", {"v": 1}, ttl=60)
    results = await asyncio.gather(*(store.take("code", "c") for _ in range(10)))
    assert [r for r in results if r is not None] == [{"v": 1}]
    assert await store.get("code", "c") is None


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


async def test_expired_entries_are_swept(store: MemoryStore, clock: Clock) -> None:
    for index in range(2000):
        await store.put("pending", str(index), {}, ttl=1)
    clock.now += 2
    for index in range(1100):
        await store.put("pending", f"new{index}", {}, ttl=60)
    assert len(store._values) == 1100
