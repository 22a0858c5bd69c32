"""The templates' side of translation: Jinja2's i18n extension (``_()``, ``gettext``,
``ngettext``, ``{% trans %}``) bound to the page's ``Translator``, which every render gets as
the ``i18n`` variable.

Every translated text is escaped before its variables are put in, and the variables are
escaped as they go in (Jinja's newstyle gettext formats with ``Markup``): a catalogue or a
tenant's override is text, never HTML. Markup around a variable comes from the template::

    {% set app %}<strong>{{ application_name }}</strong>{% endset %}
    {{ _("to continue to %(application)s", application=app) }}

A ``Message`` (``confidp.i18n.messages``) output anywhere (``{{ error }}``) is translated too.
"""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2.runtime import Context
from markupsafe import Markup, escape

from confidp.i18n.languages import DEFAULT_LANGUAGE
from confidp.i18n.messages import Message
from confidp.i18n.translator import Translator
from confidp.model import Scope

EXTENSIONS = ["jinja2.ext.i18n"]


def _translator(context: Context) -> Translator:
    translator: Translator = context["i18n"]
    return translator


@jinja2.pass_context
def _gettext(context: Context, msgid: str) -> Markup:
    return escape(_translator(context).gettext(msgid))


@jinja2.pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> Markup:
    return escape(_translator(context).ngettext(singular, plural, n))


@jinja2.pass_context
def localized(context: Context, text: str) -> Markup:
    """A text from the code (an error's description) in the page's language when the
    catalogues have it; otherwise as it is, marked as English for screen readers (WCAG 2.2
    §3.1.2 Language of Parts) when the page is not."""
    translator = _translator(context)
    translated = translator.known(text)
    if translated is not None:
        return escape(translated)
    if translator.language == DEFAULT_LANGUAGE:
        return escape(text)
    return Markup('<span lang="{}">{}</span>').format(DEFAULT_LANGUAGE, text)


@jinja2.pass_context
def original(context: Context, text: str) -> Markup:
    """The English text itself, marked as English, when ``localized`` showed a translation
    of it (an error page keeps the protocol's exact words beside the person's language);
    empty otherwise."""
    translator = _translator(context)
    if translator.language == DEFAULT_LANGUAGE or translator.known(text) in (None, text):
        return Markup("")
    return Markup('<span lang="{}">{}</span>').format(DEFAULT_LANGUAGE, text)


@jinja2.pass_context
def scope_description(context: Context, scope: Scope) -> Markup:
    """A scope's description in the page's language: the tenant's own translation
    (``localized_description``), a standard scope's from the catalogues, or the tenant's
    text as written, marked with the tenant's default language when the page is in another."""
    translator = _translator(context)
    own = scope.localized_descriptions.get(translator.language)
    if own:
        return escape(own)
    if scope.standard:
        return localized(context, scope.description)
    written_in = context.get("tenant_language", translator.language)
    if written_in == translator.language:
        return escape(scope.description)
    return Markup('<span lang="{}">{}</span>').format(written_in, scope.description)


@jinja2.pass_context
def finalize(context: Context, value: Any) -> Any:
    """``{{ message }}`` of a ``Message``: translated, its variables escaped."""
    if isinstance(value, Message):
        translator = _translator(context)
        text = (translator.gettext(value.msgid) if value.plural is None
                else translator.ngettext(value.msgid, value.plural, value.n))
        return escape(text) % value.values()
    return value


def install(environment: jinja2.Environment) -> None:
    """Bind the i18n extension of ``environment`` (created with ``EXTENSIONS`` and
    ``finalize``) to the render's ``i18n`` variable."""
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True)
    environment.filters["localized"] = localized
    environment.filters["original"] = original
    environment.filters["scope_description"] = scope_description
