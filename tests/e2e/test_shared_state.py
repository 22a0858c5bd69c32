"""Several confidp processes sharing one real Redis: replicas behind a load balancer, races
for one code or refresh token, Redis lost and back, confidp restarted mid-flow, workers."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.flow import (
    VERIFIER,
    authorize_url,
    location,
    query_of,
    seed_params,
    submit_consent,
    submit_login,
)
from tests.e2e.test_authorize import example
from tests.support import (
    RedisServer,
    Server,
    free_port,
    running_server,
    sha,
    wait_until,
    write_tenant,
)

pytestmark = pytest.mark.e2e
CALLBACK = "http://127.0.0.1:9999/callback"


class Replicas:
    """Two servers, as two replicas behind one load balancer: both are addressed with the
    issuer's host (the first server's), as the balancer would forward it."""

    def __init__(self, first: Server, second: Server) -> None:
        self.first, self.second = first, second
        self.host = f"127.0.0.1:{first.port}"

    def client(self, server: Server) -> httpx.Client:
        return httpx.Client(base_url=server.base, headers={"Host": self.host},
                            follow_redirects=False, timeout=10)


@pytest.fixture
def shared(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
           redis_server: RedisServer) -> Iterator[Replicas]:
    port_a, port_b = free_port(), free_port()
    write_tenant(tenants_dir, "acme.yaml", example("acme.yaml", port_a))
    args = ("--store", redis_server.url)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port_a, args) as a, \
            running_server(tenants_dir, themes_dir, tmp_path / "state", port_b, args) as b:
        yield Replicas(a, b)


def code_via(client: httpx.Client, **params: str) -> str:
    after = location(client.get(authorize_url("/acme", seed_params(**params))))
    if after.startswith("/acme/login?"):
        after = location(submit_login(client, after, "alice", "wonderland"))
    if "/consent?" in after:
        after = location(submit_consent(client, after, "approve"))
    return query_of(after)["code"]


def redeem(client: httpx.Client, code: str) -> httpx.Response:
    return client.post("/acme/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER, "client_id": "portal-spa"})


def refresh(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/acme/token", data={"grant_type": "refresh_token",
                                            "refresh_token": token, "client_id": "portal-spa"})


def test_login_on_one_replica_redeem_and_refresh_on_the_other(shared: Replicas) -> None:
    with shared.client(shared.first) as a, shared.client(shared.second) as b:
        code = code_via(a)
        tokens = redeem(b, code).json()
        assert {"access_token", "id_token", "refresh_token"} <= set(tokens)
        assert b.get("/acme/userinfo", headers={
            "Authorization": f"Bearer {tokens['access_token']}"}).json()["sub"] == "alice"
        again = refresh(a, tokens["refresh_token"])
        assert again.status_code == 200
        # the session made on the first replica is known to the second
        b.cookies = a.cookies
        response = b.get(authorize_url("/acme", seed_params(prompt="none")))
        assert "code" in query_of(location(response))


def test_authorize_stores_nothing_and_every_key_is_in_its_tenants_namespace(
        shared: Replicas, redis_server: RedisServer) -> None:
    import redis

    keys = redis.Redis.from_url(redis_server.url)
    try:
        with shared.client(shared.first) as a, shared.client(shared.second) as b:
            before = set(keys.scan_iter("confidp:*"))
            logins = [location(a.get(authorize_url("/acme", seed_params())))
                      for _ in range(20)]
            assert set(keys.scan_iter("confidp:*")) == before  # anonymous requests: no state
            # sealed by one replica, continued on the other (they share the state directory)
            b.cookies = a.cookies
            consent = location(submit_login(b, logins[0], "alice", "wonderland"))
            a.cookies = b.cookies  # the session cookie set by the second replica
            code = query_of(location(submit_consent(a, consent, "approve")))["code"]
            used = {k.decode() for k in set(keys.scan_iter("confidp:*")) - before}
            assert sum(key.startswith("confidp:{acme}:pending_used:") for key in used) == 1
            assert redeem(b, code).status_code == 200
            # every record of the flow (session, consent, code, tokens) in acme's namespace,
            # whose hash tag keeps them in one Redis Cluster slot
            written = {k.decode() for k in keys.scan_iter("confidp:*")}
            kinds = {key.split(":")[2] for key in written}
            assert all(key.startswith("confidp:{acme}:") for key in written), written
            assert {"session", "consent", "code_used", "access", "refresh", "family"} <= kinds
    finally:
        keys.close()


def _race(calls: list) -> list[httpx.Response]:  # type: ignore[type-arg]
    results: list[httpx.Response] = []
    barrier = threading.Barrier(len(calls))

    def run(call) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        results.append(call())
    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return results


def test_concurrent_double_redemption_one_wins(shared: Replicas) -> None:
    with shared.client(shared.first) as a, shared.client(shared.second) as b:
        for _ in range(3):
            code = code_via(a)
            results = _race([lambda c=code: redeem(a, c), lambda c=code: redeem(b, c),
                             lambda c=code: redeem(a, c), lambda c=code: redeem(b, c)])
            assert sorted(r.status_code for r in results) == [200, 400, 400, 400]
        # one refresh token used on both replicas at once, within its reuse interval (30 s in
        # the example tenant): both succeed, with the same new refresh token
        tokens = redeem(b, code_via(a)).json()
        results = _race([lambda: refresh(a, tokens["refresh_token"]),
                         lambda: refresh(b, tokens["refresh_token"])])
        assert [r.status_code for r in results] == [200, 200]
        assert len({r.json()["refresh_token"] for r in results}) == 1
        successor = results[0].json()["refresh_token"]
        assert refresh(b, successor).status_code == 200
        # the successor used, the first token is reuse: the family is revoked
        assert refresh(a, tokens["refresh_token"]).status_code == 400
        assert refresh(b, successor).status_code == 400


def test_concurrent_refresh_without_a_reuse_interval_is_reuse(
        shared: Replicas, tenants_dir: Path) -> None:
    doc = example("acme.yaml", shared.first.port)
    doc["lifetimes"] = {**doc["lifetimes"], "refresh_token_reuse_interval": "0s"}
    data = write_tenant(tenants_dir, "acme.yaml", doc)
    for server in (shared.first, shared.second):
        wait_until(lambda s=server: s.status("acme").get("content_hash") == sha(data),
                   timeout=5)
    with shared.client(shared.first) as a, shared.client(shared.second) as b:
        tokens = redeem(b, code_via(a)).json()
        results = _race([lambda: refresh(a, tokens["refresh_token"]),
                         lambda: refresh(b, tokens["refresh_token"])])
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200, 400]
        # the loser's attempt counts as reuse: the family is revoked, the winner's token too
        winner = next(r for r in results if r.status_code == 200).json()
        assert refresh(a, winner["refresh_token"]).status_code == 400


def test_redis_lost_and_back_without_restart(tmp_path: Path, tenants_dir: Path,
                                             themes_dir: Path,
                                             redis_server: RedisServer) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", example("acme.yaml", port))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port,
                        ("--store", redis_server.url)) as server, \
            httpx.Client(base_url=server.base, follow_redirects=False, timeout=10) as client:
        code = code_via(client)
        redis_server.stop()
        assert client.get("/readyz").status_code == 503
        token = redeem(client, code)
        assert token.status_code == 503
        assert token.json()["error"] == "temporarily_unavailable"
        page = client.get(authorize_url("/acme", seed_params()),
                          headers={"Accept": "text/html"})
        assert page.status_code == 503 and "temporarily unavailable" in page.text
        assert client.get("/healthz").status_code == 200  # alive, just not ready
        redis_server.start()  # same port, empty: the code is gone, nothing half-written
        wait_until(lambda: client.get("/readyz").status_code == 200, timeout=10)
        assert redeem(client, code).status_code == 400
        tokens = redeem(client, code_via(client)).json()
        assert "access_token" in tokens


def test_restart_between_login_and_token_exchange(tmp_path: Path, tenants_dir: Path,
                                                  themes_dir: Path,
                                                  redis_server: RedisServer) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", example("acme.yaml", port))
    args = ("--store", redis_server.url)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False,
                      timeout=10) as client:
        with running_server(tenants_dir, themes_dir, tmp_path / "state", port, args):
            code = code_via(client)
            tokens = redeem(client, code_via(client)).json()
            # a sign-in request begun before the restart, its page opened after it
            with httpx.Client(base_url=client.base_url, follow_redirects=False) as other:
                login = location(other.get(authorize_url("/acme", seed_params())))
                other_cookies = other.cookies
        with running_server(tenants_dir, themes_dir, tmp_path / "state", port, args):
            assert redeem(client, code).status_code == 200
            assert refresh(client, tokens["refresh_token"]).status_code == 200
            response = client.get(authorize_url("/acme", seed_params(prompt="none")))
            assert "code" in query_of(location(response))  # the session survived
            with httpx.Client(base_url=client.base_url, follow_redirects=False,
                              cookies=other_cookies) as other:
                # alice consented before the restart: the login goes straight back with a code
                after = location(submit_login(other, login, "alice", "wonderland"))
                assert "code" in query_of(after)


def test_two_workers_on_redis(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
                              redis_server: RedisServer) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", example("acme.yaml", port))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port,
                        ("--store", redis_server.url, "--workers", "2")) as server, \
            httpx.Client(base_url=server.base, follow_redirects=False, timeout=10) as client:
        wait_until(lambda: server.log().count("serving 1 tenant(s)") == 2, timeout=30)
        for _ in range(3):  # new connections land on either worker
            with httpx.Client(base_url=server.base, follow_redirects=False) as fresh:
                code = code_via(fresh)
                assert redeem(client, code).status_code == 200
        write_tenant(tenants_dir, "acme.yaml", example("acme.yaml", port,
                                                       display_name="Edited"))
        wait_until(lambda: server.log().count("changed: display_name changed") == 2, timeout=5)

        # /metrics, from whichever worker answers, counts both workers' reloads (the request
        # and store metrics move with the scrapes themselves: not compared)
        def scrape() -> list[str]:
            with httpx.Client(base_url=server.ops_base) as fresh:
                return [line for line in fresh.get("/metrics").text.splitlines()
                        if line.startswith(("confidp_tenant", "confidp_reload"))
                        and "_created" not in line]
        scrapes = [scrape() for _ in range(6)]
        with httpx.Client(base_url=server.base) as public:  # not on the public listener
            assert public.get("/metrics").status_code == 404
        assert all(lines == scrapes[0] for lines in scrapes)
        assert 'confidp_tenant_reloads_total{outcome="added"} 2.0' in scrapes[0]
        assert 'confidp_tenant_reloads_total{outcome="changed"} 2.0' in scrapes[0]
        assert 'confidp_tenants{state="serving"} 1.0' in scrapes[0]


def serve(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    from tests.support import REPO

    return subprocess.run([sys.executable, "-m", "confidp.cli", "serve", "--tenants",
                           str(REPO / "tenants"), "--themes", str(REPO / "themes"),
                           "--state-dir", str(tmp_path / "state"), "--port",
                           str(free_port()), *args],
                          capture_output=True, text=True, timeout=60)


def test_memory_store_refuses_several_workers(tmp_path: Path) -> None:
    done = serve("--workers", "2", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "needs a shared store" in done.stderr and "--store redis://" in done.stderr


def test_unreachable_redis_at_start(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    done = serve("--store", url, tmp_path=tmp_path)
    assert done.returncode == 1
    assert f"the store {url} cannot be reached" in done.stderr
    assert time.monotonic() - started < 20
    secret = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    done = serve("--store", secret, tmp_path=tmp_path)
    assert done.returncode == 1
    assert "the store redis://***@127.0.0.1:" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_store_wait_retries_visibly(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
                                    redis_binary: str) -> None:
    redis = RedisServer()
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", example("acme.yaml", port))
    server = Server(tenants_dir, themes_dir, tmp_path / "state", port,
                    ("--store", redis.url, "--store-wait", "30"))
    try:
        wait_until(lambda: "waiting for the store" in server.log(), timeout=10)
        redis.start()
        server.wait_ready()
        assert server.get("/readyz").status_code == 200
    finally:
        server.stop()
        redis.stop()
