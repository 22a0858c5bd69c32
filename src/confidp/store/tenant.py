"""One tenant's view of the store: every key it reads or writes is in the tenant's namespace
(in Redis ``confidp:<tenant>:<kind>:<id>``), so an operator can find, count or remove one
tenant's state (``SCAN MATCH confidp:acme:*``) and no lookup made for one tenant can reach
another's records. Records still name their tenant, and the flows check it."""

from __future__ import annotations

from confidp.store.base import Record, Store


class TenantStore:
    __slots__ = ("_prefix", "_store")

    def __init__(self, store: Store, tenant_id: str) -> None:
        self._store = store
        self._prefix = f"{tenant_id}:"

    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        await self._store.put(self._prefix + kind, key, value, ttl)

    async def add(self, kind: str, key: str, value: Record, ttl: float) -> bool:
        return await self._store.add(self._prefix + kind, key, value, ttl)

    async def put_many(self, items: list[tuple[str, str, Record, float]]) -> None:
        await self._store.put_many([(self._prefix + kind, key, value, ttl)
                                    for kind, key, value, ttl in items])

    async def get(self, kind: str, key: str) -> Record | None:
        return await self._store.get(self._prefix + kind, key)

    async def take(self, kind: str, key: str) -> Record | None:
        return await self._store.take(self._prefix + kind, key)

    async def delete(self, kind: str, key: str) -> None:
        await self._store.delete(self._prefix + kind, key)

    async def hit(self, kind: str, key: str, window: float) -> tuple[int, float]:
        return await self._store.hit(self._prefix + kind, key, window)

    async def count(self, kind: str, key: str) -> tuple[int, float]:
        return await self._store.count(self._prefix + kind, key)
