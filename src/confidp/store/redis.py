"""The Redis store, for several workers and replicas (redis-py's asyncio client), on a single
Redis, a Redis Cluster or a master watched by Sentinel (confidp.store.redis_client).

Keys are ``<prefix>{<namespace>}:<kind>:<id>`` with native expiry; values are JSON. The flows
reach the store through a tenant's view (confidp.store.tenant), whose kinds are
``<tenant>:<kind>``, so a key is ``confidp:{acme}:session:<id>``. The braces are a Redis
Cluster hash tag: every key of a tenant is in one hash slot, so every multi-key step of a
tenant (each is within one tenant: confidp.store.base) runs on one node, atomically. The
layout is the same on a single Redis, so that data moves between the deployments as it is.
The cost: a tenant's state and load are on one shard; tenants, not keys, are spread.

Every step that changes more than one key, or reads and changes one, is one Lua script, which
Redis runs atomically: ``claim`` and ``consume`` (the key that decides, created with SET NX or
deleted with DEL, and everything the winner writes, or nothing; so of two requests racing for
one code exactly one gets it, and a connection lost halfway leaves no code used up with no
tokens issued), ``put_many``, the counters' ``hit``, ``refund`` and ``count``. One command
each, so a write and its confirmation by replicas are one round trip (``wait_replicas``).
Every Redis failure surfaces as ``StoreUnavailable`` (a 503 to the client); the client
reconnects by itself when Redis is back.

A call is never retried by the client library (retries are turned off explicitly: redis-py's
defaults differ between versions and constructors): a script whose reply was lost may have
run, and running it again would take the call for a second use; and each retry would add its
socket timeout to the request. A call waits at most 2 s, and all the calls of one request
together at most what is left of the request's store deadline (confidp.store.deadline).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from confidp.store.base import Record, StoreUnavailable, Write, namespace_of, one_namespace
from confidp.store.deadline import seconds_left
from confidp.store.redis_client import ERRORS, connect
from confidp.store.url import RedisAddress, parse, redacted

T = TypeVar("T")
_log = logging.getLogger("confidp.store")
DEFAULT_PREFIX = "confidp:"
# the hash tag of kinds without a namespace; no tenant id starts with "_" (the schema's
# pattern), so it never meets a tenant's
NO_NAMESPACE_TAG = "_"


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

# Every KEYS[i] set to ARGV[2i-1] for ARGV[2i] ms.
_SET_ALL = """
for i = 1, #KEYS do
  redis.call("SET", KEYS[i], ARGV[2 * i - 1], "PX", ARGV[2 * i])
end
return 1
"""

# KEYS[1] is a counter: one up; a new one ends ARGV[1] ms from now. The count and ms left.
_HIT = """
local count = redis.call("INCR", KEYS[1])
redis.call("PEXPIRE", KEYS[1], ARGV[1], "NX")
return {count, redis.call("PTTL", KEYS[1])}
"""

# KEYS[1] is a counter: one down, never below zero, keeping its expiry (DECR does); a counter
# that has expired is not created again.
_REFUND = """
local count = tonumber(redis.call("GET", KEYS[1]))
if count and count > 0 then return redis.call("DECR", KEYS[1]) end
return 0
"""

# KEYS[1] is a counter: its count (or nil) and ms left, read together.
_COUNT = """
return {redis.call("GET", KEYS[1]), redis.call("PTTL", KEYS[1])}
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _encode(value: Record) -> str:
    return json.dumps(value, separators=(",", ":"))


