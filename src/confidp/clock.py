"""Wall-clock time, injected (Dex's ``Now func() time.Time``): everything that dates a record,
checks a lifetime or stamps a token takes a ``Clock`` instead of calling ``time.time()``, so
lifetime tests move a clock instead of sleeping. Durations that only measure or bound work
(store deadlines, reload timing) use ``time.monotonic()``/``time.perf_counter()`` directly."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]  # seconds since 1970 (UTC), as time.time()


def system_clock() -> float:
    """The system's wall clock: what a server runs on."""
    return time.time()
