"""The shipped message catalogues: ``confidp/i18n/locales/<language>.po``, read with Babel when
first needed (no compiled ``.mo`` file is kept: each ``.po`` is compiled in memory).

``en.po`` is the list of every message (its ``msgid``s are the English texts, its
``msgstr``s empty); every other catalogue translates each of them. ``python -m
confidp.i18n.tool update`` brings them up to date with the templates and the code, and
``tests/i18n/test_catalogues.py`` fails while any catalogue misses a message, keeps one no
longer used, or has one marked fuzzy.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from confidp.i18n.languages import DEFAULT_LANGUAGE, LANGUAGES

PACKAGE = "confidp.i18n"
LOCALES = "locales"


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One language's translations (a ``gettext.GNUTranslations``), its number of plural forms
    and its plural rule (CLDR, as Babel writes it into the catalogue's header)."""

    language: str
    translations: Translations
    num_plurals: int
    messages: frozenset[str]  # the msgids it translates (singular msgid for plurals)

    def plural_index(self, n: int) -> int:
        """Which of the ``num_plurals`` forms ``n`` takes (gettext's ``plural`` function)."""
        plural: Callable[[int], int] = self.translations.plural
        return int(plural(n))


def po_text(language: str) -> str:
    return (resources.files(PACKAGE) / LOCALES / f"{language}.po").read_text("utf-8")


def read_catalog(language: str) -> Catalog:
    """The Babel ``Catalog`` of a shipped language (for the tool and the tests)."""
    return read_po(io.StringIO(po_text(language)), locale=language)


def _compiled(catalog: Catalog) -> Translations:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # leaves out fuzzy and untranslated messages
    buffer.seek(0)
    return Translations(fp=buffer)


def load(language: str) -> Catalogue:
    catalog = read_catalog(language)
    translated = frozenset(
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalog if message.id and message.string
        and (all(message.string) if isinstance(message.string, tuple) else True)
        and not message.fuzzy)
    return Catalogue(language, _compiled(catalog), catalog.num_plurals, translated)


@cache
def shipped() -> Mapping[str, Catalogue]:
    """Every shipped language's catalogue, read once per process."""
    return MappingProxyType({language: load(language) for language in LANGUAGES})


@cache
def message_ids() -> Mapping[str, str | None]:
    """Every message of the pages: its msgid (the English text) -> its English plural msgid,
    or None for a message without plural forms."""
    ids: dict[str, str | None] = {}
    for message in read_catalog(DEFAULT_LANGUAGE):
        if not message.id:
            continue
        if isinstance(message.id, str):
            ids[message.id] = None
        else:
            ids[message.id[0]] = message.id[1]
    return MappingProxyType(ids)


def num_plurals(language: str) -> int:
    return shipped()[language].num_plurals
