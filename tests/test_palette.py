"""Colours kept readable whatever a tenant picks (WCAG 2.2 §1.4.3, §1.4.11), and the
stylesheet variables of {issuer}/theme.css."""

from __future__ import annotations

import random

import pytest

from confidp.config.loader import validate_file
from confidp.model import Tenant
from confidp.palette import (
    COLOR_NAMES,
    TEXT_CONTRAST,
    contrast,
    derived,
    parse,
    readable,
)
from confidp.themes import BUILTIN_DEFAULT, ThemePalette, read_palette
from confidp.web.branding import schemes, theme_css
from tests.support import REPO, dump, tenant_doc

DEFAULT = read_palette(BUILTIN_DEFAULT / "theme.json")
MIDNIGHT = read_palette(REPO / "themes" / "midnight" / "theme.json")


def test_wcag_contrast_ratios() -> None:
    assert contrast(parse("#000"), parse("#fff")) == pytest.approx(21)
    assert contrast(parse("#777777"), parse("#ffffff")) == pytest.approx(4.48, abs=0.005)
    assert contrast(parse("#c8ccd6"), parse("#ffffff")) == pytest.approx(1.61, abs=0.01)
    assert contrast(parse("#0b5fff"), parse("#0b5fff")) == 1


def test_a_readable_colour_is_used_as_given() -> None:
    assert readable(parse("#0b5fff"), (parse("#ffffff"),), TEXT_CONTRAST) == parse("#0b5fff")


def _check(colors: dict[str, str]) -> None:
    made = {name: parse(value) for name, value in derived(colors).items()}
    surface, background = made["surface"], made["background"]
    for name in ("text", "link", "text-muted", "error-text"):
        assert contrast(made[name], surface) >= 4.5, (name, colors)
    assert contrast(made["on-primary"], made["primary"]) >= 4.5, colors
    assert contrast(made["focus"], surface) >= 3, colors
    assert contrast(made["border"], surface) >= 3, colors
    assert contrast(made["text-on-background"], background) >= 4.5, colors
    assert made["primary"] == parse(colors["primary"])  # buttons keep the brand colour


def test_any_colours_a_tenant_picks_stay_readable() -> None:
    rng = random.Random(20251126)  # fixed: the same 3000 palettes every run
    for _ in range(3000):
        colors = {name: f"#{rng.randrange(1 << 24):06x}" for name in COLOR_NAMES}
        if rng.random() < 0.5:  # a surface and background of the same lightness side
            colors["background"] = colors["surface"]
        _check(colors)


@pytest.mark.parametrize("colors", [
    {"primary": "#ffcc00", "background": "#ffffff", "surface": "#ffffff", "text": "#aaaaaa",
     "error": "#ff9999"},  # a pale brand on white, and grey text
    {"primary": "#1b1d36", "background": "#0f1020", "surface": "#1b1d36", "text": "#2a2a2a",
     "error": "#550000"},  # dark on dark
    {"primary": "#777777", "background": "#777777", "surface": "#777777", "text": "#777777",
     "error": "#777777"},  # the worst middle grey
])
def test_low_contrast_choices_are_fixed(colors: dict[str, str]) -> None:
    _check(colors)
    assert derived(colors)["text"] != colors["text"]


@pytest.mark.parametrize("palette", [DEFAULT, MIDNIGHT])
def test_the_shipped_themes_need_no_fixing(palette: ThemePalette) -> None:
    """The themes' own colours are readable as they are (only the default theme's dark
    scheme lightens its blue for links, keeping it for buttons)."""
    for colors in (palette.colors, palette.dark or palette.colors):
        made = derived(colors)
        assert made["text"] == colors["text"]
        assert made["error-text"] == colors["error"]
    assert derived(palette.colors)["link"] == palette.colors["primary"]


def tenant(colors: dict[str, object]) -> Tenant:
    result = validate_file("acme.yaml", dump(tenant_doc(
        "https://id.example.com", theme={"colors": colors})), themes=None, environ={})
    assert result.tenant is not None, result.errors
    return result.tenant


def test_dark_scheme_of_the_default_theme_keeps_the_tenant_s_primary() -> None:
    light, dark = schemes(tenant({"primary": "#ff7a18"}), DEFAULT)
    assert light["primary"] == dark["primary"] == "#ff7a18"
    assert DEFAULT.dark is not None and dark["surface"] == DEFAULT.dark["surface"]
    css = theme_css(tenant({"primary": "#ff7a18"}), DEFAULT)
    assert "@media (prefers-color-scheme: dark)" in css
    assert css.count("--primary: #ff7a18;") == 2


def test_a_tenant_s_dark_colours() -> None:
    light, dark = schemes(tenant({"primary": "#0b5fff",
                                  "dark": {"primary": "#6ea0ff", "surface": "#000000"}}),
                          DEFAULT)
    assert light["primary"] == "#0b5fff" and dark["primary"] == "#6ea0ff"
    assert dark["surface"] == "#000000"


def test_a_theme_without_a_dark_variant_has_no_dark_block() -> None:
    css = theme_css(tenant({"primary": "#ff7a18"}), MIDNIGHT)
    assert "prefers-color-scheme" not in css and "color-scheme: dark;" in css
    with_dark = theme_css(tenant({"dark": {"primary": "#ffb070"}}), MIDNIGHT)
    assert "@media (prefers-color-scheme: dark)" in with_dark
