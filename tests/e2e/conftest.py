from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Server, free_port, running_server, tenant_doc, write_tenant


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def issuer(port: int) -> str:
    return f"http://127.0.0.1:{port}/acme"


@pytest.fixture
def server(tmp_path: Path, tenants_dir: Path, themes_dir: Path, port: int,
           issuer: str) -> Iterator[Server]:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(issuer))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as running:
        yield running
