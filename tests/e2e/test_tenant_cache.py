"""The tenant cache against the real server: a restart on the same state directory serves the
unchanged tenants from it, validates the edited ones, and signs in as before; ``/status`` says
what it did; ``--no-tenant-cache`` leaves no cache behind."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.flow import authorize_url, location, query_of, seed_params, submit_login
from tests.support import (
    free_port,
    running_server,
    sha,
    tenant_doc,
    wait_until,
    write_tenant,
)

pytestmark = pytest.mark.e2e


def test_a_restart_serves_unchanged_tenants_from_the_cache(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    for name in ("acme", "globex", "initech"):
        write_tenant(tenants_dir, f"{name}.yaml", tenant_doc(f"{base}/{name}"))
    state = tmp_path / "state"
    with running_server(tenants_dir, themes_dir, state, port) as server:
        first = wait_until(lambda: (server.ops_get("/status").json()["tenant_cache"]
                                    if server.ops_get("/status").json()["tenant_cache"]
                                    ["saved_at"] else None), timeout=30)
        assert first["saved_entries"] == 3
        assert (first["served_from_cache"], first["validated"]) == (0, 3)
        assert first["file"].startswith("tenants-") and "/" not in first["file"]
    edited = write_tenant(tenants_dir, "globex.yaml",
                          tenant_doc(f"{base}/globex", display_name="Globex, edited"))
    with running_server(tenants_dir, themes_dir, state, port) as server:
        status = server.ops_get("/status").json()
        cache = status["tenant_cache"]
        assert (cache["entries_read"], cache["served_from_cache"], cache["validated"]) == \
            (3, 2, 1)
        assert cache["not_used"] is None and cache["write_problem"] is None
        assert status["serving"] == 3
        assert server.status("globex")["content_hash"] == sha(edited)
        # a tenant served from the cache answers as a validated one does
        discovery = server.get("/acme/.well-known/openid-configuration")
        assert discovery.status_code == 200 and discovery.json()["issuer"] == f"{base}/acme"
        with httpx.Client(base_url=base, timeout=5) as browser:
            login = location(browser.get(authorize_url("/acme", seed_params(
                scope="openid profile email"))))
            redirect = location(submit_login(browser, login, "alice", "wonderland"))
        assert redirect.startswith("http://127.0.0.1:9999/callback?")
        assert query_of(redirect)["state"] == "9d4f8dd1" and query_of(redirect)["code"]
        # the edited file made the cache stale: it is written again
        wait_until(lambda: server.ops_get("/status").json()["tenant_cache"]["saved_at"],
                   timeout=30)


def test_a_cache_from_another_server_key_is_not_used(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    state = tmp_path / "state"
    with running_server(tenants_dir, themes_dir, state, port) as server:
        wait_until(lambda: server.ops_get("/status").json()["tenant_cache"]["saved_at"],
                   timeout=30)
    (state / "server.key").unlink()  # a new key is made at the next start
    with running_server(tenants_dir, themes_dir, state, port) as server:
        cache = server.ops_get("/status").json()["tenant_cache"]
        assert (cache["served_from_cache"], cache["validated"]) == (0, 1)
        assert cache["not_used"] == (
            "the tenant cache was not used: its authentication code does not match (written "
            "under another server.key, or changed since)")
        assert server.status("acme")["serving"] is True
        assert "the tenant cache was not used" in server.log()


def test_no_tenant_cache_writes_nothing(tenants_dir: Path, themes_dir: Path,
                                        tmp_path: Path) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    state = tmp_path / "state"
    with running_server(tenants_dir, themes_dir, state, port,
                        extra_args=("--no-tenant-cache",)) as server:
        assert server.ops_get("/status").json()["tenant_cache"] is None
        assert server.status("acme")["serving"] is True
    assert not (state / "cache").exists()
