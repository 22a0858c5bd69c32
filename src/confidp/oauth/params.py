"""Request parameters as OAuth reads them (RFC 6749 §3.1): a parameter sent without a value is
treated as omitted, none may be given twice, unknown ones are ignored."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from urllib.parse import parse_qsl

from confidp.oauth.errors import InvalidRequest

MAX_PARAMETERS = 64
MAX_VALUE_LENGTH = 2048


def parse_query(query_string: str) -> list[tuple[str, str]]:
    """All (name, value) pairs in order, blank values kept so they can be treated as absent."""
    try:
        return parse_qsl(query_string, keep_blank_values=True, max_num_fields=MAX_PARAMETERS,
                         errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("Malformed request parameters.",
                             f"The query must be at most {MAX_PARAMETERS} well-formed, UTF-8 "
                             "parameters.") from None


def single_values(pairs: Iterable[tuple[str, str]], known: Collection[str]) -> dict[str, str]:
    """The known parameters that have a value. Raises when one is given twice (even once
    blank) or is too long."""
    wanted = known if isinstance(known, (set, frozenset)) else frozenset(known)
    given: dict[str, str] = {}
    twice: set[str] = set()
    for name, value in pairs:
        if name in wanted:
            if name in given:
                twice.add(name)
            given[name] = value
    if twice:
        raise InvalidRequest("Parameters must not be given more than once.",
                             f"Given more than once: {', '.join(sorted(twice))} (RFC 6749 "
                             "§3.1).")
    values = {name: value for name, value in given.items() if value != ""}
    too_long = sorted(name for name, value in values.items() if len(value) > MAX_VALUE_LENGTH)
    if too_long:
        raise InvalidRequest("Malformed request parameters.",
                             f"Longer than {MAX_VALUE_LENGTH} characters: {', '.join(too_long)}.")
    return values
