from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from confidp.themes import BUILTIN_DEFAULT, DEFAULT
from tests.support import REPO, RedisCluster, RedisSentinel, RedisServer


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


@pytest.fixture(scope="session")
def redis_ha_binaries(redis_binary: str) -> None:
    """redis-cli and redis-sentinel as well, for the Cluster and Sentinel tests."""
    missing = [name for name in ("redis-cli", "redis-sentinel") if shutil.which(name) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing in CI: .ci/run must install it")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install redis-tools "
                    "redis-sentinel): Redis Cluster and Sentinel tests NOT run")


@pytest.fixture(scope="session")
def redis_cluster_session(tmp_path_factory: pytest.TempPathFactory,
                          redis_ha_binaries: None) -> Iterator[RedisCluster]:
    """One real Redis Cluster (3 masters, 3 replicas) for the whole run: started once (a few
    seconds), emptied and checked healthy before each test that uses it."""
    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_cluster(redis_cluster_session: RedisCluster) -> RedisCluster:
    redis_cluster_session.fresh()
    return redis_cluster_session


@pytest.fixture(scope="session")
def redis_sentinel_session(tmp_path_factory: pytest.TempPathFactory,
                           redis_ha_binaries: None) -> Iterator[RedisSentinel]:
    """One real Sentinel set (a master, a replica, three sentinels) for the whole run."""
    sentinel = RedisSentinel(tmp_path_factory.mktemp("redis-sentinel"))
    try:
        sentinel.start()
        yield sentinel
    finally:
        sentinel.stop()


@pytest.fixture
def redis_sentinel(redis_sentinel_session: RedisSentinel) -> RedisSentinel:
    redis_sentinel_session.fresh()
    return redis_sentinel_session
