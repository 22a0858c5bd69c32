"""Themes: Jinja2 templates and static files per theme, falling back to ``default``.

The ``default`` theme ships inside the package (``confidp/default_theme``), so an installed
wheel serves with no themes directory at all. A themes directory is optional and holds the
other themes; it may also hold a ``default`` directory that overrides the built-in one file by
file. A file is looked up in these layers, the first that has it wins:

1. ``THEMES/<theme>/`` (the tenant's theme, when it is not ``default``),
2. ``THEMES/default/`` (when the themes directory has one),
3. the built-in default theme.

A theme may therefore override only some templates or static files. Environments are cached
per (theme, themes_version): when any theme file changes, ``scan``'s version changes and the
next render rebuilds.

A theme's colours are in its ``theme.json`` (looked up in the same layers): ``colors``, the
five colours of ``confidp.palette``, and optionally ``dark``, the five for
``prefers-color-scheme: dark``. The stylesheets use only the CSS variables that
``{issuer}/theme.css`` derives from them and the tenant's colours (``confidp.web.branding``).

Templates are rendered with Jinja2's i18n extension bound to the page's translator
(``confidp.i18n.jinja``): every render gets ``i18n``, ``lang`` and ``dir``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2

from confidp.i18n import jinja as i18n_jinja
from confidp.palette import COLOR_NAMES, is_color

DEFAULT = "default"
BUILTIN_DEFAULT = Path(__file__).resolve().parent / "default_theme"
REQUIRED_TEMPLATES = ("base.html", "login.html", "consent.html", "error.html",
                      "passkey_factor.html", "passkeys.html",
                      "logged_out.html", "logout_confirm.html", "not_found.html")
PALETTE_FILE = "theme.json"
log = logging.getLogger("confidp.themes")


class ThemeError(Exception):
    pass


def layers(themes_dir: Path | None, theme: str) -> list[Path]:
    """The directories a theme's files are looked up in, first match wins."""
    found: list[Path] = []
    if themes_dir is not None:
        found.extend(themes_dir / name for name in dict.fromkeys((theme, DEFAULT)))
    found.append(BUILTIN_DEFAULT)
    return found


def watched_dirs(themes_dir: Path | None) -> list[Path]:
    """The directories whose changes reload the themes."""
    return [BUILTIN_DEFAULT] if themes_dir is None else [themes_dir, BUILTIN_DEFAULT]


def check_default_theme(themes_dir: Path | None) -> None:
    """Raise ThemeError unless every template the pages need is found for ``default`` (the
    built-in theme has them all: this fails only for a broken installation)."""
    missing = [name for name in REQUIRED_TEMPLATES
               if not any((layer / "templates" / name).is_file()
                          for layer in layers(themes_dir, DEFAULT))]
    if missing:
        raise ThemeError(f"the default theme ({BUILTIN_DEFAULT / 'templates'}) lacks "
                         f"{', '.join(missing)}: reinstall confidp")


def scan(themes_dir: Path | None) -> tuple[frozenset[str], str]:
    """The theme names (``default`` always among them), and a version that changes whenever
    any file of any theme, the built-in one included, changes."""
    names = {DEFAULT}
    digest = hashlib.sha256()
    roots = [str(BUILTIN_DEFAULT)]
    if themes_dir is not None:
        try:
            entries = sorted(os.scandir(themes_dir), key=lambda e: e.name)
        except OSError:
            entries = []
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            names.add(entry.name)
            roots.append(entry.path)
    for top in roots:
        for root, dirs, files in os.walk(top, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            for name in sorted(files):
                path = os.path.join(root, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
    return frozenset(names), digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ThemePalette:
    """A theme's colours (``theme.json``): ``colors`` for the light (or only) scheme, ``dark``
    for ``prefers-color-scheme: dark`` when the theme has a dark variant."""

    colors: Mapping[str, str]
    dark: Mapping[str, str] | None


def _palette_problem(data: Any) -> str | None:
    if not isinstance(data, dict) or not set(data) <= {"colors", "dark"} or "colors" not in data:
        return "must be an object with 'colors' and, optionally, 'dark'"
    for key, colors in data.items():
        if not isinstance(colors, dict) or set(colors) != set(COLOR_NAMES):
            return f"{key!r} must give exactly {', '.join(COLOR_NAMES)}"
        for name, value in colors.items():
            if not is_color(value):
                return f"{key}.{name} must be a hex colour such as #0b5fff"
    return None


def read_palette(path: Path) -> ThemePalette:
    """Raises ThemeError for a file that cannot be read or is not a palette."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ThemeError(f"{path}: {exc}") from None
    problem = _palette_problem(data)
    if problem:
        raise ThemeError(f"{path}: {problem}")
    dark = data.get("dark")
    return ThemePalette(MappingProxyType(dict(data["colors"])),
                        MappingProxyType(dict(dark)) if dark else None)


class Themes:
    def __init__(self, themes_dir: Path | None) -> None:
        self.themes_dir = themes_dir
        self._environments: dict[str, tuple[str, jinja2.Environment]] = {}
        self._palettes: dict[str, tuple[str, ThemePalette]] = {}

    def environment(self, theme: str, version: str) -> jinja2.Environment:
        cached = self._environments.get(theme)
        if cached is not None and cached[0] == version:
            return cached[1]
        search = [layer / "templates" for layer in layers(self.themes_dir, theme)]
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(path) for path in search]),
            autoescape=True, auto_reload=False, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, extensions=i18n_jinja.EXTENSIONS,
            finalize=i18n_jinja.finalize)
        i18n_jinja.install(environment)
        self._environments[theme] = (version, environment)
        return environment

    def palette(self, theme: str, version: str) -> ThemePalette:
        """The first layer's ``theme.json``; a broken one is logged and the built-in default
        theme's palette used instead (the theme's pages stay readable)."""
        cached = self._palettes.get(theme)
        if cached is not None and cached[0] == version:
            return cached[1]
        builtin = BUILTIN_DEFAULT / PALETTE_FILE
        path = next((layer / PALETTE_FILE for layer in layers(self.themes_dir, theme)
                     if (layer / PALETTE_FILE).is_file()), builtin)
        try:
            palette = read_palette(path)
        except ThemeError as exc:
            log.error("theme %s: %s; using the built-in default colours", theme, exc)
            palette = read_palette(builtin)
        self._palettes[theme] = (version, palette)
        return palette

    def render(self, theme: str, themes_version: str, template: str, **context: Any) -> str:
        return self.environment(theme, themes_version).get_template(template).render(**context)

    def static_file(self, theme: str, relative: str) -> Path | None:
        """The file under the first layer's static/ that has it, never outside it."""
        if not relative or relative.startswith("/") or "\\" in relative or "\0" in relative:
            return None
        for layer in layers(self.themes_dir, theme):
            root = (layer / "static").resolve()
            candidate = (root / relative).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        return None
