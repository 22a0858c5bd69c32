"""The ``connectors`` of a tenant file: schema branches by type, the rules the schema cannot
express, secrets by reference (never inline, never echoed), defaults from the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confidp.config.loader import validate_file
from confidp.identity.choice import accepted_sources
from confidp.identity.registry import declared_sources
from tests.support import ALICE_HASH, dump, tenant_doc

SECRET = "s3cret-value-never-shown"


def oidc(**overrides: Any) -> dict[str, Any]:
    return {"id": "corp", "type": "oidc", "name": "Corporate SSO",
            "issuer": "https://login.example.com", "client_id": "confidp-acme",
            "client_secret": {"env": "CORP_SECRET"}, **overrides}


def doc(*connectors: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return tenant_doc("https://id.example.com", connectors=list(connectors), **overrides)


def load(document: dict[str, Any], environ: dict[str, str] | None = None,
         base_dir: Path | None = None) -> Any:
    return validate_file("acme.yaml", dump(document), themes=None,
                         environ={"CORP_SECRET": SECRET} if environ is None else environ,
                         base_dir=base_dir)


def messages(document: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    result = load(document, environ)
    return [str(e) for e in [*result.errors, *result.warnings]]


def test_an_oidc_connector_loads_with_its_defaults_and_secret() -> None:
    result = load(doc(oidc()))
    assert result.ok, result.errors
    [connector] = result.tenant.connectors
    assert (connector.id, connector.type, connector.name) == ("corp", "oidc", "Corporate SSO")
    assert connector.settings["scopes"] == ["openid", "profile", "email"]  # the schema's
    assert connector.settings["timeout"] == "10s"
    assert "client_secret" not in connector.settings  # only the resolved secret
    secret = connector.secret("client_secret")
    assert secret is not None and secret.reveal() == SECRET
    assert SECRET not in repr(connector)


def test_a_secret_file_is_read_relative_to_the_tenant_file(tmp_path: Path) -> None:
    (tmp_path / "corp.secret").write_text(SECRET + "\n")
    result = load(doc(oidc(client_secret={"file": "corp.secret"})), base_dir=tmp_path)
    assert result.ok, result.errors
    secret = result.tenant.connectors[0].secret("client_secret")
    assert secret is not None and secret.reveal() == SECRET


def test_a_missing_secret_is_an_error_naming_the_variable() -> None:
    [error] = messages(doc(oidc()), environ={})
    assert "connectors[0].client_secret.env" in error and "CORP_SECRET is not set" in error


def test_an_inline_secret_is_refused_without_being_shown() -> None:
    [error] = messages(doc(oidc(client_secret=SECRET)))
    assert "plaintext secret" in error and SECRET not in error
    assert "{env: …} or {file: …}" in error


def test_unknown_keys_name_the_keys_of_the_connector_type() -> None:
    [error] = messages(doc(oidc(claim_mapping={})))
    assert "unknown key 'claim_mapping'" in error and "claims" in error


def test_an_unknown_type_lists_the_types() -> None:
    [error] = messages(doc({"id": "x", "type": "saml"}))
    assert "must be one of: oidc, oauth2, github" in error


def test_ids_are_unique_and_local_is_taken() -> None:
    errors = messages(doc(oidc(), oidc(), oidc(id="local")))
    assert any("'corp' is already the id of connectors[0]" in e for e in errors)
    assert any("'local' is the tenant file's own users" in e for e in errors)


def test_upstream_urls_need_https_and_http_on_loopback_needs_the_flag() -> None:
    assert any("must use https" in e for e in messages(doc(oidc(issuer="http://login.example.com"))))
    [error] = messages(doc(oidc(issuer="http://127.0.0.1:9000")))
    assert "set allow_http: true" in error
    assert messages(doc(oidc(issuer="http://127.0.0.1:9000", allow_http=True))) == []
    # even with the flag, only loopback, and localhost with a warning
    assert any("must use https" in e for e in messages(
        doc(oidc(issuer="http://login.example.com", allow_http=True))))
    [warning] = messages(doc(oidc(issuer="http://localhost:9000", allow_http=True)))
    assert "warning" in warning and "127.0.0.1" in warning


def test_parameters_confidp_sets_cannot_be_overridden() -> None:
    [error] = messages(doc(oidc(authorize_params={"state": "x", "hd": "example.com"})))
    assert "'state' is set by confidp itself" in error


def test_applications_name_connectors_that_exist() -> None:
    app = {"client_id": "portal", "name": "Portal", "type": "public", "scopes": ["openid"],
           "redirect_uris": ["https://portal.example.com/cb"], "connectors": ["corp", "nope"]}
    [error] = messages(doc(oidc(), applications=[app]))
    assert "'nope' is not a connector of this tenant (known: local, corp)" in error


def test_a_local_subject_cannot_look_like_a_federated_one() -> None:
    users = [{"username": "eve", "password_hash": ALICE_HASH, "subject": "corp:1234"}]
    [error] = messages(doc(oidc(), users=users))
    assert "starts with 'corp:'" in error


def test_sources_and_what_an_application_accepts() -> None:
    app = {"client_id": "portal", "name": "Portal", "type": "public", "scopes": ["openid"],
           "redirect_uris": ["https://portal.example.com/cb"]}
    only_corp = {**app, "client_id": "corp-only", "connectors": ["corp"]}
    users = [{"username": "alice", "password_hash": ALICE_HASH}]
    tenant = load(doc(oidc(), applications=[app, only_corp], users=users)).tenant
    assert [spec.type for spec in declared_sources(tenant)] == ["local", "oidc"]
    ids = ("local", "corp")
    assert accepted_sources(tenant, tenant.application("portal"), ids) == ("local", "corp")
    assert accepted_sources(tenant, tenant.application("corp-only"), ids) == ("corp",)
    # a tenant of connectors only offers no password form by default
    no_users = load(doc(oidc(), applications=[app], users=[])).tenant
    assert accepted_sources(no_users, no_users.application("portal"), ids) == ("corp",)


def test_check_without_secrets_keeps_references_unread() -> None:
    result = validate_file("acme.yaml", dump(doc(oidc())), themes=None, environ=None)
    assert result.ok
    ref = result.tenant.connectors[0].secrets["client_secret"]
    assert ref.source == "env CORP_SECRET (not read)"
