"""``confidp check`` on a tenant file with connectors, as CI runs it: the file itself
without secrets, and ``--resolve-secrets`` where the secrets (and CA files) are."""

from __future__ import annotations

from pathlib import Path

from tests.support import dump, tenant_doc
from tests.test_cli import confidp

SECRET = "s3cret-never-printed"


def write(tmp_path: Path, **connector: object) -> None:
    spec = {"id": "corp", "type": "oidc", "issuer": "https://login.example.com",
            "client_id": "confidp-acme", "client_secret": {"env": "CONFIDP_TEST_CORP"},
            **connector}
    (tmp_path / "acme.yaml").write_bytes(dump(tenant_doc("https://id.example.com",
                                                         connectors=[spec])))


def test_check_validates_connectors_and_resolves_their_secrets_only_when_asked(
        tmp_path: Path) -> None:
    write(tmp_path, ca_file="corp-ca.pem")
    assert confidp("check", str(tmp_path)).returncode == 0  # CI without secrets
    done = confidp("check", "--resolve-secrets", str(tmp_path))
    assert done.returncode == 1
    assert "$.connectors[0].client_secret.env" in done.stdout
    assert "CONFIDP_TEST_CORP is not set" in done.stdout
    assert "corp-ca.pem does not exist" in done.stdout
    (tmp_path / "corp-ca.pem").write_text("not a certificate\n")
    done = confidp("check", "--resolve-secrets", str(tmp_path),
                   env={"CONFIDP_TEST_CORP": SECRET})
    assert "corp-ca.pem is not a PEM file" in done.stdout
    assert SECRET not in done.stdout + done.stderr


def test_check_reports_an_http_upstream_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, issuer="http://login.example.com")
    done = confidp("check", str(tmp_path))
    assert done.returncode == 1
    [line] = done.stdout.splitlines()
    assert line.startswith(f"{tmp_path / 'acme.yaml'}:")
    assert "$.connectors[0].issuer" in line and "must use https" in line
