"""Theme lookup: the tenant's theme, then THEMES/default, then the built-in default theme."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from confidp import themes
from confidp.themes import BUILTIN_DEFAULT, REQUIRED_TEMPLATES, Themes, check_default_theme, scan
from tests.support import REPO


def origin(catalogue: Themes, theme: str, template: str) -> Path:
    found = catalogue.environment(theme, "v1").get_template(template).filename
    assert found is not None
    return Path(found)


@pytest.fixture
def extra_only(tmp_path: Path) -> Path:
    """A themes directory like the repository's: extra themes, no default."""
    target = tmp_path / "themes"
    shutil.copytree(REPO / "themes", target)
    assert not (target / "default").exists()
    return target


def test_the_package_carries_every_required_template() -> None:
    for name in REQUIRED_TEMPLATES:
        assert (BUILTIN_DEFAULT / "templates" / name).is_file()
    assert (BUILTIN_DEFAULT / "static" / "style.css").is_file()
    check_default_theme(None)


def test_without_a_themes_directory_everything_is_built_in() -> None:
    catalogue = Themes(None)
    assert origin(catalogue, "default", "login.html") == BUILTIN_DEFAULT / "templates" / \
        "login.html"
    assert catalogue.static_file("default", "style.css") == \
        (BUILTIN_DEFAULT / "static" / "style.css").resolve()
    assert scan(None)[0] == frozenset({"default"})


def test_extra_themes_fall_back_to_the_built_in_default(extra_only: Path) -> None:
    catalogue = Themes(extra_only)
    assert origin(catalogue, "midnight", "base.html") == extra_only / "midnight" / "templates" / \
        "base.html"
    assert origin(catalogue, "midnight", "login.html") == BUILTIN_DEFAULT / "templates" / \
        "login.html"
    assert catalogue.static_file("midnight", "style.css") == \
        (extra_only / "midnight" / "static" / "style.css").resolve()
    assert scan(extra_only)[0] == frozenset({"default", "midnight"})
    check_default_theme(extra_only)


def test_a_default_in_the_themes_directory_overrides_file_by_file(extra_only: Path) -> None:
    override = extra_only / "default"
    (override / "templates").mkdir(parents=True)
    (override / "static").mkdir()
    (override / "templates" / "login.html").write_text("{% extends 'base.html' %}")
    (override / "static" / "logo.svg").write_text("<svg/>")
    catalogue = Themes(extra_only)
    assert origin(catalogue, "default", "login.html") == override / "templates" / "login.html"
    assert origin(catalogue, "default", "base.html") == BUILTIN_DEFAULT / "templates" / \
        "base.html"
    # another theme that lacks a file gets the override before the built-in one
    assert origin(catalogue, "midnight", "login.html") == override / "templates" / "login.html"
    assert catalogue.static_file("midnight", "logo.svg") == (override / "static" /
                                                             "logo.svg").resolve()
    assert catalogue.static_file("default", "style.css") == \
        (BUILTIN_DEFAULT / "static" / "style.css").resolve()


def test_static_files_never_leave_a_static_directory(extra_only: Path) -> None:
    catalogue = Themes(extra_only)
    for relative in ("../templates/base.html", "../../midnight/templates/base.html",
                     "/etc/passwd", "a\\b", "", "x\0y"):
        assert catalogue.static_file("midnight", relative) is None
        assert catalogue.static_file("default", relative) is None


def test_the_version_follows_the_themes_directory(extra_only: Path) -> None:
    names, before = scan(extra_only)
    css = extra_only / "midnight" / "static" / "style.css"
    css.write_text(css.read_text() + "\n/* edited */\n")
    names_after, after = scan(extra_only)
    assert names_after == names and after != before
    assert scan(None)[1] != ""  # the built-in theme is versioned too


def test_a_broken_installation_is_reported(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(themes, "BUILTIN_DEFAULT", tmp_path / "missing")
    with pytest.raises(themes.ThemeError, match=r"lacks base\.html, login\.html"):
        check_default_theme(None)
