"""Themes: Jinja2 templates and static files per theme, falling back to ``default``.

A theme is a directory under the themes directory with ``templates/`` and ``static/``; it may
override only some templates. Environments are cached per (theme, themes_version): when any
theme file changes, the reloader's themes_version changes and the next render rebuilds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

DEFAULT = "default"
REQUIRED_TEMPLATES = ("base.html", "login.html", "consent.html", "error.html",
                      "logged_out.html", "logout_confirm.html")


class ThemeError(Exception):
    pass


def check_default_theme(themes_dir: Path) -> None:
    """Raise ThemeError unless the default theme has every template the pages need."""
    templates = themes_dir / DEFAULT / "templates"
    missing = [name for name in REQUIRED_TEMPLATES if not (templates / name).is_file()]
    if missing:
        raise ThemeError(f"the default theme ({templates}) lacks {', '.join(missing)}")


class Themes:
    def __init__(self, themes_dir: Path) -> None:
        self.themes_dir = themes_dir
        self._environments: dict[str, tuple[str, jinja2.Environment]] = {}

    def environment(self, theme: str, version: str) -> jinja2.Environment:
        cached = self._environments.get(theme)
        if cached is not None and cached[0] == version:
            return cached[1]
        search = [self.themes_dir / theme / "templates"]
        if theme != DEFAULT:
            search.append(self.themes_dir / DEFAULT / "templates")
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(path) for path in search]),
            autoescape=True, auto_reload=False, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True)
        self._environments[theme] = (version, environment)
        return environment

    def render(self, theme: str, themes_version: str, template: str, **context: Any) -> str:
        return self.environment(theme, themes_version).get_template(template).render(**context)

    def static_file(self, theme: str, relative: str) -> Path | None:
        """The file under the theme's static/ (or default's), never outside it."""
        if not relative or relative.startswith("/") or "\\" in relative or "\0" in relative:
            return None
        for name in dict.fromkeys((theme, DEFAULT)):
            root = (self.themes_dir / name / "static").resolve()
            candidate = (root / relative).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        return None
