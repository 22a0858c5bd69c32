"""A ``Store`` that times every call and counts the failed ones (``confidp_store_*`` metrics)
and, when tracing is on, wraps each in a ``store.<operation>`` span: the store the app uses
(``confidp.app``), around the memory or Redis one. A failure is any exception, the store's
``StoreUnavailable`` and a deadline's cancellation included; it is raised again unchanged."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from typing import Protocol, TypeVar

from confidp import tracing
from confidp.store.base import Record, Store, Write


class StoreObserver(Protocol):
    def observe_store(self, operation: str, seconds: float, failed: bool) -> None: ...


T = TypeVar("T")


class ObservedStore:
    __slots__ = ("_observer", "inner")

    def __init__(self, inner: Store, observer: StoreObserver) -> None:
        self.inner = inner
        self._observer = observer

    async def _observed(self, operation: str, call: Awaitable[T]) -> T:
        """``call``, timed, counted when it fails, and in a span when tracing is on."""
        began, failed = time.perf_counter(), True
        try:
            with tracing.span(f"store.{operation}"):
                result = await call
            failed = False
            return result
        finally:
            self._observer.observe_store(operation, time.perf_counter() - began, failed)

    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        await self._observed("put", self.inner.put(kind, key, value, ttl))

    async def claim(self, kind: str, key: str, value: Record, ttl: float,
                    writes: Sequence[Write] = ()) -> bool:
        return await self._observed("claim", self.inner.claim(kind, key, value, ttl, writes))

    async def consume(self, kind: str, key: str, writes: Sequence[Write] = ()) -> bool:
        return await self._observed("consume", self.inner.consume(kind, key, writes))

    async def put_many(self, items: Sequence[Write]) -> None:
        await self._observed("put_many", self.inner.put_many(items))

    async def get(self, kind: str, key: str) -> Record | None:
        return await self._observed("get", self.inner.get(kind, key))

    async def delete(self, kind: str, key: str) -> None:
        await self._observed("delete", self.inner.delete(kind, key))

    async def hit(self, kind: str, key: str, window: float) -> tuple[int, float]:
        return await self._observed("hit", self.inner.hit(kind, key, window))

    async def refund(self, kind: str, key: str) -> None:
        await self._observed("refund", self.inner.refund(kind, key))

    async def count(self, kind: str, key: str) -> tuple[int, float]:
        return await self._observed("count", self.inner.count(kind, key))

    async def add_member(self, kind: str, key: str, member: str, ttl: float) -> None:
        await self._observed("add_member", self.inner.add_member(kind, key, member, ttl))

    async def members(self, kind: str, key: str) -> list[str]:
        return await self._observed("members", self.inner.members(kind, key))

    async def remove_member(self, kind: str, key: str, member: str) -> None:
        await self._observed("remove_member", self.inner.remove_member(kind, key, member))

    async def ping(self) -> bool:
        return await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()
