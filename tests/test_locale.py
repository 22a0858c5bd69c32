"""Choosing a page's language: ui_locales (OpenID Connect Core §3.1.2.1), then
Accept-Language (RFC 9110 §12.5.4, by quality value), then the tenant's default; each matched
with RFC 4647 §3.4 Lookup against the tenant's languages."""

from __future__ import annotations

import pytest

from confidp.i18n.languages import MAX_UI_LOCALES, language_tags
from confidp.web.locale import accept_language, lookup, negotiate

ALL = ("en", "de", "fr", "es", "ja", "ar")


@pytest.mark.parametrize(("header", "ranges"), [
    ("de", ["de"]),
    ("de-CH, fr;q=0.8, en;q=0.9", ["de-ch", "en", "fr"]),
    ("fr;q=0.5, ja", ["ja", "fr"]),  # q=1 by default
    ("en;q=0.5, de;q=0.5, fr;q=0.5", ["en", "de", "fr"]),  # equal weights keep their order
    ("ar;q=0, fr", ["fr"]),  # q=0: not acceptable
    ("*;q=0.1, es", ["es", "*"]),
    ("de;q=1.000, en;q=0.999", ["de", "en"]),
    ("de ; q=0.7 , en", ["en", "de"]),
    ("de;Q=0.4,en;q=0.5", ["en", "de"]),
    # malformed members are left out, the rest used
    ("de;q=1.5, fr", ["fr"]),
    ("de;q=0.1234, fr", ["fr"]),
    ("de;q=, fr", ["fr"]),
    ("de;q=abc, fr", ["fr"]),
    ("de;x=1, fr", ["fr"]),
    ("d_e, fr", ["fr"]),
    ("toolongsubtag-de, fr", ["fr"]),
    ("", []),
    (",,, ;;", []),
])
def test_accept_language(header: str, ranges: list[str]) -> None:
    assert accept_language(header) == ranges


def test_a_huge_accept_language_is_read_only_so_far() -> None:
    header = ", ".join(["xx"] * 10_000) + ", de"
    assert accept_language(header) == ["xx"] * 32
    assert negotiate((), header, ALL, "en") == "en"


@pytest.mark.parametrize(("tags", "supported", "found"), [
    (["de-ch-1996"], ALL, "de"),
    (["zh-hant", "ja-jp"], ALL, "ja"),
    (["pt-br"], ALL, None),
    (["fr"], ("en", "de"), None),
    (["*", "de"], ALL, "en"),  # a wildcard: any language, so the default
])
def test_lookup_truncates_tags(tags: list[str], supported: tuple[str, ...],
                               found: str | None) -> None:
    assert lookup(tags, supported, "en") == found


def test_ui_locales_come_first_then_accept_language_then_the_default() -> None:
    assert negotiate(("fr-ca",), "de, en;q=0.5", ALL, "en") == "fr"
    assert negotiate(("pt",), "de, en;q=0.5", ALL, "en") == "de"  # ui_locales not supported
    assert negotiate((), "pt, zh", ALL, "es") == "es"
    assert negotiate((), None, ALL, "ja") == "ja"


def test_a_tenant_s_restriction_is_respected() -> None:
    assert negotiate(("ar",), "fr, de;q=0.5", ("en", "de"), "en") == "de"
    assert negotiate(("ar",), "fr", ("en", "de"), "de") == "de"


def test_ui_locales_values() -> None:
    assert language_tags("ar-EG fr  de_DE x-y-toolongsubtag EN") == ("ar-eg", "fr", "en")
    assert language_tags("de de DE") == ("de",)
    assert language_tags(None) == () and language_tags("") == ()
    many = " ".join(f"l{chr(97 + i)}" for i in range(20))
    assert len(language_tags(many)) == MAX_UI_LOCALES
