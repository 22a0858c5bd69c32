"""``confidp messages [LANGUAGE]``: every message of the pages, as lines to copy under
``messages.<language>`` in a tenant file (the key is the English text, the value the
language's current text; JSON strings, which YAML reads as they are)."""

from __future__ import annotations

import json

from confidp.i18n.catalogues import read_catalog
from confidp.i18n.languages import NAMES


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def listing(language: str) -> str:
    catalog = read_catalog(language)
    lines = [f"# The messages of confidp's pages in {NAMES[language]} ({language}). To "
             f"change one for a tenant, copy its line under messages.{language} in the "
             "tenant file and edit the text (keep the %(name)s placeholders you need)."]
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, str):
            lines.append(f"{_json(message.id)}: {_json(message.string or message.id)}")
            continue
        string = message.string  # a plural message's: one form per plural
        forms = list(string) if isinstance(string, tuple | list) and all(string) \
            else list(message.id)
        lines.append(f"{_json(message.id[0])}: {_json(forms)}  # {len(forms)} plural forms")
    return "\n".join(lines) + "\n"
