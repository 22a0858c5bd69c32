"""The real server: operator endpoints, routing by issuer, and what it never shows."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest

from confidp.web.forms import FORM_TYPE as FORM
from tests.support import Server, free_port, running_server, sha, tenant_doc, write_tenant

pytestmark = pytest.mark.e2e


def test_health_ready_and_status(server: Server, issuer: str, tenants_dir: Path) -> None:
    assert server.get("/healthz").json() == {"status": "ok"}
    ready = server.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    status = server.get("/status").json()
    assert status["serving"] == 1 and status["failing"] == 0
    [acme] = status["tenants"]
    assert acme["file"] == "acme.yaml"
    assert acme["issuer"] == issuer
    assert acme["content_hash"] == sha((tenants_dir / "acme.yaml").read_bytes())
    assert acme["loaded_at"].endswith("Z")
    assert acme["errors"] == []
    assert server.get("/status/acme").json()["file"] == "acme.yaml"
    assert server.get("/status/nope").status_code == 404


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
    text = server.get("/metrics").text
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
        status = server.get("/status").text
        assert '"applications":1' in status
        assert "the-very-secret-value" not in status
        assert "argon2id" not in status  # no password hashes either
        assert "the-very-secret-value" not in server.log()


def test_status_token(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port,
                        env={"CONFIDP_STATUS_TOKEN": "s3cret-token"}) as server:
        denied = server.get("/status")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Bearer")
        assert server.get("/metrics").status_code == 401
        assert server.get("/status", headers={"Authorization": "Bearer wrong"}).status_code \
            == 401
        allowed = server.get("/status", headers={"Authorization": "Bearer s3cret-token"})
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
