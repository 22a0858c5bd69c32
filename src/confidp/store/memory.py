"""The in-memory store: the reference implementation, for one process."""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from confidp.store.base import Record, Write, one_namespace

_COMPACT_SLACK = 1024  # stale expiry entries allowed beyond twice the live ones


class MemoryStore:
    """Dict-backed, with expiry checked on read; expired entries are removed as time passes,
    taken from a heap of expiry times a few at each write, so memory stays bounded and no
    write ever walks the whole store. All methods run on the event loop without awaiting in
    between, so each is atomic. Values are kept as JSON text, as Redis keeps them: a caller
    can never change a stored value by mutating what it put or got, and what cannot be stored
    in Redis cannot be stored here."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[tuple[str, str], tuple[float, str]] = {}
        self._counters: dict[tuple[str, str], tuple[float, int]] = {}
        # (expires, is_counter, kind, key); an entry rewritten or deleted since leaves a stale
        # item, skipped when it comes up and dropped when the heap is rebuilt
        self._expiries: list[tuple[float, bool, str, str]] = []
        # (kind, key) -> member -> expires; a set is dropped when its last member expired,
        # found through its own heap of (the set's latest expiry, kind, key)
        self._sets: dict[tuple[str, str], dict[str, float]] = {}
        self._set_expiries: list[tuple[float, str, str]] = []
        # each set's members by expiry (entries of renewed or removed members stay until
        # popped): adding is O(log n) where scanning the set was O(n), and a person's set of
        # refresh-token families grows with every sign-in
        self._member_expiries: dict[tuple[str, str], list[tuple[float, str]]] = {}

    def _live(self, entry_key: tuple[str, str]) -> str | None:
        entry = self._values.get(entry_key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._values[entry_key]
            return None
        return entry[1]

    def _wrote(self, expires: float, is_counter: bool, kind: str, key: str) -> None:
        """Remember when this entry expires, then remove what has expired by now."""
        heapq.heappush(self._expiries, (expires, is_counter, kind, key))
        self._sweep()

    def _sweep(self) -> None:
        heap = self._expiries
        now = self._clock()
        while heap and heap[0][0] <= now:
            _, counter, kind, key = heapq.heappop(heap)
            entries: dict[tuple[str, str], Any] = self._counters if counter else self._values
            entry = entries.get((kind, key))
            if entry is not None and entry[0] <= now:
                del entries[(kind, key)]
        if len(heap) > 2 * (len(self._values) + len(self._counters)) + _COMPACT_SLACK:
            self._expiries = [(entry[0], False, *k) for k, entry in self._values.items()] + \
                [(entry[0], True, *k) for k, entry in self._counters.items()]
            heapq.heapify(self._expiries)

    def _put_all(self, items: Sequence[Write], consumed: tuple[str, str] | None = None) -> None:
        """Every value encoded before anything changes, so that one that cannot be stored
        stores nothing (and ``consumed``, deleted first, stays)."""
        now = self._clock()
        encoded = [(kind, key, now + ttl, json.dumps(value)) for kind, key, value, ttl in items]
        if consumed is not None:
            del self._values[consumed]
        for kind, key, expires, text in encoded:
            self._values[(kind, key)] = (expires, text)
            self._wrote(expires, False, kind, key)

    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        self._put_all([(kind, key, value, ttl)])

    async def claim(self, kind: str, key: str, value: Record, ttl: float,
                    writes: Sequence[Write] = ()) -> bool:
        one_namespace([kind, *(write[0] for write in writes)])
        if self._live((kind, key)) is not None:
            return False
        self._put_all([(kind, key, value, ttl), *writes])
        return True

    async def consume(self, kind: str, key: str, writes: Sequence[Write] = ()) -> bool:
        one_namespace([kind, *(write[0] for write in writes)])
        if self._live((kind, key)) is None:
            return False
        self._put_all(writes, consumed=(kind, key))
        return True

    async def put_many(self, items: Sequence[Write]) -> None:
        one_namespace(item[0] for item in items)
        self._put_all(items)

    async def get(self, kind: str, key: str) -> Record | None:
        value = self._live((kind, key))
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
        if count == 1:  # a new window: its end is not in the heap yet
            self._wrote(expires, True, kind, key)
        else:
            self._sweep()
        return count, expires - now

    async def refund(self, kind: str, key: str) -> None:
        expires, count = self._counters.get((kind, key), (0.0, 0))
        if expires > self._clock() and count > 0:
            self._counters[(kind, key)] = (expires, count - 1)

    async def count(self, kind: str, key: str) -> tuple[int, float]:
        now = self._clock()
        expires, count = self._counters.get((kind, key), (0.0, 0))
        if expires <= now:
            return 0, 0.0
        return count, expires - now

    def _sweep_sets(self, now: float) -> None:
        heap = self._set_expiries
        while heap and heap[0][0] <= now:
            _, kind, key = heapq.heappop(heap)
            members = self._sets.get((kind, key))
            if members is not None and all(expires <= now for expires in members.values()):
                del self._sets[(kind, key)]
                self._member_expiries.pop((kind, key), None)
        if len(heap) > 2 * len(self._sets) + _COMPACT_SLACK:
            self._set_expiries = [(max(m.values()), *k) for k, m in self._sets.items() if m]
            heapq.heapify(self._set_expiries)

    async def add_member(self, kind: str, key: str, member: str, ttl: float) -> None:
        now = self._clock()
        members = self._sets.setdefault((kind, key), {})
        expiries = self._member_expiries.setdefault((kind, key), [])
        while expiries and expiries[0][0] <= now:
            expires, name = heapq.heappop(expiries)
            if members.get(name) == expires:  # not renewed since
                del members[name]
        members[member] = now + ttl
        heapq.heappush(expiries, (now + ttl, member))
        if len(expiries) > 2 * len(members) + _COMPACT_SLACK:
            expiries[:] = [(expires, name) for name, expires in members.items()]
            heapq.heapify(expiries)
        heapq.heappush(self._set_expiries, (now + ttl, kind, key))
        self._sweep_sets(now)

    async def members(self, kind: str, key: str) -> list[str]:
        now = self._clock()
        members = self._sets.get((kind, key), {})
        return [name for name, expires in members.items() if expires > now]

    async def remove_member(self, kind: str, key: str, member: str) -> None:
        members = self._sets.get((kind, key))
        if members is not None:
            members.pop(member, None)
            if not members:
                del self._sets[(kind, key)]
                self._member_expiries.pop((kind, key), None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._values.clear()
        self._counters.clear()
        self._expiries.clear()
        self._sets.clear()
        self._set_expiries.clear()
        self._member_expiries.clear()