class RedisStore:
    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX,
                 address: RedisAddress | None = None) -> None:
        self.url = url
        self.prefix = prefix
        self.address = address or parse(url)
        self._client = connect(self.address)

    def _key(self, kind: str, key: str) -> str:
        namespace = namespace_of(kind)
        name = kind[len(namespace) + 1:] if namespace else kind
        return f"{self.prefix}{{{namespace or NO_NAMESPACE_TAG}}}:{name}:{key}"

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
        except ERRORS as exc:
            raise StoreUnavailable(f"Redis at {redacted(self.url)}: {exc}") from None
        except Exception as exc:
            # Nothing but the client library runs in here (values are encoded before, and
            # decoded after): whatever else it raises is a store that failed too. redis-py's
            # cluster client, when a failover makes it drop a node, closes connections other
            # tasks are using; under uvloop their next write raises RuntimeError or
            # AttributeError. A 503 then, as for any store failure, and the trace in the log.
            _log.warning("the Redis client failed unexpectedly", exc_info=True)
            raise StoreUnavailable(f"Redis at {redacted(self.url)}: the client failed: "
                                   f"{exc!r}") from None

    async def _script(self, script: str, keys: Sequence[str], args: Sequence[str | int],
                      write: bool = True) -> Any:
        """EVAL, not EVALSHA: a master just promoted or restarted has no scripts loaded, so
        EVALSHA would answer NOSCRIPT and need a second round trip (which redis-py does not
        make in a cluster pipeline); Redis keeps the compiled script by its digest anyway."""
        command = ("EVAL", script, len(keys), *keys, *args)
        if write:
            return await self._call(lambda: self._client.write(keys[0], *command))
        return await self._call(lambda: self._client.read(*command))

    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        name, data = self._key(kind, key), _encode(value)
        await self._call(lambda: self._client.write(name, "SET", name, data, "PX", _ms(ttl)))

    async def _decide(self, mode: str, kind: str, key: str, value: str, ms: int | str,
                      writes: Sequence[Write]) -> bool:
        one_namespace([kind, *(write[0] for write in writes)])
        keys = [self._key(kind, key)]
        args: list[str | int] = [mode, value, ms]
        for write_kind, write_key, write_value, ttl in writes:
            keys.append(self._key(write_kind, write_key))
            args += [_encode(write_value), _ms(ttl)]
        return bool(await self._script(_DECIDE_AND_WRITE, keys, args))

    async def claim(self, kind: str, key: str, value: Record, ttl: float,
                    writes: Sequence[Write] = ()) -> bool:
        return await self._decide("claim", kind, key, _encode(value), _ms(ttl), writes)

    async def consume(self, kind: str, key: str, writes: Sequence[Write] = ()) -> bool:
        return await self._decide("consume", kind, key, "", "", writes)

    async def put_many(self, items: Sequence[Write]) -> None:
        one_namespace(item[0] for item in items)
        keys: list[str] = []
        args: list[str | int] = []
        for kind, key, value, ttl in items:
            keys.append(self._key(kind, key))
            args += [_encode(value), _ms(ttl)]
        if keys:
            await self._script(_SET_ALL, keys, args)

    @staticmethod
    def _decode(raw: Any) -> Record | None:
        if raw is None:
            return None
        value: Record = json.loads(raw)
        return value

    async def get(self, kind: str, key: str) -> Record | None:
        name = self._key(kind, key)
        return self._decode(await self._call(lambda: self._client.read("GET", name)))

    async def delete(self, kind: str, key: str) -> None:
        name = self._key(kind, key)
        await self._call(lambda: self._client.write(name, "DEL", name))

    async def hit(self, kind: str, key: str, window: float) -> tuple[int, float]:
        count, ttl = await self._script(_HIT, [self._key(kind, key)], [_ms(window)])
        return int(count), max(int(ttl), 0) / 1000

    async def refund(self, kind: str, key: str) -> None:
        await self._script(_REFUND, [self._key(kind, key)], [])

    async def count(self, kind: str, key: str) -> tuple[int, float]:
        raw, ttl = await self._script(_COUNT, [self._key(kind, key)], [], write=False)
        if raw is None or int(ttl) <= 0:
            return 0, 0.0
        return int(raw), int(ttl) / 1000

    async def ping(self) -> bool:
        return await self._client.ping()

    async def replication_problem(self) -> str | None:
        """Why writes would fail now (a replica named as the master, fewer replicas than
        ``wait_replicas``), or None; ``StoreUnavailable`` when Redis cannot be asked."""
        return await self._call(self._client.replication_problem)

    async def close(self) -> None:
        await self._client.close()
