"""One tenant's view of the store: every key it reads or writes is in the tenant's namespace
(kinds ``<tenant>:<kind>``; in Redis ``confidp:{<tenant>}:<kind>:<id>``), so an operator can
find, count or remove one tenant's state (``SCAN MATCH confidp:{acme}:*``), no lookup made for
one tenant can reach another's records, and every atomic step of a tenant stays in one
namespace (one Redis Cluster hash slot: confidp.store.base). Records still name their tenant,
and the flows check it."""

from __future__ import annotations

from collections.abc import Sequence

from confidp.store.base import Record, Store, Write


class TenantStore:
    __slots__ = ("_prefix", "_store")

    def __init__(self, store: Store, tenant_id: str) -> None:
        self._store = store
        self._prefix = f"{tenant_id}:"

    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        await self._store.put(self._prefix + kind, key, value, ttl)

    def _writes(self, writes: Sequence[Write]) -> list[Write]:
        return [(self._prefix + kind, key, value, ttl) for kind, key, value, ttl in writes]

    async def claim(self, kind: str, key: str, value: Record, ttl: float,
                    writes: Sequence[Write] = ()) -> bool:
        return await self._store.claim(self._prefix + kind, key, value, ttl,
                                       self._writes(writes))

    async def consume(self, kind: str, key: str, writes: Sequence[Write] = ()) -> bool:
        return await self._store.consume(self._prefix + kind, key, self._writes(writes))

    async def put_many(self, items: Sequence[Write]) -> None:
        await self._store.put_many(self._writes(items))

    async def get(self, kind: str, key: str) -> Record | None:
        return await self._store.get(self._prefix + kind, key)

    async def delete(self, kind: str, key: str) -> None:
        await self._store.delete(self._prefix + kind, key)

    async def hit(self, kind: str, key: str, window: float) -> tuple[int, float]:
        return await self._store.hit(self._prefix + kind, key, window)

    async def refund(self, kind: str, key: str) -> None:
        await self._store.refund(self._prefix + kind, key)

    async def count(self, kind: str, key: str) -> tuple[int, float]:
        return await self._store.count(self._prefix + kind, key)
