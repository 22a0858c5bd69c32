"""State that outlives a request: sessions, codes, refresh-token families, consents,
revocations, throttle counters and which sign-in requests were used (confidp.store.kinds).
One narrow interface (``Store``); ``MemoryStore`` is the reference implementation; the URL
forms are in confidp.store.url."""

from confidp.store.base import Store, StoreUnavailable
from confidp.store.memory import MemoryStore
from confidp.store.url import MEMORY, parse, problem, redacted

__all__ = ["MemoryStore", "Store", "StoreUnavailable", "open_store", "redacted",
           "store_url_problem"]


def store_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be used as the store (one line, passwords hidden), or None."""
    return problem(url)


def open_store(url: str) -> Store:
    """``memory``, or a Redis store: ``redis://``, ``rediss://``, ``unix://``,
    ``redis+cluster://``, ``redis+sentinel://`` (confidp.store.url)."""
    if url == MEMORY:
        return MemoryStore()
    address = parse(url)  # StoreURLError (a ValueError) when it cannot be used
    from confidp.store.redis import RedisStore

    return RedisStore(url, address=address)
