"""The Redis store, for several workers and replicas (redis-py's asyncio client).

Keys are ``<prefix><kind>:<key>`` with native expiry; values are JSON. The flows reach the
store through a tenant's view (confidp.store.tenant), whose kinds are ``<tenant>:<kind>``, so
a key is ``confidp:<tenant>:<kind>:<id>``. ``claim`` and ``consume`` are one Lua script, which
Redis runs atomically: the key that decides (created with SET NX, or deleted with DEL) and
everything the winner writes, or nothing; so of two requests racing for one code exactly one
gets it, and a connection lost halfway leaves no code used up with no tokens issued. Counters
and multi-record writes run in MULTI/EXEC transactions; taking back a count is a script. Every
Redis failure surfaces as ``StoreUnavailable`` (a 503 to the client); the client reconnects by
itself when Redis is back.

A call is never retried by the client library (retries are turned off explicitly: redis-py's
defaults differ between versions and constructors): a script whose reply was lost may have
run, and running it again would take the call for a second use; and each retry would add its
socket timeout to the request. A call waits at most 2 s, and all the calls of one request
together at most what is left of the request's store deadline (confidp.store.deadline).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from confidp.store import redacted
from confidp.store.base import Record, StoreUnavailable, Write
from confidp.store.deadline import seconds_left

T = TypeVar("T")
DEFAULT_PREFIX = "confidp:"


# KEYS[1] decides: ARGV[1] "claim" creates it (value ARGV[2], ARGV[3] ms) only if absent,
# "consume" deletes it only if present. Only then is every further KEYS[i] set to ARGV[2i]
# for ARGV[2i+1] ms. Returns 1 when it decided for this call, else 0 and nothing changed.
_DECIDE_AND_WRITE = """
if ARGV[1] == "claim" then
  if not redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3], "NX") then return 0 end
elseif redis.call("DEL", KEYS[1]) == 0 then
  return 0
end
for i = 2, #KEYS do
  redis.call("SET", KEYS[i], ARGV[2 * i], "PX", ARGV[2 * i + 1])
end
return 1
"""


# KEYS[1] is a counter: one down, never below zero, keeping its expiry (DECR does); a counter
# that has expired is not created again.
_REFUND = """
local count = tonumber(redis.call("GET", KEYS[1]))
if count and count > 0 then return redis.call("DECR", KEYS[1]) end
return 0
"""


# KEYS[1] is a sorted set whose scores are the members' expiry (Redis server time, ms): drop
# the expired ones, add (or renew) ARGV[1] for ARGV[2] ms, and let the key live as long as
# its latest member.
_ADD_MEMBER = """
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
redis.call("ZADD", KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call("ZRANGE", KEYS[1], -1, -1, "WITHSCORES")
redis.call("PEXPIREAT", KEYS[1], last[2])
return 1
"""

# KEYS[1] as above: the members that have not expired
_MEMBERS = """
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
return redis.call("ZRANGE", KEYS[1], "(" .. now, "+inf", "BYSCORE")
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _encode(value: Record) -> str:
    return json.dumps(value, separators=(",", ":"))


class RedisStore:
    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=1.0, socket_timeout=2.0, decode_responses=False,
            health_check_interval=10, retry=Retry(NoBackoff(), 0))
        self._decide_and_write = self._redis.register_script(_DECIDE_AND_WRITE)
        self._refund = self._redis.register_script(_REFUND)
        self._add_member = self._redis.register_script(_ADD_MEMBER)
        self._members = self._redis.register_script(_MEMBERS)

    def _key(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        left = seconds_left()
        try:
            if left is None:
                return await operation()
            if left <= 0:
                raise TimeoutError("the request's time for the store is used up")
            async with asyncio.timeout(left):
                return await operation()
        except TimeoutError:  # the deadline (an OSError too, so first)
            raise StoreUnavailable(f"Redis at {redacted(self.url)}: no answer within the "
                                   "request's store deadline") from None
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis at {redacted(self.url)}: {exc}") from None

    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        data = _encode(value)
        await self._call(lambda: self._redis.set(self._key(kind, key), data, px=_ms(ttl)))

    async def _decide(self, mode: str, kind: str, key: str, value: str, ms: int | str,
                      writes: Sequence[Write]) -> bool:
        keys = [self._key(kind, key)]
        args: list[str | int] = [mode, value, ms]
        for write_kind, write_key, write_value, ttl in writes:
            keys.append(self._key(write_kind, write_key))
            args += [_encode(write_value), _ms(ttl)]
        return bool(await self._call(lambda: self._decide_and_write(keys, args)))

    async def claim(self, kind: str, key: str, value: Record, ttl: float,
                    writes: Sequence[Write] = ()) -> bool:
        return await self._decide("claim", kind, key, _encode(value), _ms(ttl), writes)

    async def consume(self, kind: str, key: str, writes: Sequence[Write] = ()) -> bool:
        return await self._decide("consume", kind, key, "", "", writes)

    async def put_many(self, items: Sequence[Write]) -> None:
        encoded = [(self._key(kind, key), _encode(value), _ms(ttl))
                   for kind, key, value, ttl in items]

        async def run() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                for name, data, ms in encoded:
                    pipe.set(name, data, px=ms)
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

    async def refund(self, kind: str, key: str) -> None:
        name = self._key(kind, key)
        await self._call(lambda: self._refund([name]))

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

    async def add_member(self, kind: str, key: str, member: str, ttl: float) -> None:
        name = self._key(kind, key)
        await self._call(lambda: self._add_member([name], [member, _ms(ttl)]))

    async def members(self, kind: str, key: str) -> list[str]:
        name = self._key(kind, key)
        found: list[Any] = await self._call(lambda: self._members([name]))
        return [item.decode() if isinstance(item, bytes) else str(item) for item in found]

    async def remove_member(self, kind: str, key: str, member: str) -> None:
        name = self._key(kind, key)
        await self._call(lambda: self._redis.zrem(name, member))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()
