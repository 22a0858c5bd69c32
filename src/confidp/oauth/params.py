"""Request parameters as OAuth reads them (RFC 6749 §3.1): a parameter sent without a value is
treated as omitted, none may be given twice, unknown ones are ignored.

RFC 6749 §3.1 says the server "MUST ignore unrecognized request parameters", so their number is
not limited; the size of the whole query or form body is (``MAX_QUERY_LENGTH``), and so is each
known parameter's value (``MAX_VALUE_LENGTH``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from urllib.parse import parse_qsl

from confidp.oauth.errors import InvalidRequest

MAX_QUERY_LENGTH = 16 * 1024  # characters of the percent-encoded query or form body
MAX_VALUE_LENGTH = 2048  # characters of one known parameter's decoded value
MALFORMED = "Malformed request parameters."


def parse_query(query_string: str) -> list[tuple[str, str]]:
    """All (name, value) pairs in order, blank values kept so they can be treated as absent.
    However many there are: only the total size is limited."""
    if len(query_string) > MAX_QUERY_LENGTH:
        raise InvalidRequest(MALFORMED, f"The parameters must be at most {MAX_QUERY_LENGTH} "
                             "characters in all (16 KiB).")
    try:
        return parse_qsl(query_string, keep_blank_values=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest(MALFORMED, "The parameters must be well-formed, percent-encoded "
                             "UTF-8.") from None


def single_values(pairs: Iterable[tuple[str, str]], known: Collection[str],
                  unread: Collection[str] = ()) -> dict[str, str]:
    """The known parameters that have a value. Raises when one is given twice (even once
    blank) or is too long; the ``unread`` ones (known only to be refused, such as a request
    object) are not held to the length limit."""
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
    too_long = sorted(name for name, value in values.items()
                      if len(value) > MAX_VALUE_LENGTH and name not in unread)
    if too_long:
        raise InvalidRequest(MALFORMED,
                             f"Longer than {MAX_VALUE_LENGTH} characters: {', '.join(too_long)}.")
    return values
