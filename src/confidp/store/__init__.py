"""State that outlives a request: pending authorizations, sessions, codes, consents, throttle
counters. One narrow interface (``Store``); ``MemoryStore`` is the reference implementation."""

from confidp.store.base import Store, StoreUnavailable
from confidp.store.memory import MemoryStore

__all__ = ["MemoryStore", "Store", "StoreUnavailable", "open_store"]


def open_store(url: str) -> Store:
    """``memory`` or ``redis://host:port/db`` (also ``rediss://`` and ``unix://``)."""
    if url == "memory":
        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from confidp.store.redis import RedisStore

        return RedisStore(url)
    raise ValueError(f"unknown store {url!r}: use memory or redis://host:port/db")
