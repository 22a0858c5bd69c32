"""The language a page is shown in, chosen in this order:

1. ``ui_locales`` (OpenID Connect Core §3.1.2.1: "End-User's preferred languages and scripts
   for the user interface, represented as a space-separated list of BCP47 language tag
   values, ordered by preference"): the one the sign-in request carries (sealed with it, so
   the login and consent pages after /authorize keep it), or the request's own parameter
   (/authorize, and /logout, RP-Initiated Logout §2);
2. ``Accept-Language`` (RFC 9110 §12.5.4), by quality value;
3. the tenant's default language.

Each list is matched against the tenant's languages with RFC 4647 §3.4 Lookup: a tag is tried
as it is, then with its last subtag removed, and so on (``de-CH-1996`` -> ``de-CH`` -> ``de``).
Neither ``ui_locales`` nor a malformed ``Accept-Language`` is ever an error: OpenID Connect
Core lets the provider show the pages in a language not asked for, so what cannot be used is
skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from confidp.context import AppRequest
from confidp.i18n.languages import LANGUAGE_TAG, language_tags
from confidp.model import Tenant
from confidp.web.forms import form_value

MAX_HEADER = 4096  # characters of Accept-Language looked at
MAX_RANGES = 32  # language ranges of Accept-Language looked at
WILDCARD = "*"
# RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
_WEIGHT = re.compile(r"[ \t]*;[ \t]*[qQ]=([^ \t;]*)[ \t]*")


def accept_language(header: str | None) -> list[str]:
    """RFC 9110 §12.5.4: the language ranges of an ``Accept-Language`` value, most preferred
    first (highest weight; equal weights in the order given). A range with weight 0 ("not
    acceptable") and a malformed member are left out."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, member in enumerate(header[:MAX_HEADER].split(",")[:MAX_RANGES]):
        language_range, _, parameters = member.strip().partition(";")
        language_range = language_range.strip()
        if language_range != WILDCARD and not LANGUAGE_TAG.fullmatch(language_range):
            continue
        weight = 1.0
        if parameters:
            match = _WEIGHT.fullmatch(";" + parameters)
            if match is None or not _QVALUE.fullmatch(match[1]):
                continue
            weight = float(match[1])
        if weight > 0:
            weighted.append((-weight, position, language_range.lower()))
    return [language_range for _, _, language_range in sorted(weighted)]


def lookup(tags: Iterable[str], supported: Sequence[str], default: str) -> str | None:
    """RFC 4647 §3.4 Lookup of ``tags`` (lower-case) in ``supported``: the first tag that,
    as it is or truncated, is supported. A wildcard ends the search with ``default`` (any
    language will do); None when nothing matched."""
    for tag in tags:
        if tag == WILDCARD:
            return default
        candidate = tag
        while candidate:
            if candidate in supported:
                return candidate
            candidate = candidate.rpartition("-")[0]
    return None


def negotiate(ui_locales: Sequence[str], accept: str | None, supported: Sequence[str],
              default: str) -> str:
    """The page language: ``ui_locales`` first, then ``Accept-Language``, then ``default``."""
    return (lookup(ui_locales, supported, default)
            or lookup(accept_language(accept), supported, default)
            or default)


def requested_ui_locales(request: AppRequest) -> tuple[str, ...]:
    """The ``ui_locales`` that apply to this request: those of the sign-in request the page
    belongs to (``confidp.web.flow.load_pending`` puts it on ``request.ctx``), else the
    request's own ``ui_locales`` parameter (query, or form-encoded body)."""
    sign_in = getattr(request.ctx, "sign_in_request", None)
    if sign_in is not None and sign_in.ui_locales:
        return tuple(sign_in.ui_locales)
    value = request.args.get("ui_locales")
    if value is None and request.method == "POST":
        value = form_value(request, "ui_locales")
    return language_tags(value)


def page_language(request: AppRequest, tenant: Tenant) -> str:
    languages = tenant.languages
    return negotiate(requested_ui_locales(request), request.headers.get("accept-language"),
                     languages.supported, languages.default)
