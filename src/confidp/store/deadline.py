"""One deadline for all the store calls of a request, so that a store that stalls (Redis
stopped, a network partition) costs a request at most ``REQUEST_STORE_SECONDS`` in all, however
many calls it makes, before it answers the documented 503: each call alone could wait for its
socket timeout, and a request makes several.

The deadline lives in a context variable, set around a request's handler
(``confidp.web.tenant_routes``) and reset after it: Sanic serves the requests of one
connection one after another in one task, so it must not outlive the request.

Time a request spends waiting for something other than the store (a password check queued
behind others on the hashing pool during a login storm) is not store time: ``paused`` moves
the deadline on by it. Otherwise a right password that took seconds to check would end in a
503 at the next store call, which is the one that takes its login-throttle count back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# a healthy store answers in milliseconds; the rest of a request's 5 s stays for the work
REQUEST_STORE_SECONDS = 3.0

_deadline: ContextVar[float | None] = ContextVar("confidp_store_deadline", default=None)


@contextmanager
def store_deadline(seconds: float = REQUEST_STORE_SECONDS) -> Iterator[None]:
    """Store calls made inside end (as unavailable) at most ``seconds`` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


@contextmanager
def paused() -> Iterator[None]:
    """The time spent inside does not count against the current deadline (if any)."""
    started = time.monotonic()
    try:
        yield
    finally:
        deadline = _deadline.get()
        if deadline is not None:
            _deadline.set(deadline + time.monotonic() - started)


def seconds_left() -> float | None:
    """Seconds until the current deadline (0 or less: passed); None outside one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()
