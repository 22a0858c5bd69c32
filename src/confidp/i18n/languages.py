"""The languages confidp's pages ship in, and what a page needs to know about each."""

from __future__ import annotations

import re
from types import MappingProxyType

DEFAULT_LANGUAGE = "en"
# BCP 47 primary language subtags of the shipped catalogues (confidp/i18n/locales/<tag>.po)
LANGUAGES = ("en", "de", "fr", "es", "ja", "ar")
RIGHT_TO_LEFT = frozenset({"ar"})
# each language's own name for itself, for the README and a language chooser
NAMES = MappingProxyType({
    "en": "English", "de": "Deutsch", "fr": "Français", "es": "Español", "ja": "日本語",
    "ar": "العربية",
})


# RFC 5646 §2.1, loosely (as RFC 4647 §2.1's language-range): alphanumeric subtags of 1 to 8
LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
MAX_UI_LOCALES = 8  # tags of a ui_locales value kept (it travels sealed in the login URL)


def language_tags(value: str | None) -> tuple[str, ...]:
    """A ``ui_locales`` value (OpenID Connect Core §3.1.2.1, space-separated BCP 47 tags in
    order of preference): its well-formed tags, lower-case, in order, without repeats, at
    most ``MAX_UI_LOCALES``. A malformed tag is skipped, never an error."""
    if not value:
        return ()
    tags = (tag.lower() for tag in value.split(" ") if LANGUAGE_TAG.fullmatch(tag))
    return tuple(dict.fromkeys(tags))[:MAX_UI_LOCALES]


def direction(language: str) -> str:
    """The ``dir`` attribute of a page in ``language`` (HTML §3.2.6.4)."""
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"
