"""One page's translations: the shipped catalogue of the negotiated language, with the tenant's
own message overrides for that language over it."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from confidp.i18n.catalogues import Catalogue, message_ids
from confidp.i18n.languages import DEFAULT_LANGUAGE, direction
from confidp.i18n.messages import Message

# msgid -> the tenant's text, or for a message with plural forms one text per form
Overrides = Mapping[str, str | tuple[str, ...]]
NO_OVERRIDES: Overrides = MappingProxyType({})


class Translator:
    """``gettext``/``ngettext`` for one language and one tenant's overrides. Texts come back
    as plain strings with their ``%(name)s`` placeholders; escaping is the template's (see
    ``confidp.i18n.jinja``)."""

    __slots__ = ("catalogue", "direction", "language", "overrides")

    def __init__(self, catalogue: Catalogue, overrides: Overrides = NO_OVERRIDES) -> None:
        self.catalogue = catalogue
        self.language = catalogue.language
        self.direction = direction(self.language)
        self.overrides = overrides

    def gettext(self, msgid: str) -> str:
        override = self.overrides.get(msgid)
        if isinstance(override, str):
            return override
        return str(self.catalogue.translations.gettext(msgid))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        override = self.overrides.get(singular)
        if isinstance(override, str):
            return override
        if override is not None:
            return override[min(self.catalogue.plural_index(n), len(override) - 1)]
        return str(self.catalogue.translations.ngettext(singular, plural, n))

    def message(self, message: Message) -> str:
        """A ``Message`` in this language, its variables filled in (not escaped)."""
        if message.plural is None:
            text = self.gettext(message.msgid)
        else:
            text = self.ngettext(message.msgid, message.plural, message.n)
        return text % message.values()

    def known(self, text: str) -> str | None:
        """``text`` in this language if it is a message of the catalogue (an error's
        description, a standard scope's); None for a text the catalogues do not have."""
        if text in self.overrides:
            return self.gettext(text)
        if self.language == DEFAULT_LANGUAGE:
            return text if text in message_ids() else None
        if text in self.catalogue.messages:
            return self.gettext(text)
        return None
