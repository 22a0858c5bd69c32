"""The pages' languages: message catalogues (``locales/*.po``, Babel), translators with a
tenant's overrides, and the Jinja2 binding. The language of a request is chosen in
``confidp.web.locale``.

Adding a string to a page: write it as ``{{ _("Text") }}`` (or ``ngettext``) in the template,
or ``lazy("Text")`` in code; run ``make messages``; translate the new, empty entries of every
``locales/<language>.po``. The test suite fails until every language has it.
"""

from confidp.i18n.catalogues import Catalogue, message_ids, shipped
from confidp.i18n.languages import DEFAULT_LANGUAGE, LANGUAGES, RIGHT_TO_LEFT, direction
from confidp.i18n.messages import Message, lazy, lazy_plural
from confidp.i18n.translator import NO_OVERRIDES, Overrides, Translator

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "NO_OVERRIDES",
    "RIGHT_TO_LEFT",
    "Catalogue",
    "Message",
    "Overrides",
    "Translator",
    "direction",
    "lazy",
    "lazy_plural",
    "message_ids",
    "shipped",
]
