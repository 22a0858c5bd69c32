"""The Redis store, for several workers and replicas (redis-py's asyncio client).

Keys are ``<prefix><kind>:<key>`` with native expiry; values are JSON. The flows reach the
store through a tenant's view (confidp.store.tenant), whose kinds are ``<tenant>:<kind>``, so
a key is ``confidp:<tenant>:<kind>:<id>``. A one-time read is GETDEL, atomic in Redis, so of
two requests racing for one code exactly one gets it. Counters and multi-record writes run in
MULTI/EXEC transactions, so nothing is half-written. Every Redis
failure surfaces as ``StoreUnavailable`` (a 503 to the client); the client reconnects by itself
when Redis is back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from confidp.store import redacted
from confidp.store.base import Record, StoreUnavailable

T = TypeVar("T")
DEFAULT_PREFIX = "confidp:"


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisStore:
    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=1.0, socket_timeout=2.0, decode_responses=False,
            health_check_interval=10)

    def _key(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            return await operation()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis at {redacted(self.url)}: {exc}") from None

    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        data = json.dumps(value, separators=(",", ":"))
        await self._call(lambda: self._redis.set(self._key(kind, key), data, px=_ms(ttl)))

    async def add(self, kind: str, key: str, value: Record, ttl: float) -> bool:
        data = json.dumps(value, separators=(",", ":"))
        created = await self._call(lambda: self._redis.set(self._key(kind, key), data,
                                                           px=_ms(ttl), nx=True))
        return bool(created)

    async def put_many(self, items: list[tuple[str, str, Record, float]]) -> None:
        async def run() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                for kind, key, value, ttl in items:
                    pipe.set(self._key(kind, key), json.dumps(value, separators=(",", ":")),
                             px=_ms(ttl))
                await pipe.execute()
        await self._call(run)

    @staticmethod
    def _decode(raw: Any) -> Record | None:
        if raw is None:
            return None
        value: Record = json.loads(raw)
        return value

    async def get(self, kind: str, key: str) -> Record | None:
        return self._decode(await self._call(lambda: self._redis.get(self._key(kind, key))))

    async def take(self, kind: str, key: str) -> Record | None:
        return self._decode(await self._call(lambda: self._redis.getdel(self._key(kind, key))))

    async def delete(self, kind: str, key: str) -> None:
        await self._call(lambda: self._redis.delete(self._key(kind, key)))

    async def hit(self, kind: str, key: str, window: float) -> tuple[int, float]:
        name = self._key(kind, key)

        async def run() -> list[Any]:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.pexpire(name, _ms(window), nx=True)
                pipe.pttl(name)
                result: list[Any] = await pipe.execute()
                return result
        count, _, ttl = await self._call(run)
        return int(count), max(int(ttl), 0) / 1000

    async def count(self, kind: str, key: str) -> tuple[int, float]:
        name = self._key(kind, key)

        async def run() -> list[Any]:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(name)
                pipe.pttl(name)
                result: list[Any] = await pipe.execute()
                return result
        raw, ttl = await self._call(run)
        if raw is None or int(ttl) <= 0:
            return 0, 0.0
        return int(raw), int(ttl) / 1000

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()
