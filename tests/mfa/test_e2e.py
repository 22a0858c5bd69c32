"""Against the real server process: enrolments survive a restart (the default memory store,
and Redis), and the operator commands work against the running server's state (through the
operations listener with the memory store; directly with Redis)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from tests.e2e.flow import authorize_url, hidden_fields, location, seed_params
from tests.e2e.test_tokens import code_form
from tests.mfa.flow import code_of, path_of, recovery_codes_of, secret_of
from tests.mfa.test_totp_signin import doc
from tests.support import RedisServer, Server, free_port, running_server, write_tenant

pytestmark = pytest.mark.e2e


def _issuer_doc(port: int) -> dict[str, Any]:
    return {**doc(second_factors={"required": True}), "issuer": f"http://127.0.0.1:{port}/acme"}


def _login(server: Server, client: httpx.Client, username: str = "alice") -> str:
    start = client.get(authorize_url("/acme", seed_params(
        scope="openid profile offline_access")))
    login_url = location(start)
    page = client.get(login_url)
    response = client.post(path_of(login_url), data={
        **hidden_fields(page.text), "username": username, "password": "wonderland"})
    return location(response)


def _code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time(), counter_offset=steps_ahead)


def _enrol(server: Server) -> tuple[str, str]:
    """A TOTP enrolment in a fresh browser: (secret, the redirect with the code)."""
    with httpx.Client(base_url=server.base, timeout=10) as client:
        enrol_url = _login(server, client)
        assert path_of(enrol_url) == "/acme/factor/totp/enrol"
        page = client.get(enrol_url)
        secret = secret_of(page.text)
        shown_url = location(client.post(path_of(enrol_url), data={
            **hidden_fields(page.text), "code": _code(secret)}))
        shown = client.get(shown_url)
        assert len(recovery_codes_of(shown.text)) == 10
        back = client.post(path_of(shown_url), data=hidden_fields(shown.text))
        return secret, location(back)


def _next_step(server: Server, client: httpx.Client | None = None) -> str:
    if client is not None:
        return path_of(_login(server, client))
    with httpx.Client(base_url=server.base, timeout=10) as fresh:
        return path_of(_login(server, fresh))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "confidp.cli", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def setup(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> Iterator[tuple[Path, int]]:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", _issuer_doc(port))
    yield tmp_path / "state", port


def test_memory_store_restart_keeps_enrolments_and_the_cli_works(
        setup: tuple[Path, int], tenants_dir: Path, themes_dir: Path) -> None:
    state, port = setup
    with running_server(tenants_dir, themes_dir, state, port) as server:
        secret, _ = _enrol(server)
    assert (state / "enrolment.key").exists() and (state / "ops.token").exists()
    assert list((state / "enrolments" / "acme").glob("*.enc"))
    with running_server(tenants_dir, themes_dir, state, port) as server:
        # restarted: the factor is still asked for, and works
        client = httpx.Client(base_url=server.base, timeout=10)
        code_url = _login(server, client)
        assert path_of(code_url) == "/acme/factor/code"
        page = client.get(code_url)
        done = client.post(path_of(code_url), data={**hidden_fields(page.text),
                                                    "code": _code(secret, 1)})
        redirect = location(done)
        issued = client.post("/acme/token", data=code_form(code_of(redirect))).json()
        assert "refresh_token" in issued
        ops = ("--ops-host", "127.0.0.1", "--ops-port", str(server.ops_port),
               "--state-dir", str(state))
        # the admin endpoints: only on the operations listener, only with the token
        assert server.client.post("/admin/mfa/reset", json={}).status_code == 404
        refused = server.ops.post("/admin/mfa/reset", json={"tenant": "acme",
                                                            "username": "alice"})
        assert refused.status_code == 401
        unknown = _cli("mfa", "reset", "acme", "nobody", *ops)
        assert unknown.returncode == 2 and "no user 'nobody'" in unknown.stderr
        revoked = _cli("sessions", "revoke", "acme", "alice", *ops)
        assert revoked.returncode == 0, revoked.stderr
        assert "1 session(s) ended, 1 refresh-token family(ies) revoked" in revoked.stdout
        refreshed = client.post("/acme/token", data={
            "grant_type": "refresh_token", "refresh_token": issued["refresh_token"],
            "client_id": "portal-spa"})
        assert refreshed.status_code == 400
        assert path_of(location(client.get(authorize_url("/acme", seed_params(
            scope="openid"))))) == "/acme/login"  # the session ended
        reset = _cli("mfa", "reset", "acme", "alice", *ops)
        assert reset.returncode == 0, reset.stderr
        assert "removed" in reset.stdout
        assert _next_step(server) == \
            "/acme/factor/totp/enrol"  # required, and none left: set one up again
        log = server.log()
        assert "factor.removed" in log and "\"factor\":\"all\"" in log  # the audit event
        assert "sessions.revoked" in log
        client.close()
    stopped = _cli("mfa", "reset", "acme", "alice", "--ops-port", str(free_port()),
                   "--state-dir", str(state))
    assert stopped.returncode == 1 and "cannot be reached" in stopped.stderr


def test_redis_store_restart_keeps_enrolments_and_the_cli_works_directly(
        setup: tuple[Path, int], tenants_dir: Path, themes_dir: Path,
        redis_server: RedisServer) -> None:
    state, port = setup
    store = ("--store", redis_server.url)
    with running_server(tenants_dir, themes_dir, state, port, store) as server:
        secret, _ = _enrol(server)
    assert not (state / "enrolments").exists()  # in Redis, not in files
    with running_server(tenants_dir, themes_dir, state, port, store) as server:
        client = httpx.Client(base_url=server.base, timeout=10)
        assert _next_step(server, client) == "/acme/factor/code"
        direct = ("--store", redis_server.url, "--state-dir", str(state),
                  "--tenants", str(tenants_dir))
        reset = _cli("mfa", "reset", "acme", "alice", *direct)
        assert reset.returncode == 0, reset.stderr
        assert _next_step(server) == \
            "/acme/factor/totp/enrol"
        client.close()
    assert secret
