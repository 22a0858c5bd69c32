from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import REPO


@pytest.fixture
def themes_dir(tmp_path: Path) -> Path:
    """A copy of the repository's themes, so tests can change it."""
    target = tmp_path / "themes"
    shutil.copytree(REPO / "themes", target)
    return target


@pytest.fixture
def tenants_dir(tmp_path: Path) -> Path:
    target = tmp_path / "tenants"
    target.mkdir()
    return target
