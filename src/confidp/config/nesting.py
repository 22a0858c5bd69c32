"""How deeply a tenant file nests lists and mappings, bounded before anything recurses on it.

PyYAML builds its node tree recursively, one C stack frame per nested collection and with no
limit: a 60 KB file of ``[`` (or of ``{a:``, or of indented keys, closed or not) overflows the
stack and the process dies of SIGSEGV, which no ``except`` can catch. ``nesting_problem``
finds the first collection nested deeper than ``MAX_NESTING`` before the tree is built.

Two steps, so that ordinary files pay almost nothing:

1. An upper bound from the text alone (string counts and one regular-expression search, at C
   speed; see ``shallow_from_text``). A file whose bound is within the limit cannot nest
   deeper.
2. Otherwise the depth is measured on libyaml's event stream, which its parser produces with an
   explicit state stack and no recursion (200 000 levels parse as events without harm; only
   the composer crashes). Positions then come from the parser itself, so ``[[[``, ``{a: {a:``,
   ``- - -`` and indentation are all placed exactly, however odd the rest of the file.
"""

from __future__ import annotations

import re

import yaml

MAX_NESTING = 64  # a tenant file needs 5 (users -> a user -> claims -> a list)

# Characters that can open a line before a block collection starts: a byte-order mark, a
# document marker, indentation, and compact indicators ("- - key:", "? - x").
_PREFIX_CHARACTERS = "[\ufeff \t?:-]"
# Line breaks other than "\n" that libyaml also honours: the bound's lines would not be its lines.
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")
_STARTS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_ENDS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)

try:
    _Parser: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing: the Python parser is iterative too
    _Parser = yaml.SafeLoader


def too_deep_message() -> str:
    return (f"lists and mappings nest more than {MAX_NESTING} levels deep here (a tenant file "
            "needs no more than 5): look for a '[' or '{' that is never closed, or for "
            "indentation that keeps growing")


def shallow_from_text(text: str, limit: int = MAX_NESTING) -> bool:
    """Whether the text alone shows that nothing in it nests deeper than ``limit``.

    Flow collections nest at most twice as deep as there are ``[`` and ``{``. Block
    collections open at strictly growing columns (an indentless list shares its mapping's
    column), two levels per column at most, and a collection opens no further right than the
    run of indentation and indicator characters that starts its line. So the depth is at most
    ``2 * (widest such run + 1) + 2 * brackets``; one regular-expression search tells whether
    any line's run is wider than the limit allows."""
    if any(line_break in text for line_break in _OTHER_BREAKS):
        return False
    widest_allowed = (limit - 2 * (text.count("[") + text.count("{"))) // 2 - 1
    if widest_allowed < 0:
        return False
    too_wide = f"{_PREFIX_CHARACTERS}{{{widest_allowed + 1}}}"
    # "\n" first, not "^" with MULTILINE: a literal start lets the search skip ahead
    return re.match(too_wide, text) is None and re.search("\n" + too_wide, text) is None


def nesting_problem(text: str) -> tuple[int, int] | None:
    """The line and column (1-based) of the first collection nested deeper than
    ``MAX_NESTING``, or None. Syntax errors are left to the parse that follows."""
    if shallow_from_text(text):
        return None
    place, stopped_at = _deepest(text)
    if stopped_at is not None:
        # libyaml 0.2.6 refuses 1000 levels itself, while it looks ahead for a key, before the
        # level past the limit is reported: that level is in the text before its refusal.
        again, _ = _deepest(text[:stopped_at])
        return again or place
    return place


def _deepest(text: str) -> tuple[tuple[int, int] | None, int | None]:
    """(place of the first level past the limit, or None; where libyaml refused the nesting
    itself, or None)."""
    parser = _Parser(text)
    depth = 0
    try:
        while not parser.check_event(yaml.StreamEndEvent):
            event = parser.get_event()
            if isinstance(event, _STARTS):
                depth += 1
                if depth > MAX_NESTING:
                    mark = event.start_mark
                    assert mark is not None  # the parser marks every event it makes
                    return (mark.line + 1, mark.column + 1), None
            elif isinstance(event, _ENDS):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if "maximum nesting depth" in (exc.problem or "") and mark is not None:
            return (mark.line + 1, mark.column + 1), mark.index
        return None, None  # a syntax error before the limit: the parse that follows says it
    except yaml.YAMLError:
        return None, None
    finally:
        parser.dispose()
    return None, None
