from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from confidp.themes import BUILTIN_DEFAULT, DEFAULT
from tests.support import REPO, RedisServer


@pytest.fixture
def themes_dir(tmp_path: Path) -> Path:
    """A copy of the repository's themes directory (the extra themes), plus a copy of the
    built-in default theme as its ``default`` override, so tests can change any theme file
    without touching the package's own."""
    target = tmp_path / "themes"
    shutil.copytree(REPO / "themes", target)
    shutil.copytree(BUILTIN_DEFAULT, target / DEFAULT)
    return target


@pytest.fixture
def tenants_dir(tmp_path: Path) -> Path:
    target = tmp_path / "tenants"
    target.mkdir()
    return target


@pytest.fixture(scope="session")
def redis_binary() -> str:
    """redis-server must exist in CI; elsewhere its tests skip, loudly."""
    found = shutil.which("redis-server")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing in CI: .ci/run must install it")
        pytest.skip("redis-server is not installed (apt-get install redis-server): "
                    "Redis tests NOT run")
    return found


@pytest.fixture
def redis_server(redis_binary: str) -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()
