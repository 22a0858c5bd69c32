"""A value that must never reach a log line, a traceback or a status page."""

from __future__ import annotations

from typing import Final


class Secret:
    """Holds a sensitive string; ``repr`` and ``str`` print stars, ``reveal()`` gives the value."""

    __slots__ = ("_value",)
    _MASK: Final = "**********"

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{self._MASK}')"

    def __str__(self) -> str:
        return self._MASK

    def __eq__(self, other: object) -> bool:
        # Equality is for change detection between two tenant versions, not for authentication:
        # authentication compares in constant time (ClientSecret.verify, argon2).
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
