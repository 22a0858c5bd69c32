"""The real server: operator endpoints, routing by issuer, and what it never shows."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

from confidp.web.forms import FORM_TYPE as FORM
from tests.support import (
    REPO,
    Server,
    free_port,
    running_server,
    sha,
    tenant_doc,
    wait_until,
    write_tenant,
)

pytestmark = pytest.mark.e2e


def test_health_ready_and_status(server: Server, issuer: str, tenants_dir: Path) -> None:
    assert server.get("/healthz").json() == {"status": "ok"}
    ready = server.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    status = server.ops_get("/status").json()
    assert status["serving"] == 1 and status["failing"] == 0
    [acme] = status["tenants"]
    assert acme["file"] == "acme.yaml"
    assert acme["issuer"] == issuer
    assert acme["content_hash"] == sha((tenants_dir / "acme.yaml").read_bytes())
    assert acme["loaded_at"].endswith("Z")
    assert acme["errors"] == []
    assert server.ops_get("/status/acme").json()["file"] == "acme.yaml"
    assert server.ops_get("/status/nope").status_code == 404


def test_unknown_issuer_is_a_404_naming_the_known_ones(server: Server, issuer: str) -> None:
    response = server.get("/globex/authorize", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["issuers"] == [issuer]
    page = server.get("/globex/authorize", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert issuer in page.text
    # the right path on another host is another issuer
    other_host = server.get("/acme/authorize", headers={"Host": "localhost:1",
                                                        "Accept": "application/json"})
    assert other_host.status_code == 404 and other_host.json()["issuers"] == [issuer]


def test_unknown_endpoint_under_a_known_issuer(server: Server) -> None:
    response = server.get("/acme/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert "has no endpoint /nope" in response.json()["error_description"]
    assert "issuers" not in response.json()


def test_security_headers_on_every_kind_of_response(server: Server) -> None:
    responses = {
        "operator JSON": server.get("/healthz"),
        "404 page": server.get("/nowhere"),
        "400 JSON": server.get("/acme/authorize", headers={"Accept": "application/json"}),
        "302": server.get("/acme/authorize?" + urlencode({
            "client_id": "portal-spa", "redirect_uri": "http://127.0.0.1:9999/callback",
            "response_type": "code", "scope": "openid", "state": "s",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256"}), follow_redirects=False),
        # built by Sanic itself, before any handler runs
        "413": server.client.post("/acme/token", content=b"x" * (1024 * 1024 + 1),
                                  headers={"Content-Type": FORM}),
    }
    assert responses["302"].status_code == 302 and responses["413"].status_code == 413
    for kind, response in responses.items():
        assert response.headers["x-content-type-options"] == "nosniff", kind
        assert response.headers["x-frame-options"] == "DENY", kind
        assert response.headers["referrer-policy"] == "no-referrer", kind


def test_metrics_count_reloads(server: Server) -> None:
    text = server.ops_get("/metrics").text
    assert 'confidp_tenant_reloads_total{outcome="added"} 1.0' in text
    assert 'confidp_tenants{state="serving"} 1.0' in text


def test_forwarded_host_only_from_a_trusted_proxy(tmp_path: Path, tenants_dir: Path,
                                                  themes_dir: Path) -> None:
    write_tenant(tenants_dir, "pub.yaml", tenant_doc("https://id.example.com/pub"))
    headers = {"X-Forwarded-Host": "id.example.com", "Accept": "application/json"}
    port = free_port()
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as plain:
        assert plain.get("/pub/x", headers=headers).json()["error"] == "not_found"
        assert "issuers" in plain.get("/pub/x", headers=headers).json()  # tenant not found
    port = free_port()
    with running_server(tenants_dir, themes_dir, tmp_path / "state2", port,
                        ("--trust-proxy",)) as proxied:
        body = proxied.get("/pub/x", headers=headers).json()
        assert "has no endpoint /x" in body["error_description"]  # tenant found


def test_status_never_shows_secrets(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    port = free_port()
    doc = tenant_doc(f"http://127.0.0.1:{port}/acme", applications=[{
        "client_id": "api", "name": "API", "type": "confidential",
        "client_secret": {"env": "API_SECRET"}, "grant_types": ["client_credentials"],
        "scopes": ["openid"]}])
    write_tenant(tenants_dir, "acme.yaml", doc)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port,
                        env={"API_SECRET": "the-very-secret-value"}) as server:
        status = server.ops_get("/status").text
        assert '"applications":1' in status
        assert "the-very-secret-value" not in status
        assert "argon2id" not in status  # no password hashes either
        assert "the-very-secret-value" not in server.log()


def test_status_token(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port,
                        env={"CONFIDP_STATUS_TOKEN": "s3cret-token"}) as server:
        denied = server.ops_get("/status")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Bearer")
        assert server.ops_get("/metrics").status_code == 401
        assert server.ops_get("/status", headers={"Authorization": "Bearer wrong"}).status_code \
            == 401
        allowed = server.ops_get("/status", headers={"Authorization": "Bearer s3cret-token"})
        assert allowed.status_code == 200
        assert server.get("/healthz").status_code == 200  # probes need no token


def test_refuses_to_start_without_tenants_dir(tmp_path: Path, themes_dir: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(tmp_path / "none"),
         "--themes", str(themes_dir), "--state-dir", str(tmp_path / "s")],
        capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "the tenants directory" in done.stderr and "does not exist" in done.stderr


def test_operations_endpoints_have_their_own_listener(server: Server, issuer: str) -> None:
    json_accept = {"Accept": "application/json"}
    for path in ("/status", "/status/acme", "/metrics"):
        public = server.get(path, headers=json_accept)
        assert public.status_code == 404, path  # the tenants' own not-found
        assert public.json()["issuers"] == [issuer]
        assert server.client.post(path, headers=json_accept).status_code == 404
        assert server.ops_get(path).status_code == 200
    for path in ("/healthz", "/readyz"):  # simple probes: on both
        assert server.get(path).status_code == 200
        assert server.ops_get(path).status_code == 200
        assert server.client.head(path).status_code == 200
        assert server.ops.head(path).status_code == 200
    # the operations listener serves nothing else
    for path in ("/acme/.well-known/openid-configuration", "/acme/jwks", "/", "/status/a/b"):
        response = server.ops_get(path, headers=json_accept)
        assert response.status_code == 404, path
        assert "operations listener serves" in response.json()["error_description"]
    wrong = server.ops.post("/status")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD"


def test_status_token_on_the_operations_listener_only(tmp_path: Path, tenants_dir: Path,
                                                      themes_dir: Path) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    bearer = {"Authorization": "Bearer s3cret-token"}
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port,
                        env={"CONFIDP_STATUS_TOKEN": "s3cret-token"}) as server:
        assert server.ops_get("/metrics", headers=bearer).status_code == 200
        assert server.get("/status", headers=bearer).status_code == 404  # not served there
        # a header that is not UTF-8 is a wrong token like any other
        assert server.ops_get("/status", headers={"Authorization": b"Bearer \xff"}) \
            .status_code == 401
        assert server.ops_get("/readyz").status_code == 200  # probes need no token


def test_listening_addresses_are_logged_and_the_access_log_is_optional(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as quiet:
        quiet.get("/acme/jwks?quiet-marker")
        log = quiet.log()
        assert len([line for line in log.splitlines() if "listening on" in line]) == 2
        assert f"listening on http://127.0.0.1:{port} (public" in log
        assert f"listening on http://127.0.0.1:{quiet.ops_port} (operations" in log
        quiet.get("/readyz")  # a request after the first one: its line would be there now
        assert "quiet-marker" not in quiet.log()
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    with running_server(tenants_dir, themes_dir, tmp_path / "state2", port,
                        env={"CONFIDP_ACCESS_LOG": "1"}) as logged:
        assert logged.get("/acme/jwks?loud-marker").status_code == 200
        wait_until(lambda: any("GET" in line and "loud-marker" in line and " 200 " in line
                               for line in logged.log().splitlines()), timeout=5)


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(REPO / "tenants"),
         "--themes", str(REPO / "themes"), "--state-dir", str(tmp_path / "state"),
         "--host", "127.0.0.1", "--ops-host", "127.0.0.1", *args],
        capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("busy", ["--port", "--ops-port"])
def test_an_address_in_use_is_one_line(tmp_path: Path, busy: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        used = taken.getsockname()[1]
        ports = {"--port": str(free_port(avoid=used)), "--ops-port": str(free_port(avoid=used)),
                 busy: str(used)}
        done = _serve(tmp_path, *(item for pair in ports.items() for item in pair))
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == \
        f"confidp: cannot listen on 127.0.0.1:{used}: address already in use"
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (("--ops-port", "0"), "--ops-port must be a port number from 1 to 65535"),
    (("--port", "70000"), "--port must be a port number from 1 to 65535"),
    (("--port", "18000", "--ops-port", "18000"), "--ops-port must differ from --port"),
    (("--shutdown-delay", "61"), "--shutdown-delay must be from 0 to 60 seconds"),
    (("--shutdown-delay", "-1"), "--shutdown-delay must be from 0 to 60 seconds"),
    (("--shutdown-delay", "nan"), "--shutdown-delay must be from 0 to 60 seconds"),
])
def test_listener_flags_are_checked(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = _serve(tmp_path, *args)
    assert done.returncode == 2
    assert message in done.stderr
