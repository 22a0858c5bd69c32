"""Messages for a person that code (not a template) decides on, translated only when the page
is rendered in the person's language.

``lazy("The username or password is incorrect.")`` and
``lazy_plural("Try again in %(num)d minute.", "Try again in %(num)d minutes.", 3)`` are found
by the catalogue extraction (``python -m confidp.i18n.tool``) like ``_()`` in a template; a
page renders them through its translator, and ``str()`` gives the English text (for logs,
JSON, and tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_NONE: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Message:
    """A catalogue message with its variables (``%(name)s`` placeholders); ``plural`` and
    ``n`` for a message whose form depends on a number (``num`` is then also a variable)."""

    msgid: str
    plural: str | None = None
    n: int = 1
    variables: Mapping[str, Any] = field(default_factory=lambda: _NONE)

    def __str__(self) -> str:
        text = self.msgid if self.plural is None or self.n == 1 else self.plural
        return text % self.values()

    def values(self) -> dict[str, Any]:
        values = dict(self.variables)
        if self.plural is not None:
            values.setdefault("num", self.n)
        return values


def lazy(msgid: str, **variables: Any) -> Message:
    """A message to translate when it is shown (an extraction keyword)."""
    return Message(msgid, variables=MappingProxyType(variables))


def lazy_plural(singular: str, plural: str, n: int, **variables: Any) -> Message:
    """A message with plural forms, chosen by ``n`` under the page language's plural rule
    (an extraction keyword)."""
    return Message(singular, plural, n, MappingProxyType(variables))
