"""What a tenant's message override must be to render safely: a message of the catalogues,
the right number of plural forms, and only the message's own placeholders, each as the
message converts it (so ``%(num)d`` may become ``%(num)s`` but never ``%(application)d``,
which would fail at render time). Used by the config rules; a page never meets a bad one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from confidp.i18n.catalogues import message_ids, num_plurals

# printf-style conversions as Python's % operator reads them (format strings of newstyle
# gettext, Babel's "python-format")
_CONVERSION = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0\- +]*(?:\d+)?(?:\.\d+)?"
                         r"(?P<type>[diouxXeEfFgGcrsa%])")


def conversions(text: str) -> dict[str, str] | str:
    """The placeholders of ``text`` (name -> conversion type), or what is wrong with them."""
    found: dict[str, str] = {}
    rest = []
    position = 0
    for match in _CONVERSION.finditer(text):
        rest.append(text[position:match.start()])
        position = match.end()
        name, kind = match["name"], match["type"]
        if kind == "%":
            if name is not None:
                return f"{match[0]!r} is not a placeholder; write %% for a percent sign"
            continue
        if name is None:
            return (f"{match[0]!r} reads as a placeholder without a name: write %% for a "
                    "percent sign, %(name)s for a placeholder")
        found[name] = kind
    rest.append(text[position:])
    if "%" in "".join(rest):
        return "a '%' that is not a placeholder: write %% for a percent sign"
    return found


def _placeholder_problem(text: str, allowed: dict[str, str]) -> str | None:
    found = conversions(text)
    if isinstance(found, str):
        return found
    for name, kind in found.items():
        if name not in allowed:
            known = ", ".join(f"%({n})s" for n in sorted(allowed)) or "none"
            return f"%({name}){kind} is not a placeholder of this message (it has: {known})"
        if kind not in ("s", allowed[name]):
            return (f"%({name}){kind} cannot show this value: write %({name})s or "
                    f"%({name}){allowed[name]}")
    return None


def unknown_message(key: str) -> str | None:
    """Why ``key`` cannot be overridden (it is no message of the catalogues), or None."""
    if key in message_ids():
        return None
    close = difflib.get_close_matches(key, list(message_ids()), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (f"{key!r} is not a message of confidp's pages (keys are the English text, "
            f"exactly; `confidp messages` lists them){hint}")


def override_problems(language: str, key: str,
                      value: str | list[str]) -> Iterator[tuple[int | None, str]]:
    """The problems of ``messages.<language>.<key>: value`` for a ``key`` that is a message,
    each with the index of the plural form it is about (None: the whole value)."""
    plural = message_ids()[key]
    allowed: dict[str, str] = {}
    for source in (key, plural or ""):
        found = conversions(source)
        if isinstance(found, dict):
            allowed.update(found)
    if plural is not None:
        allowed.setdefault("num", "d")
    if isinstance(value, list):
        if plural is None:
            yield None, "this message has no plural forms: give one text, not a list"
            return
        forms = num_plurals(language)
        if len(value) != forms:
            yield None, (f"{language} has {forms} plural form{'s' if forms > 1 else ''}: "
                         f"give {forms} text{'s' if forms > 1 else ''}, or one for all")
            return
        for index, text in enumerate(value):
            problem = _placeholder_problem(text, allowed)
            if problem:
                yield index, problem
        return
    problem = _placeholder_problem(value, allowed)
    if problem:
        yield None, problem
