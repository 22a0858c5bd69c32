"""State that outlives a request: pending authorizations, sessions, codes, consents, throttle
counters. One narrow interface (``Store``); ``MemoryStore`` is the reference implementation."""

from confidp.store.base import Store
from confidp.store.memory import MemoryStore

__all__ = ["MemoryStore", "Store"]
