"""The one duration format of tenant files: a whole number and a unit (30s, 10m, 8h, 7d)."""

from __future__ import annotations

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    """``"10m"`` -> ``600``. The schema guarantees the form; this raises ValueError otherwise."""
    if len(duration) < 2 or duration[-1] not in _UNITS or not duration[:-1].isdigit():
        raise ValueError(f"not a duration: {duration!r}")
    return int(duration[:-1]) * _UNITS[duration[-1]]
