"""Requests no browser or library sends, over raw sockets to the real server: every one is
answered, with a 4xx in confidp's own format, never a 500, and never fills the log."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.raw_http import RawResponse, exchange, request
from tests.support import REPO, Server, free_port, running_server, tenant_doc, write_tenant

pytestmark = pytest.mark.e2e

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                    "referrer-policy": "no-referrer"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hostile")
    tenants = root / "tenants"
    tenants.mkdir()
    port = free_port()
    write_tenant(tenants, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    # short timeouts (Sanic's own settings), so that a 408 takes a second or two
    with running_server(tenants, REPO / "themes", root / "state", port,
                        env={"SANIC_REQUEST_TIMEOUT": "1",
                             "SANIC_RESPONSE_TIMEOUT": "2"}) as running:
        yield running


def log_lines(server: Server) -> list[str]:
    return server.log().splitlines()


def exchange_logged(server: Server, data: bytes, port: int | None = None,
                    ) -> tuple[RawResponse, list[str]]:
    """The response, and the lines the server logged meanwhile (written before it answers
    or closes: the log is flushed when the client sees the response)."""
    before = len(log_lines(server))
    response = exchange(port or server.port, data)
    return response, log_lines(server)[before:]


def assert_ours(response: RawResponse, status: int) -> None:
    assert response.status == status, response.raw[:300]
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.raw[:300])
    assert response.headers.get("cache-control") == "no-store"


CONTROL_BYTES = [*range(0x00, 0x20), 0x7F]


@pytest.mark.parametrize("byte", [*CONTROL_BYTES, 0x20, 0x80, 0xFF], ids=hex)
@pytest.mark.parametrize("where", ["path", "query"])
def test_a_raw_control_byte_in_the_request_target_is_a_400(server: Server, byte: int,
                                                            where: str) -> None:
    target = (b"/acme/author" + bytes([byte]) + b"ize" if where == "path"
              else b"/acme/authorize?client_id=a" + bytes([byte]) + b"b")
    response, logged = exchange_logged(server, request(b"GET", target))
    assert_ours(response, 400)
    assert len(logged) <= 1 and not any("Traceback" in line for line in logged), logged


MALFORMED_HEADS = {
    "control byte in a header name": b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-\x01: y\r\n\r\n",
    "NUL in a header value": b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: y\x00z\r\n\r\n",
    "control byte in a header value": b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: \x01\r\n\r\n",
    "DEL in a header value": b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: y\x7f\r\n\r\n",
    "bare CR in a header value": b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: y\rz\r\n\r\n",
    "bare LF in a header value": b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: y\nz\r\n\r\n",
    "space before the colon": b"POST /acme/token HTTP/1.1\r\nHost: a\r\n"
                              b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "obs-fold": b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: y\r\n folded\r\n\r\n",
    "no colon": b"GET /healthz HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n",
    "HTTP/9.9": b"GET /healthz HTTP/9.9\r\nHost: a\r\n\r\n",
    "lower-case version": b"GET /healthz http/1.1\r\nHost: a\r\n\r\n",
    "no version": b"GET /healthz\r\nHost: a\r\n\r\n",
    "two spaces": b"GET  /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
    "control byte in the method": b"G\x01T /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
    "separator in the method": b"GE(T /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
    "no Host in HTTP/1.1": b"GET /healthz HTTP/1.1\r\n\r\n",
    "two Host headers": b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "undecodable Host": b"GET /healthz HTTP/1.1\r\nHost: \xff\r\n\r\n",
    "Host with a space": b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n",
    "bad Content-Length": b"POST /acme/token HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
    "negative Content-Length": b"POST /acme/token HTTP/1.1\r\nHost: a\r\n"
                               b"Content-Length: -1\r\n\r\n",
    "two Content-Lengths": b"POST /acme/token HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                           b"Content-Length: 1\r\n\r\nx",
    "bad chunk size": b"POST /acme/token HTTP/1.1\r\nHost: a\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("head", MALFORMED_HEADS.values(), ids=MALFORMED_HEADS.keys())
def test_a_malformed_request_head_is_a_400(server: Server, head: bytes) -> None:
    response, logged = exchange_logged(server, head)
    assert_ours(response, 400)
    assert b"<h1>Bad Request</h1>" in response.body
    assert len(logged) <= 1 and not any("Traceback" in line for line in logged), logged


def test_http_1_0_needs_no_host(server: Server) -> None:
    response = exchange(server.port, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert response.status == 200


def test_an_over_long_request_line_or_header_is_a_413(server: Server) -> None:
    for head in (request(b"GET", b"/" + b"a" * 20_000),
                 request(b"GET", b"/healthz", [(b"X-A", b"a" * 20_000)])):
        response, logged = exchange_logged(server, head)
        assert_ours(response, 413)
        assert logged == []


HOSTILE_HEADERS = [
    [(b"Accept", b"\xff")],
    [(b"Accept", b"application/json;q=\xff\xfe")],
    [(b"Accept", b"\xff/\xff, text/html;q=1e999")],
    [(b"Accept", b"," * 8000)],
    [(b"Accept", b"application/json"), (b"Cookie", b"\xff=\xff"),
     (b"Authorization", b"Bearer \xff"), (b"Content-Type", b"\xff/\xff; charset=\xff"),
     (b"X-Forwarded-Host", b"\xff"), (b"X-Forwarded-For", b"\xff")],
]
# (listener, method, target, extra headers, body, status): errors Sanic raises itself
FRAMEWORK_ERRORS = {
    "405 on /status": ("ops", b"OPTIONS", b"/status", [], b"", 405),
    "405 on a probe": ("public", b"POST", b"/healthz", [], b"", 405),
    "405 for an unknown method": ("public", b"FROB", b"/acme/token", [], b"", 405),
    "404 before routing": ("public", b"OPTIONS", b"*", [], b"", 404),
    "404 on the operations listener": ("ops", b"GET", b"/acme/jwks", [], b"", 404),
    "/status is a 404 on the public listener": ("public", b"OPTIONS", b"/status", [], b"", 404),
    "413": ("public", b"POST", b"/acme/token", [(b"Content-Length", b"2000000")], b"", 413),
    "417": ("public", b"POST", b"/acme/token", [(b"Content-Length", b"1"),
                                                (b"Expect", b"\xff")], b"x", 417),
    "400": ("public", b"POST", b"/acme/token", [(b"Content-Length", b"x")], b"", 400),
}


@pytest.mark.parametrize("hostile", HOSTILE_HEADERS, ids=range(len(HOSTILE_HEADERS)))
@pytest.mark.parametrize("case", FRAMEWORK_ERRORS.values(), ids=FRAMEWORK_ERRORS.keys())
def test_framework_errors_never_fail_on_hostile_headers(
        server: Server, case: tuple[str, bytes, bytes, list[tuple[bytes, bytes]], bytes, int],
        hostile: list[tuple[bytes, bytes]]) -> None:
    listener, method, target, headers, body, status = case
    port = server.ops_port if listener == "ops" else server.port
    response, logged = exchange_logged(server, request(method, target, hostile + headers, body),
                                       port)
    assert_ours(response, status)
    assert logged == []
    if status == 405:
        assert response.headers["allow"]


def test_request_timeout_is_a_408(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nAccept: \xff\r\n")  # never ends
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 408 "), data[:200]
    assert b"x-frame-options: DENY" in data.lower().replace(b"deny", b"DENY")


def test_a_body_that_never_arrives_is_a_408_not_a_503(server: Server) -> None:
    head = request(b"POST", b"/acme/token", [(b"Content-Type", b"application/x-www-form-"
                                             b"urlencoded"), (b"Content-Length", b"100")])
    response, logged = exchange_logged(server, head + b"grant_type=")
    assert_ours(response, 408)
    assert logged == []


def test_an_asset_name_too_long_for_the_file_system_is_a_404(server: Server) -> None:
    response, logged = exchange_logged(server, request(
        b"GET", b"/acme/assets/" + b"a" * 300, host=f"127.0.0.1:{server.port}".encode()))
    assert response.status == 404
    assert response.body == b"not found"  # the tenant's asset handler said so
    assert logged == []


@pytest.mark.parametrize(("content_type", "body"), [
    (b"application/x-www-form-urlencoded", b"request=\xff\xfe&csrf_token=\xc3("),
    (b"multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=request\r\n\r\na"),
    (b"multipart/form-data; boundary=x", b"--x\r\nno colon here\r\n\r\n--x--"),
])
@pytest.mark.parametrize("path", [b"/acme/login", b"/acme/consent", b"/acme/userinfo"])
def test_a_form_that_cannot_be_read_is_refused_quietly(server: Server, path: bytes,
                                                       content_type: bytes, body: bytes) -> None:
    response, logged = exchange_logged(server, request(
        b"POST", path, [(b"Content-Type", content_type),
                        (b"Content-Length", str(len(body)).encode())], body,
        host=f"127.0.0.1:{server.port}".encode()))
    assert response.status in (400, 401), response.raw[:300]
    assert logged == []


def test_json_when_the_client_prefers_it(server: Server) -> None:
    response = exchange(server.port, request(b"POST", b"/acme/token",
                                             [(b"Accept", b"application/json"),
                                              (b"Content-Length", b"2000000")]))
    assert response.status == 413
    assert response.headers["content-type"] == "application/json"
    assert response.body.startswith(b'{"error":"request_too_large","error_description":')


def test_the_server_still_serves_afterwards(server: Server) -> None:
    assert server.get("/readyz").status_code == 200
    assert server.get("/acme/.well-known/openid-configuration").status_code == 200
    assert "Traceback" not in server.log()


def test_an_undecodable_forwarded_host_is_shown_escaped(tmp_path: Path, tenants_dir: Path,
                                                        themes_dir: Path) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port,
                        ("--trust-proxy",)) as proxied:
        response = exchange(port, request(b"GET", b"/nowhere",
                                          [(b"X-Forwarded-Host", b"ex\xffample<x>")]))
        assert response.status == 404
        assert b"ex?ample&lt;x&gt;" in response.body  # escaped, the bad byte replaced
        assert "Traceback" not in proxied.log()
