"""Keeping the catalogues up to date (a development tool: run it from a checkout).

    python -m confidp.i18n.tool update   # (make messages) add new messages, drop unused ones
    python -m confidp.i18n.tool check    # what the test checks: exit 1 and say what is wrong

Messages are extracted with Babel from the templates of the built-in theme and of every theme
under ``themes/`` (``_()``, ``gettext``, ``ngettext``, ``{% trans %}``) and from the Python
sources (``lazy()``, ``lazy_plural()`` of ``confidp.i18n.messages``). ``update`` rewrites every
``locales/<language>.po``: a new message arrives untranslated (and the check fails until it
is translated in every language), a message no longer used is dropped, and nothing is ever
matched fuzzily.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from confidp.i18n.catalogues import read_catalog
from confidp.i18n.languages import DEFAULT_LANGUAGE, LANGUAGES, NAMES

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_DIR = PACKAGE_DIR.parent  # src/confidp
REPOSITORY = SOURCE_DIR.parent.parent
PYTHON_KEYWORDS = {"lazy": None, "lazy_plural": (1, 2)}
JINJA_EXTRACTOR = "jinja2.ext:babel_extract"
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                 "lstrip_blocks": "true", "silent": "false"}
WIDTH = 96
HEADER = """\
# confidp's pages in {name} ({language}).
# Brought up to date by `make messages` (python -m confidp.i18n.tool update): translate every
# empty msgstr; tests/i18n/test_catalogues.py fails until each language has every message.
# Placeholders (%(name)s) stay as they are; the texts are plain text, never HTML."""


def template_dirs(repository: Path = REPOSITORY) -> list[Path]:
    """The built-in theme's templates, then each repository theme's."""
    found = [SOURCE_DIR / "default_theme" / "templates"]
    themes = repository / "themes"
    if themes.is_dir():
        found.extend(sorted(path for path in themes.glob("*/templates") if path.is_dir()))
    return found


def _add(catalog: Catalog,
         messages: Iterable[tuple[str, int, str | tuple[str, ...], list[str], str | None]],
         base: Path, relative_to: Path) -> None:
    for filename, _lineno, text, comments, context in messages:
        # no line numbers: babel takes None for one, although its stubs say int
        location: Any = ((base / filename).relative_to(relative_to).as_posix(), None)
        catalog.add(text, locations=[location], auto_comments=comments, context=context)


def extract(repository: Path = REPOSITORY) -> Catalog:
    """Every message the pages can show, as a catalogue template."""
    catalog = Catalog(project="confidp", fuzzy=False)
    _add(catalog, extract_from_dir(str(SOURCE_DIR), [("**.py", "python")],
                                   keywords=PYTHON_KEYWORDS, comment_tags=("TRANSLATORS:",),
                                   strip_comment_tags=True),
         SOURCE_DIR, REPOSITORY)
    for directory in template_dirs(repository):
        _add(catalog, extract_from_dir(
            str(directory), [("**.html", JINJA_EXTRACTOR)], {"**.html": JINJA_OPTIONS},
            keywords=DEFAULT_KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True), directory, repository)
    return catalog


def _key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def problems(template: Catalog, language: str, catalog: Catalog) -> Iterator[str]:
    """What keeps ``catalog`` from being complete for ``template``: missing, untranslated,
    fuzzy and unused messages, a wrong number of plural forms, placeholders that differ."""
    wanted = {_key(m): m for m in template if m.id}
    have = {_key(m): m for m in catalog if m.id}
    where = f"{language}.po"
    for key in wanted.keys() - have.keys():
        yield f"{where}: missing {key!r}"
    for key in have.keys() - wanted.keys():
        yield f"{where}: no longer used: {key!r}"
    for key in wanted.keys() & have.keys():
        message = have[key]
        if message.id != wanted[key].id:
            yield f"{where}: {key!r} has another plural form in the sources"
        if message.fuzzy:
            yield f"{where}: {key!r} is marked fuzzy: check the translation, remove the flag"
        if language == DEFAULT_LANGUAGE:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            yield f"{where}: {key!r} is not translated"
        elif isinstance(message.id, tuple) and len(strings) != catalog.num_plurals:
            yield (f"{where}: {key!r} has {len(strings)} plural forms, "
                   f"{language} has {catalog.num_plurals}")
        for error in message.check(catalog):
            yield f"{where}: {key!r}: {error}"
    if catalog.fuzzy:
        yield f"{where}: the header is marked fuzzy"


def check(repository: Path = REPOSITORY) -> list[str]:
    template = extract(repository)
    found: list[str] = []
    for language in LANGUAGES:
        found.extend(problems(template, language, read_catalog(language)))
    return found


def po_path(language: str) -> Path:
    return PACKAGE_DIR / "locales" / f"{language}.po"


def update(repository: Path = REPOSITORY) -> None:
    template = extract(repository)
    for language in LANGUAGES:
        path = po_path(language)
        if path.exists():
            with path.open("rb") as source:
                catalog = read_po(source, locale=language)
            template.creation_date = catalog.creation_date  # no churn in the header
        else:
            catalog = Catalog(locale=language, project="confidp", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.fuzzy = False
        catalog.header_comment = HEADER.format(name=NAMES[language], language=language)
        catalog.copyright_holder = "the confidp authors"
        catalog.msgid_bugs_address = ""
        catalog.last_translator = "the confidp authors"
        catalog.language_team = NAMES[language]
        catalog.revision_date = catalog.creation_date
        buffer = io.BytesIO()
        write_po(buffer, catalog, width=WIDTH, omit_header=False, ignore_obsolete=True,
                 include_lineno=False, sort_output=False)
        path.write_bytes(buffer.getvalue())


def main(argv: list[str]) -> int:
    if argv == ["update"]:
        update()
        return 0
    if argv == ["check"]:
        found = check()
        for line in found:
            print(line)
        return 1 if found else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
