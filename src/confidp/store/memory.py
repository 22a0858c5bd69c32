"""The in-memory store: the reference implementation, for one process."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from confidp.store.base import Record

_SWEEP_EVERY = 1024  # writes between sweeps of expired entries


class MemoryStore:
    """Dict-backed, with expiry checked on read and swept periodically so memory stays bounded.
    All methods run on the event loop without awaiting in between, so each is atomic. Values
    are kept as JSON text, as Redis keeps them: a caller can never change a stored value by
    mutating what it put or got, and what cannot be stored in Redis cannot be stored here."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[tuple[str, str], tuple[float, str]] = {}
        self._counters: dict[tuple[str, str], tuple[float, int]] = {}
        self._writes = 0

    def _live(self, entry_key: tuple[str, str]) -> str | None:
        entry = self._values.get(entry_key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._values[entry_key]
            return None
        return entry[1]

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            now = self._clock()
            for key in [k for k, (expires, _) in self._values.items() if expires <= now]:
                del self._values[key]
            for key in [k for k, (expires, _) in self._counters.items() if expires <= now]:
                del self._counters[key]

    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        self._values[(kind, key)] = (self._clock() + ttl, json.dumps(value))
        self._wrote()

    async def add(self, kind: str, key: str, value: Record, ttl: float) -> bool:
        if self._live((kind, key)) is not None:
            return False
        await self.put(kind, key, value, ttl)
        return True

    async def put_many(self, items: list[tuple[str, str, Record, float]]) -> None:
        for kind, key, value, ttl in items:
            await self.put(kind, key, value, ttl)

    async def get(self, kind: str, key: str) -> Record | None:
        value = self._live((kind, key))
        return json.loads(value) if value is not None else None

    async def take(self, kind: str, key: str) -> Record | None:
        value = self._live((kind, key))
        if value is not None:
            del self._values[(kind, key)]
        return json.loads(value) if value is not None else None

    async def delete(self, kind: str, key: str) -> None:
        self._values.pop((kind, key), None)

    async def hit(self, kind: str, key: str, window: float) -> tuple[int, float]:
        now = self._clock()
        expires, count = self._counters.get((kind, key), (0.0, 0))
        if expires <= now:
            expires, count = now + window, 0
        count += 1
        self._counters[(kind, key)] = (expires, count)
        self._wrote()
        return count, expires - now

    async def count(self, kind: str, key: str) -> tuple[int, float]:
        now = self._clock()
        expires, count = self._counters.get((kind, key), (0.0, 0))
        if expires <= now:
            return 0, 0.0
        return count, expires - now

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._values.clear()
        self._counters.clear()
