"""SIGTERM (podman stop, a Kubernetes rollout) drains: the listener closes at once, so new
connections are refused, while a request already in flight is answered in full; then the
process exits 0."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path
from urllib.parse import urlencode

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
from tests.support import free_port, running_server, tenant_doc, wait_until, write_tenant

pytestmark = pytest.mark.e2e
CALLBACK = "http://127.0.0.1:9999/callback"


def _code(base: str) -> str:
    with httpx.Client(base_url=base, follow_redirects=False) as browser:
        login = location(browser.get(authorize_url("/acme", seed_params(scope="openid"))))
        after = location(submit_login(browser, login, "alice", "wonderland"))
        if "/consent?" in after:
            after = location(submit_consent(browser, after, "approve"))
        return query_of(after)["code"]


def _refused(port: int) -> bool:
    """Whether a new connection is refused. A reset is not yet an answer: a connection that
    reached the listener's queue just before it closed is reset, and the next is refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def test_sigterm_finishes_the_request_in_flight_and_refuses_new_ones(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server:
        code = _code(server.base)
        body = urlencode({"grant_type": "authorization_code", "code": code,
                          "redirect_uri": CALLBACK, "client_id": "portal-spa",
                          "code_verifier": VERIFIER}).encode()
        request = (f"POST /acme/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(request + body[:20])
            # "100 Continue" says the server has parsed the headers: the request is in flight
            assert slow.recv(100).startswith(b"HTTP/1.1 100 Continue")
            server.process.send_signal(signal.SIGTERM)
            wait_until(lambda: _refused(port), timeout=5)
            assert server.process.poll() is None  # still draining the request in flight
            slow.sendall(body[20:])  # the rest of the body comes after the listener closed
            status, _, answer = _read_response(slow)
        assert status == 200, answer
        tokens = json.loads(answer)
        assert tokens["token_type"] == "Bearer" and tokens["access_token"]
        assert server.process.wait(timeout=20) == 0
        assert _refused(port)
        assert "Traceback" not in server.log()


def test_sigterm_ends_keep_alive_so_the_process_exits_when_requests_are_done(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    """A load balancer keeps connections to each replica open between requests. A request in
    flight at SIGTERM is answered with ``Connection: close`` and its connection closed after
    it: otherwise the connection goes back to waiting for the next request, and the process
    waits for it until the 15 s drain runs out (found with HAProxy: stops of 8 to 16 s where
    the requests in flight took well under a second)."""
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server:
        code = _code(server.base)
        body = urlencode({"grant_type": "authorization_code", "code": code,
                          "redirect_uri": CALLBACK, "client_id": "portal-spa",
                          "code_verifier": VERIFIER}).encode()
        request = (f"POST /acme/token HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as kept:
            kept.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            status, headers, _ = _read_response(kept)
            assert (status, headers["connection"]) == (200, "keep-alive")
            kept.sendall(request + body[:20])  # a second request on the kept connection
            assert kept.recv(100).startswith(b"HTTP/1.1 100 Continue")
            server.process.send_signal(signal.SIGTERM)
            wait_until(lambda: _refused(port), timeout=5)
            kept.sendall(body[20:])
            status, headers, answer = _read_response(kept)
            assert status == 200, answer
            assert headers["connection"] == "close"
            kept.settimeout(10)  # less than the 15 s drain: closed by the server, not by it
            assert kept.recv(100) == b""
        assert server.process.wait(timeout=10) == 0
        assert "Traceback" not in server.log()


def test_shutdown_delay_reports_unready_and_keeps_serving_before_it_stops(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    """``--shutdown-delay``: at SIGTERM /readyz answers 503 at once, on both listeners, so a
    load balancer's health check takes the replica out of rotation while it still serves
    whatever reaches it (each response closing its connection); only after the delay are the
    listeners closed and the requests in flight drained."""
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port,
                        ("--shutdown-delay", "3")) as server:
        server.process.send_signal(signal.SIGTERM)

        def unready() -> bool:
            with httpx.Client(base_url=server.ops_base) as fresh:
                return fresh.get("/readyz").status_code == 503
        wait_until(unready, timeout=2)
        for base in (server.base, server.ops_base):
            with httpx.Client(base_url=base) as fresh:
                response = fresh.get("/readyz")
                assert response.status_code == 503
                assert response.json() == {"status": "stopping"}
                assert response.headers["connection"] == "close"
        assert not _refused(port)  # still accepting: whatever still arrives is served
        with httpx.Client(base_url=server.base) as fresh:
            served = fresh.get("/acme/.well-known/openid-configuration")
        assert served.status_code == 200 and served.headers["connection"] == "close"
        assert server.process.poll() is None
        wait_until(lambda: _refused(port), timeout=10)  # then the listeners close
        assert server.process.wait(timeout=20) == 0
        assert "stopping in 3 s" in server.log()
        assert "Traceback" not in server.log()
