from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.inprocess import InProcess, serving
from tests.support import REPO, write_tenant

PORT = 8000  # the in-process issuers: http://127.0.0.1:8000/<tenant> (tests.inprocess.HOST)


def example(name: str, port: int = PORT, **changes: object) -> dict[str, object]:
    """A repository example tenant, at the in-process host."""
    doc = yaml.safe_load((REPO / "tenants" / name).read_text())
    doc["issuer"] = doc["issuer"].replace("localhost:8000", f"127.0.0.1:{port}")
    doc.update(changes)
    return doc


@pytest.fixture
async def idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> AsyncIterator[InProcess]:
    """acme and globex, as tests/e2e/test_authorize.py serves them, in-process."""
    write_tenant(tenants_dir, "acme.yaml", example(
        "acme.yaml", login_throttle={"max_failures_per_user": 3, "max_failures_per_ip": 5,
                                     "window": "10m"}))
    globex = example("globex.yaml")
    globex["applications"][0]["redirect_uris"].append("http://127.0.0.1:9999/callback?tenant=gx")  # type: ignore[index]
    globex["applications"][0]["require_pkce"] = False  # type: ignore[index]
    write_tenant(tenants_dir, "globex.yaml", globex)
    async with serving(tenants_dir, themes_dir, tmp_path / "state") as server:
        yield server


@pytest.fixture
def browser(idp: InProcess) -> httpx.AsyncClient:
    return idp.client
