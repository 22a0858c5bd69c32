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
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import jinja2

DEFAULT = "default"
BUILTIN_DEFAULT = Path(__file__).resolve().parent / "default_theme"
REQUIRED_TEMPLATES = ("base.html", "login.html", "consent.html", "error.html",
                      "logged_out.html", "logout_confirm.html")


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


class Themes:
    def __init__(self, themes_dir: Path | None) -> None:
        self.themes_dir = themes_dir
        self._environments: dict[str, tuple[str, jinja2.Environment]] = {}

    def environment(self, theme: str, version: str) -> jinja2.Environment:
        cached = self._environments.get(theme)
        if cached is not None and cached[0] == version:
            return cached[1]
        search = [layer / "templates" for layer in layers(self.themes_dir, theme)]
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(path) for path in search]),
            autoescape=True, auto_reload=False, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True)
        self._environments[theme] = (version, environment)
        return environment

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
