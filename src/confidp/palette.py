"""A page's colours, kept readable whatever colours a tenant picks (WCAG 2.2 §1.4.3 Contrast
(Minimum), §1.4.11 Non-text Contrast).

A palette is five colours (``primary``, ``background``, ``surface``, ``text``, ``error``): the
theme's own (its ``theme.json``) with the tenant's ``theme.colors`` over them. From them come
the colours the stylesheet actually uses for text and controls, each adjusted only as far as
needed to reach its contrast target against the card (``surface``) it is drawn on:

- ``on-primary``: the button label on ``primary``, black or white, whichever contrasts more
  (for any colour one of them reaches at least 4.58:1);
- ``link``, ``text``, ``text-muted``, ``error-text``: at least 4.5:1 against ``surface``
  (small text);
- ``border`` (form controls): at least 3:1 against ``surface`` and ``background`` (a theme
  may fill its inputs with either), ``focus`` (the focus ring): 3:1 against ``surface``;
- ``text-on-background``: muted text drawn outside the card (a theme's footer), at least
  4.5:1 against ``background``.

A colour is adjusted by mixing it with black or white (whichever side has more contrast
against the surface) in the smallest step that reaches the target, so a brand colour that is
already readable is used exactly as given. Buttons keep ``primary`` itself as their
background. The contrast ratio and relative luminance are WCAG 2.2's definitions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

COLOR_NAMES = ("primary", "background", "surface", "text", "error")
_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
BLACK = (0, 0, 0)
WHITE = (255, 255, 255)
# WCAG 2.2 §1.4.3 (text below 18pt, or 14pt bold) and §1.4.11 (borders, focus rings), with a
# margin of 0.05 so that no rounding in a browser or a checker can take a colour below them
TEXT_CONTRAST = 4.55
NON_TEXT_CONTRAST = 3.05
MUTED_SHARE = 0.72  # muted text: this much of the text colour, the rest the surface
BORDER_SHARE = 0.45  # control borders start from this much of the text colour

RGB = tuple[int, int, int]


def parse(color: str) -> RGB:
    """``#rgb`` or ``#rrggbb`` (the schema's colour) -> (r, g, b)."""
    match = _HEX.fullmatch(color)
    if match is None:
        raise ValueError(f"not a hex colour: {color!r}")
    digits = match[1]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def is_color(value: object) -> bool:
    return isinstance(value, str) and _HEX.fullmatch(value) is not None


def hex_of(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: RGB) -> float:
    """WCAG 2.2 "relative luminance"."""
    r, g, b = (_channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """WCAG 2.2 "contrast ratio": (L1 + 0.05) / (L2 + 0.05), from 1 to 21."""
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def mix(a: RGB, b: RGB, share_of_b: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * share_of_b),
            round(a[1] + (b[1] - a[1]) * share_of_b),
            round(a[2] + (b[2] - a[2]) * share_of_b))


def on(background: RGB) -> RGB:
    """Black or white, whichever contrasts more with ``background``."""
    return BLACK if contrast(BLACK, background) >= contrast(WHITE, background) else WHITE


def readable(color: RGB, against: tuple[RGB, ...], target: float) -> RGB:
    """``color`` itself if it reaches ``target`` against every colour of ``against``; else
    ``color`` mixed with black or white (the side that contrasts more with the first of
    ``against``) in the smallest step (1/256) that does. Black or white against one colour
    always reaches 4.58:1, so with one colour to contrast with every target up to that is
    met."""
    def good(candidate: RGB) -> bool:
        return all(contrast(candidate, other) >= target for other in against)

    if good(color):
        return color
    toward = on(against[0])
    low, high = 0, 256  # steps of 1/256 towards ``toward``: high is known good (the extreme)
    while high - low > 1:
        middle = (low + high) // 2
        if good(mix(color, toward, middle / 256)):
            high = middle
        else:
            low = middle
    return mix(color, toward, high / 256)


def derived(colors: Mapping[str, str]) -> Mapping[str, str]:
    """Every CSS variable the stylesheets use, from a complete palette of ``COLOR_NAMES``."""
    primary, background, surface, text, error = (parse(colors[name]) for name in COLOR_NAMES)
    readable_text = readable(text, (surface,), TEXT_CONTRAST)
    return MappingProxyType({
        "primary": hex_of(primary),
        "background": hex_of(background),
        "surface": hex_of(surface),
        "text": hex_of(readable_text),
        "error": hex_of(error),
        "on-primary": hex_of(on(primary)),
        "link": hex_of(readable(primary, (surface,), TEXT_CONTRAST)),
        "text-muted": hex_of(readable(mix(readable_text, surface, 1 - MUTED_SHARE),
                                      (surface,), TEXT_CONTRAST)),
        "error-text": hex_of(readable(error, (surface,), TEXT_CONTRAST)),
        "border": hex_of(readable(mix(surface, readable_text, BORDER_SHARE),
                                  (surface, background), NON_TEXT_CONTRAST)),
        "focus": hex_of(readable(primary, (surface,), NON_TEXT_CONTRAST)),
        "text-on-background": hex_of(readable(mix(text, background, 1 - MUTED_SHARE),
                                              (background,), TEXT_CONTRAST)),
    })
