"""The shipped catalogues are complete: every message of the templates and the code is in
every language, nothing unused or fuzzy is left, plural forms and placeholders are right.
A helper who adds a string to a page must translate it in every shipped language."""

from __future__ import annotations

import io
from importlib import import_module, resources

import pytest
from babel.messages.pofile import read_po

from confidp.config.schema import tenant_schema
from confidp.i18n import LANGUAGES, message_ids, shipped
from confidp.i18n.catalogues import LOCALES, PACKAGE, po_text, read_catalog
from confidp.i18n.tool import check, extract, problems
from confidp.oauth.errors import OAuthError
from confidp.oauth.scopes import STANDARD_SCOPES

# every module that defines errors a page can show
ERROR_MODULES = ("confidp.oauth.errors", "confidp.web.logout", "confidp.web.pending")
PAGE_ERROR_MODULES = ("confidp.oauth.errors", "confidp.web.")


def test_every_catalogue_is_complete() -> None:
    assert check() == []


def test_the_check_finds_a_missing_an_untranslated_a_fuzzy_and_an_unused_message() -> None:
    template = extract()
    catalog = read_catalog("de")
    del catalog["Sign in"]
    catalog["Sign out"].string = ""
    catalog["Allow"].flags.add("fuzzy")
    catalog.add("A message no template has", "Eine Nachricht, die keine Vorlage hat")
    found = list(problems(template, "de", catalog))
    assert "de.po: missing 'Sign in'" in found
    assert "de.po: 'Sign out' is not translated" in found
    assert any("'Allow' is marked fuzzy" in line for line in found)
    assert "de.po: no longer used: 'A message no template has'" in found


def test_the_check_finds_wrong_plural_forms_and_placeholders() -> None:
    template = extract()
    catalog = read_catalog("ar")
    throttle = "Too many failed sign-in attempts. Try again in %(num)d minute."
    message = catalog[throttle]
    message.string = message.string[:2]
    catalog["Go back to %(application)s"].string = "العودة إلى %(app)s"
    found = list(problems(template, "ar", catalog))
    assert any("has 2 plural forms, ar has 6" in line for line in found)
    assert any("unknown named placeholder" in line and "Go back to" in line for line in found)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogues_hold_text_not_markup(language: str) -> None:
    for message in read_po(io.StringIO(po_text(language))):
        if not message.id:  # the header
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in (*strings, *ids):
            assert "<" not in text and ">" not in text, (language, text)


def test_plural_rules_come_from_cldr() -> None:
    assert {language: catalogue.num_plurals for language, catalogue in shipped().items()} == {
        "en": 2, "de": 2, "fr": 3, "es": 3, "ja": 1, "ar": 6}
    arabic = shipped()["ar"]
    assert [arabic.plural_index(n) for n in (0, 1, 2, 3, 10, 11, 99, 100, 102, 111)] == [
        0, 1, 2, 3, 3, 4, 4, 5, 5, 4]


def test_every_standard_scope_description_is_a_message() -> None:
    for description, _claims in STANDARD_SCOPES.values():
        assert description in message_ids(), description


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _subclasses(direct))]


def test_every_error_class_default_text_is_a_message() -> None:
    """A page shows an error's description and detail translated when the catalogues have
    them (confidp/i18n/known.py lists them)."""
    for module in ERROR_MODULES:
        import_module(module)
    for error in _subclasses(OAuthError):
        if not error.__module__.startswith(PAGE_ERROR_MODULES):
            continue  # the token endpoint's and the APIs' errors are JSON for programs
        for text in (error.default_description, error.default_detail):
            if text is not None:
                assert text in message_ids(), f"{error.__name__}: {text!r}"


def test_the_schema_names_exactly_the_shipped_languages() -> None:
    schema = tenant_schema()
    assert tuple(schema["$defs"]["language"]["enum"]) == LANGUAGES
    languages = schema["properties"]["languages"]["properties"]["supported"]["default"]
    assert tuple(languages) == LANGUAGES
    (pattern,) = schema["properties"]["messages"]["patternProperties"]
    assert pattern == f"^({'|'.join(LANGUAGES)})$"


def test_catalogues_are_kept_as_po_only() -> None:
    """No compiled .mo in the package: each .po is compiled in memory when loaded."""
    names = {entry.name for entry in (resources.files(PACKAGE) / LOCALES).iterdir()}
    assert names == {f"{language}.po" for language in LANGUAGES}
