"""The Store interface. Values are JSON-compatible dicts; every key has a time to live.

Keys are ``(kind, id)``: kinds are fixed names (``session``, ``code``, ...), prefixed with the
tenant id by the tenant view every flow uses (confidp.store.tenant); ids are digests of random
values, or names within the tenant (a consent's subject and client, a throttled username or
IP). A one-time value (an authorization code, a refresh token, a sign-in request) is used
with ``consume`` or ``claim``: one atomic step that decides which of concurrent requests wins
and writes everything the winner issues, so that a store lost halfway leaves either nothing
done or everything done, never a value used up with nothing issued for it.

A kind may carry a namespace, ``<namespace>:<kind>``: the tenant view's kinds are
``<tenant>:<kind>``. Every key of one atomic step (``claim``, ``consume``, ``put_many``) is in
one namespace, which every store checks (``one_namespace``): a store spread over several
servers keeps a namespace on one of them (a Redis Cluster puts it in one hash slot), and only
there can it change several keys in one atomic step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

Record = dict[str, Any]
Write = tuple[str, str, Record, float]  # kind, key, value, seconds to live


def namespace_of(kind: str) -> str:
    """The namespace of a kind: ``acme`` of ``acme:session``, "" of a bare ``session``."""
    namespace, separator, _ = kind.partition(":")
    return namespace if separator else ""


def one_namespace(kinds: Iterable[str]) -> str:
    """The one namespace of the kinds one atomic step writes; ``ValueError`` when they are in
    several (a flow that did so could never run on a Redis Cluster)."""
    found = {namespace_of(kind) for kind in kinds}
    if len(found) > 1:
        raise ValueError("one atomic store step spans several namespaces: "
                         + ", ".join(sorted(repr(n) for n in found)))
    return found.pop() if found else ""


class StoreUnavailable(Exception):
    """The store cannot be reached; the request needs state and must fail cleanly (503)."""


class Store(Protocol):
    async def put(self, kind: str, key: str, value: Record, ttl: float) -> None:
        """Create or replace, expiring after ``ttl`` seconds."""

    async def claim(self, kind: str, key: str, value: Record, ttl: float,
                    writes: Sequence[Write] = ()) -> bool:
        """Create (kind, key) only if absent and, only then, ``writes``: all in one atomic
        step. Of concurrent calls exactly one returns True, and only its writes happen."""

    async def consume(self, kind: str, key: str, writes: Sequence[Write] = ()) -> bool:
        """Delete (kind, key) only if present and, only then, ``writes``: all in one atomic
        step. Of concurrent calls exactly one returns True, and only its writes happen."""

    async def put_many(self, items: Sequence[Write]) -> None:
        """Several puts that happen all together or not at all."""

    async def get(self, kind: str, key: str) -> Record | None:
        """The value, or None when absent or expired."""

    async def delete(self, kind: str, key: str) -> None: ...

    async def hit(self, kind: str, key: str, window: float) -> tuple[int, float]:
        """Count one event in a window that starts at the first event, atomically: returns the
        count this event made (of concurrent calls, each gets a different count) and the
        seconds until the window ends."""

    async def refund(self, kind: str, key: str) -> None:
        """Take back one event ``hit`` counted, atomically: the count goes down by one, never
        below zero, and the window keeps its end; nothing when there is no count (the window
        ended)."""

    async def count(self, kind: str, key: str) -> tuple[int, float]:
        """The current count and seconds left, without counting (0, 0.0 when none)."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
