"""State that outlives a request: sessions, codes, refresh-token families, consents,
revocations, throttle counters and which sign-in requests were used (confidp.store.kinds).
One narrow interface (``Store``); ``MemoryStore`` is the reference implementation."""

from confidp.store.base import Store, StoreUnavailable
from confidp.store.memory import MemoryStore

__all__ = ["MemoryStore", "Store", "StoreUnavailable", "open_store", "redacted",
           "store_url_problem"]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def redacted(url: str) -> str:
    """The store URL without its password, for messages."""
    scheme, separator, rest = url.partition("://")
    _, at, host = rest.rpartition("@")
    return f"{scheme}{separator}***@{host}" if at else url


def store_url_problem(url: str) -> str | None:
    if url == "memory" or url.startswith(_REDIS_SCHEMES):
        return None
    return f"unknown store {redacted(url)!r}: use memory or redis://host:port/db"


def open_store(url: str) -> Store:
    """``memory`` or ``redis://host:port/db`` (also ``rediss://`` and ``unix://``)."""
    problem = store_url_problem(url)
    if problem:
        raise ValueError(problem)
    if url == "memory":
        return MemoryStore()
    from confidp.store.redis import RedisStore

    return RedisStore(url)
