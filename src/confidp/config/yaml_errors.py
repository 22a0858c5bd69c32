"""libyaml's error messages, said as what to check, at the line where the mistake is.

The parser reports where it gave up, which is often the line after the mistake: a key without
``:`` is noticed on the next line, an unclosed quote or bracket at the end of the file. For
those the place that matters is where the scalar, key or bracket started (the error's context
mark), and that is the place reported. Every message starts with ``YAML syntax error:``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import yaml

PREFIX = "YAML syntax error: "
TAB = ("a tab character: YAML indents with spaces only, so replace the tab with spaces "
       "(a value may contain tabs only inside quotes)")


@dataclass(frozen=True, slots=True)
class _Rule:
    """A kind of parser error: words found in its problem (and context), whether the place to
    show is where the construct started, and what to tell the person."""

    problem: str
    context: str
    at_start: bool
    advice: Callable[[str, int], str]  # (text of the line, column index) -> advice


def _unexpected_character(line: str, column: int) -> str:
    found = line[column] if column < len(line) else ""
    if found == "\t":
        return TAB
    return (f"a value cannot start with {found!r}: put the whole value in quotes, e.g. "
            f"\"{found}...\"")


def _no_key_here(line: str, column: int) -> str:
    if line[:column].strip():
        return ("unexpected text after the value: a quoted value or a closing bracket must "
                "end it (put the whole value in quotes)")
    return ("this line is not indented like the lines above it: the keys of one mapping must "
            "start in the same column")


_RULES: tuple[_Rule, ...] = (
    _Rule("could not find expected ':'", "simple key", True, lambda line, column: (
        "this key has no ':' after it (write 'key: value'), or the line continues the value "
        "above it by mistake")),
    _Rule("end of stream", "quoted scalar", True, lambda line, column: (
        "this quoted value is never closed: add the closing quote, or remove the opening one")),
    _Rule("document indicator", "quoted scalar", True, lambda line, column: (
        "this quoted value is never closed: add the closing quote, or remove the opening one")),
    _Rule("expected ',' or ']'", "flow sequence", True, lambda line, column: (
        "the list opened with '[' here is never closed: end it with ']' and separate its "
        "items with ','")),
    _Rule("expected ',' or '}'", "flow mapping", True, lambda line, column: (
        "the mapping opened with '{' here is never closed: end it with '}' and separate its "
        "entries with ','")),
    _Rule("tab character", "", False, lambda line, column: TAB),
    _Rule("cannot start any token", "", False, _unexpected_character),
    _Rule("mapping values are not allowed", "", False, lambda line, column: (
        "unexpected ': ' here: either this key is indented deeper than the keys above it "
        "(line it up with them), or ': ' is part of a value (put the whole value in quotes)")),
    _Rule("block sequence entries are not allowed", "", False, lambda line, column: (
        "a '- ' list item cannot follow a key on the same line: put each item on its own line "
        "below the key, indented, or write the list as [a, b]")),
    _Rule("expected '-' indicator", "", False, lambda line, column: (
        "this line is not indented like the list above it: each item starts with '- ' in the "
        "same column, and the keys of an item line up under its first key")),
    _Rule("expected key", "", False, _no_key_here),
    _Rule("another document", "", False, lambda line, column: (
        "a second YAML document starts here ('---'): a tenant file is a single document")),
    _Rule("undefined alias", "", False, lambda line, column: (
        "'*' starts a reference to an anchor ('&name') that is not defined: if '*' is part "
        "of the value, put the whole value in quotes")),
    _Rule("unknown escape character", "", False, lambda line, column: (
        "'\\' starts an escape sequence inside double quotes: write '\\\\' for a backslash, "
        "or use single quotes")),
    _Rule("unhashable key", "", True, lambda line, column: (
        "a list or mapping is used as a key: if this is text (such as '{{name}}'), put the "
        "whole value in quotes")),
    _Rule("could not determine a constructor", "", False, lambda line, column: (
        "tags ('!...') are not allowed in a tenant file: write plain strings, numbers, "
        "true/false, lists and mappings")),
)


def explain(error: yaml.MarkedYAMLError, text: str) -> tuple[int, int, str]:
    """(line, column, message) for a parser error, 1-based."""
    problem = error.problem or ""
    context = error.context or ""
    for rule in _RULES:
        if rule.problem in problem and rule.context in context:
            mark = (error.context_mark if rule.at_start else None) or error.problem_mark \
                or error.context_mark
            line, column = (mark.line, mark.column) if mark else (0, 0)
            return line + 1, column + 1, PREFIX + rule.advice(_line(text, line), column)
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = " ".join(part for part in (context, problem) if part)
    return line, column, (f"{PREFIX}{what}: check the indentation and the quoting of this line "
                          "and of the line above it")


def _line(text: str, index: int) -> str:
    lines = text.splitlines()
    return lines[index] if 0 <= index < len(lines) else ""
