"""A ``Store`` that times every call and counts the failed ones (``confidp_store_*`` metrics)
and, when tracing is on, wraps each in a ``store.<operation>`` span: the store the app uses
(``confidp.app``), around the memory or Redis one. A failure is any exception, the store's
``StoreUnavailable`` and a deadline's cancellation included; it is raised again unchanged."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from confidp import tracing
from confidp.store.base import Record, Store, Write


class StoreObserver(Protocol):
    def observe_store(self, operation: str, seconds: float, failed: bool) -> None: ...


class ObservedStore:
    __slots__ = ("_observer", "inner")

    def __init__(self, inner: Store, observer: StoreObserver) -> None:
        self.inner = inner
        self._observer = observer

    def _done(self, operation: str, began: float, failed: bool) -> None:
        self._observer.observe_store(operation, time.perf_counter() - began, failed)

    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        began, failed = time.perf_counter(), True
        try:
            with tracing.span("store.put"):
                await self.inner.put(kind, key, value, ttl)
            failed = False
        finally:
            self._done("put", began, failed)

    async def claim(self, kind: str, key: str, value: Record, ttl: float,
                    writes: Sequence[Write] = ()) -> bool:
        began, failed = time.perf_counter(), True
        try:
            with tracing.span("store.claim"):
                result = await self.inner.claim(kind, key, value, ttl, writes)
            failed = False
            return result
        finally:
            self._done("claim", began, failed)

    async def consume(self, kind: str, key: str, writes: Sequence[Write] = ()) -> bool:
        began, failed = time.perf_counter(), True
        try:
            with tracing.span("store.consume"):
                result = await self.inner.consume(kind, key, writes)
            failed = False
            return result
        finally:
            self._done("consume", began, failed)

    async def put_many(self, items: Sequence[Write]) -> None:
        began, failed = time.perf_counter(), True
        try:
            with tracing.span("store.put_many"):
                await self.inner.put_many(items)
            failed = False
        finally:
            self._done("put_many", began, failed)

    async def get(self, kind: str, key: str) -> Record | None:
        began, failed = time.perf_counter(), True
        try:
            with tracing.span("store.get"):
                result = await self.inner.get(kind, key)
            failed = False
            return result
        finally:
            self._done("get", began, failed)

    async def delete(self, kind: str, key: str) -> None:
        began, failed = time.perf_counter(), True
        try:
            with tracing.span("store.delete"):
                await self.inner.delete(kind, key)
            failed = False
        finally:
            self._done("delete", began, failed)

    async def hit(self, kind: str, key: str, window: float) -> tuple[int, float]:
        began, failed = time.perf_counter(), True
        try:
            with tracing.span("store.hit"):
                result = await self.inner.hit(kind, key, window)
            failed = False
            return result
        finally:
            self._done("hit", began, failed)

    async def refund(self, kind: str, key: str) -> None:
        began, failed = time.perf_counter(), True
        try:
            with tracing.span("store.refund"):
                await self.inner.refund(kind, key)
            failed = False
        finally:
            self._done("refund", began, failed)

    async def count(self, kind: str, key: str) -> tuple[int, float]:
        began, failed = time.perf_counter(), True
        try:
            with tracing.span("store.count"):
                result = await self.inner.count(kind, key)
            failed = False
            return result
        finally:
            self._done("count", began, failed)

    async def ping(self) -> bool:
        return await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()
