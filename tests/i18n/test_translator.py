"""Translations as pages get them: plural forms per language, a tenant's overrides, and the
templates' escaping (a catalogue or an override is text, never HTML)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from confidp.i18n import Translator, lazy, lazy_plural, shipped
from confidp.model import Scope
from confidp.themes import Themes

THROTTLE = "Too many failed sign-in attempts. Try again in %(num)d minute."
THROTTLE_PLURAL = "Too many failed sign-in attempts. Try again in %(num)d minutes."


def translator(language: str, **overrides: Any) -> Translator:
    return Translator(shipped()[language], MappingProxyType(overrides))


def render(source: str, language: str = "en", translate: Translator | None = None,
           **context: Any) -> str:
    environment = Themes(None).environment("default", "test")
    template = environment.from_string(source)
    return template.render(i18n=translate or translator(language), **context)


@pytest.mark.parametrize(("language", "n", "expected"), [
    ("en", 1, "Try again in 1 minute."),
    ("en", 15, "Try again in 15 minutes."),
    ("de", 1, "Versuchen Sie es in 1 Minute erneut."),
    ("de", 2, "Versuchen Sie es in 2 Minuten erneut."),
    ("fr", 1, "Réessayez dans 1 minute."),
    ("fr", 0, "Réessayez dans 0 minute."),  # French: 0 takes the singular
    ("fr", 2, "Réessayez dans 2 minutes."),
    ("es", 1, "dentro de 1 minuto."),
    ("es", 5, "dentro de 5 minutos."),
    ("ja", 1, "1 分後にもう一度お試しください。"),
    ("ja", 15, "15 分後にもう一度お試しください。"),
    ("ar", 0, "بعد 0 دقيقة."),
    ("ar", 1, "بعد دقيقة واحدة."),
    ("ar", 2, "بعد دقيقتين."),
    ("ar", 3, "بعد 3 دقائق."),
    ("ar", 10, "بعد 10 دقائق."),
    ("ar", 11, "بعد 11 دقيقة."),
    ("ar", 100, "بعد 100 دقيقة."),
])
def test_the_throttle_message_takes_each_language_s_plural_form(language: str, n: int,
                                                                expected: str) -> None:
    text = translator(language).message(lazy_plural(THROTTLE, THROTTLE_PLURAL, n))
    assert text.endswith(expected), text


def test_arabic_has_a_text_for_each_of_its_six_forms() -> None:
    """CLDR: zero, one, two, few (3-10), many (11-99), other (100-102 ...). For minutes
    "many" and "other" read the same, and zero like them; one and two need no number."""
    arabic = shipped()["ar"]
    assert [arabic.plural_index(n) for n in (0, 1, 2, 3, 11, 100)] == [0, 1, 2, 3, 4, 5]
    texts = [translator("ar").ngettext(THROTTLE, THROTTLE_PLURAL, n)
             for n in (0, 1, 2, 3, 11, 100)]
    assert all(text != THROTTLE_PLURAL and text for text in texts)
    assert texts[1].endswith("دقيقة واحدة.") and texts[2].endswith("دقيقتين.")
    assert texts[3].endswith("%(num)d دقائق.") and texts[4].endswith("%(num)d دقيقة.")


def test_an_override_replaces_the_catalogue_for_its_language_only() -> None:
    tenant = translator("de", **{"Sign in": "Bei Acme anmelden"})
    assert tenant.gettext("Sign in") == "Bei Acme anmelden"
    assert tenant.gettext("Sign out") == "Abmelden"
    assert translator("fr").gettext("Sign in") == "Se connecter"


def test_a_plural_override_gives_one_text_per_form_or_one_for_all() -> None:
    forms = translator("de", **{THROTTLE: ("Eine Minute warten.", "%(num)d Minuten warten.")})
    assert forms.message(lazy_plural(THROTTLE, THROTTLE_PLURAL, 1)) == "Eine Minute warten."
    assert forms.message(lazy_plural(THROTTLE, THROTTLE_PLURAL, 7)) == "7 Minuten warten."
    one = translator("ja", **{THROTTLE: "%(num)d 分お待ちください。"})
    assert one.message(lazy_plural(THROTTLE, THROTTLE_PLURAL, 3)) == "3 分お待ちください。"


def test_translations_and_overrides_are_text_never_markup() -> None:
    tenant = translator("en", **{"Sign in": "<b>Sign</b> in & go"})
    assert render('{{ _("Sign in") }}', translate=tenant) == "&lt;b&gt;Sign&lt;/b&gt; in &amp; go"
    assert render('{{ _("Go back to %(application)s", application=name) }}',
                  name="<script>x</script>") == "Go back to &lt;script&gt;x&lt;/script&gt;"
    # markup around a variable comes from the template
    assert render('{% set app %}<strong>{{ name }}</strong>{% endset %}'
                  '{{ _("to continue to %(application)s", application=app) }}', "de",
                  name="A&B") == "um mit <strong>A&amp;B</strong> fortzufahren"


def test_a_message_from_the_code_is_translated_where_it_is_shown() -> None:
    assert render("{{ error }}", "fr", error=lazy("The username or password is incorrect.")) \
        == "Le nom d&#39;utilisateur ou le mot de passe est incorrect."
    assert render("{{ error }}", "es", error=lazy_plural(THROTTLE, THROTTLE_PLURAL, 3)) \
        .endswith("dentro de 3 minutos.")
    assert str(lazy_plural(THROTTLE, THROTTLE_PLURAL, 3)).endswith("in 3 minutes.")


def test_texts_from_the_code_are_translated_when_known_else_marked_english() -> None:
    known = "This sign-in request has expired or was already used."
    assert render("{{ m | localized }}", "de", m=known) == \
        "Diese Anmeldeanfrage ist abgelaufen oder wurde bereits verwendet."
    assert render("{{ m | localized }}", "de", m="The client_id 'x' is unknown.") == \
        '<span lang="en">The client_id &#39;x&#39; is unknown.</span>'
    assert render("{{ m | localized }}", "en", m="The client_id 'x' is unknown.") == \
        "The client_id &#39;x&#39; is unknown."
    # the protocol's own words stay on the page beside the translation
    assert render("{{ m | original }}", "ja", m=known) == f'<span lang="en">{known}</span>'
    assert render("{{ m | original }}", "en", m=known) == ""
    assert render("{{ m | original }}", "ja", m="not in the catalogues") == ""


def test_scope_descriptions() -> None:
    standard = Scope("email", "Your email address", ("email",), standard=True)
    custom = Scope("orders.read", "Read your orders",
                   localized_descriptions=MappingProxyType({"de": "Ihre Bestellungen lesen"}))
    source = "{{ s | scope_description }}"
    assert render(source, "fr", s=standard) == "Votre adresse e-mail"
    assert render(source, "de", s=custom, tenant_language="en") == "Ihre Bestellungen lesen"
    assert render(source, "fr", s=custom, tenant_language="en") == \
        '<span lang="en">Read your orders</span>'
    assert render(source, "en", s=custom, tenant_language="en") == "Read your orders"
