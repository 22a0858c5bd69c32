"""{issuer}/theme.css: the tenant's colours over its theme's (``theme.json``), as the CSS
variables the theme's stylesheet uses, each text colour kept readable (``confidp.palette``),
with a ``prefers-color-scheme: dark`` block when there is a dark scheme.

The light scheme is the theme's ``colors`` with the tenant's ``theme.colors`` over them. The
dark scheme is the theme's ``dark`` colours (or, for a theme without a dark variant, its
light ones) with the tenant's ``primary`` and then its ``theme.colors.dark`` over them; it is
written only when it differs from the light scheme.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from confidp.model import Tenant
from confidp.palette import derived, luminance, parse
from confidp.themes import ThemePalette


def schemes(tenant: Tenant, palette: ThemePalette) -> tuple[dict[str, str], dict[str, str]]:
    """(light, dark) complete palettes for the tenant."""
    light = {**palette.colors, **tenant.theme.colors}
    dark = dict(palette.dark or palette.colors)
    if "primary" in tenant.theme.colors:
        dark["primary"] = tenant.theme.colors["primary"]
    dark.update(tenant.theme.dark_colors)
    if palette.dark is None and not tenant.theme.dark_colors:
        dark = light
    return light, dark


def _block(variables: Mapping[str, str], scheme: str, indent: str = "") -> str:
    lines = "".join(f"{indent}  --{name}: {value};\n" for name, value in variables.items())
    return f"{indent}:root {{\n{indent}  color-scheme: {scheme};\n{lines}{indent}}}\n"


def _scheme_of(colors: Mapping[str, str]) -> str:
    return "dark" if luminance(parse(colors["surface"])) < 0.18 else "light"


def theme_css(tenant: Tenant, palette: ThemePalette) -> str:
    light, dark = schemes(tenant, palette)
    css = _block(derived(light), _scheme_of(light))
    if dark != light:
        css += ("@media (prefers-color-scheme: dark) {\n"
                f"{_block(derived(dark), _scheme_of(dark), '  ')}}}\n")
    return css


def theme_css_version(tenant: Tenant, themes_version: str) -> str:
    """Changes with the tenant's colours and with any theme file (its theme.json)."""
    colors = ";".join(f"{k}={v}" for k, v in sorted(tenant.theme.colors.items()))
    dark = ";".join(f"{k}={v}" for k, v in sorted(tenant.theme.dark_colors.items()))
    return hashlib.sha256(f"{colors}|{dark}|{themes_version}".encode()).hexdigest()[:12]
