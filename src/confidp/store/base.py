"""The Store interface. Values are JSON-compatible dicts; every key has a time to live.

Keys are ``(kind, id)``: kinds are fixed names (``session``, ``code``, ...), prefixed with the
tenant id by the tenant view every flow uses (confidp.store.tenant); ids are digests of random
values, or names within the tenant (a consent's subject and client, a throttled username or
IP). ``take`` is an atomic read-and-delete, the only way a one-time value (an authorization
code) may be read.
"""

from __future__ import annotations

from typing import Any, Protocol

Record = dict[str, Any]


class StoreUnavailable(Exception):
    """The store cannot be reached; the request needs state and must fail cleanly (503)."""


class Store(Protocol):
    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        """Create or replace, expiring after ``ttl`` seconds."""

    async def add(self, kind: str, key: str, value: Record, ttl: float) -> bool:
        """Create only if absent, atomically: of two concurrent calls, one returns True."""

    async def put_many(self, items: list[tuple[str, str, Record, float]]) -> None:
        """Several puts (kind, key, value, ttl) that happen all together or not at all."""

    async def get(self, kind: str, key: str) -> Record | None:
        """The value, or None when absent or expired."""

    async def take(self, kind: str, key: str) -> Record | None:
        """Atomically read and delete: of two concurrent calls, one gets the value."""

    async def delete(self, kind: str, key: str) -> None: ...

    async def hit(self, kind: str, key: str, window: float) -> tuple[int, float]:
        """Count one event in a window that starts at the first event; returns the count and
        the seconds until the window ends."""

    async def count(self, kind: str, key: str) -> tuple[int, float]:
        """The current count and seconds left, without counting (0, 0.0 when none)."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
