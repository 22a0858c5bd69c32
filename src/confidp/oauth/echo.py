"""Request values quoted back in error descriptions, safely (RFC 6749 §4.1.2.1, §5.2).

``error_description`` "MUST NOT include characters outside the set %x20-21 / %x23-5B /
%x5D-7E": printable ASCII without ``"`` and ``\\``. A value taken from the request is shown
in single quotes, every character outside that set replaced by ``?`` (so no control character,
escape sequence or markup reaches a log, a terminal or a page), and a longer value is cut to at
most ``MAX_SHOWN`` characters, after a separator (space : / - _ . , ;) when there is one in the
second half, and marked with ``...``. Every registered grant type and response type fits
whole. The cut is between characters of the decoded value and the output is ASCII, so nothing
is ever split in the middle of a character or an escape.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_SHOWN = 64
MAX_VALUES = 5
ELLIPSIS = "..."
REPLACEMENT = "?"
SEPARATORS = " :/-_.,;"


def _allowed(character: str) -> bool:
    code = ord(character)
    return 0x20 <= code <= 0x7E and character not in '"\\'


def quoted(value: str, limit: int = MAX_SHOWN) -> str:
    """``value`` in single quotes, at most ``limit`` characters of it, safe to show."""
    return f"'{shown(value, limit)}'"


def shown(value: str, limit: int = MAX_SHOWN) -> str:
    """``value`` made safe to show, at most ``limit`` characters of it, unquoted."""
    cut = value
    if len(value) > limit:
        cut = value[:limit]
        boundary = max(cut.rfind(separator, limit // 2) for separator in SEPARATORS)
        if boundary >= 0:
            cut = cut[:boundary + 1]
    safe = "".join(c if _allowed(c) else REPLACEMENT for c in cut)
    return safe + (ELLIPSIS if len(cut) < len(value) else "")


def quoted_list(values: Sequence[str], limit: int = MAX_VALUES) -> str:
    """The first ``limit`` values quoted and comma-separated, then how many more there are."""
    shown = ", ".join(quoted(value) for value in values[:limit])
    more = len(values) - limit
    return f"{shown} and {more} more" if more > 0 else shown
