"""Rules beyond the schema (DESIGN.md "Tenants and routing"), including the cross-file one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from confidp.config.loader import FileResult, check_files, settle_issuers, validate_file
from confidp.config.rules import issuer_problem, redirect_uri_problem
from tests.support import dump, tenant_doc

THEMES = frozenset({"default", "midnight"})


def result_of(doc: dict[str, Any], name: str = "acme.yaml",
              environ: dict[str, str] | None = None) -> FileResult:
    return validate_file(name, dump(doc), themes=THEMES, environ=environ or {})


def messages(doc: dict[str, Any], **kwargs: Any) -> list[str]:
    return [f"{e.path}: {e.message}" for e in result_of(doc, **kwargs).errors]


def app(**overrides: Any) -> dict[str, Any]:
    base = {"client_id": "web", "name": "Web", "type": "public",
            "redirect_uris": ["https://web.example.com/cb"], "scopes": ["openid"]}
    base.update(overrides)
    return base


@pytest.mark.parametrize("issuer", [
    "https://id.example.com", "https://id.example.com/acme", "http://localhost:8000/acme",
    "http://127.0.0.1:8000", "https://id.example.com:8443/a/b",
])
def test_good_issuers(issuer: str) -> None:
    assert issuer_problem(issuer) is None


@pytest.mark.parametrize(("issuer", "why"), [
    ("http://id.example.com", "must use https"),
    ("ftp://id.example.com", "absolute https URL"),
    ("https://id.example.com/", "must not end with '/'"),
    ("https://id.example.com/a?x=1", "query or a fragment"),
    ("https://id.example.com/a#x", "query or a fragment"),
    ("https://user@id.example.com", "user information"),
    ("https://ID.example.com", "lower-case"),
    ("https://id.example.com/a//b", "empty, '.' or '..'"),
    ("https://id.example.com/a/../b", "empty, '.' or '..'"),
    ("https://id.example.com/a;b", "only letters, digits"),
    ("https://id.example.com/%61cme", "only letters, digits"),
    ("https://id.example.com/caf\u00e9", "only letters, digits"),
    ("https://id.example.com:99999", "not a valid URL"),
    ("https://id example.com", "spaces"),
])
def test_bad_issuers(issuer: str, why: str) -> None:
    problem = issuer_problem(issuer)
    assert problem is not None and why in problem


@pytest.mark.parametrize("uri", [
    "https://app.example.com/callback", "https://app.example.com:8443/cb?x=1",
    "http://127.0.0.1:9999/callback", "http://[::1]:8080/cb", "com.example.app:/oauth",
    "http://localhost:5173/callback", "http://localhost/cb",
])
def test_good_redirect_uris(uri: str) -> None:
    assert redirect_uri_problem(uri) is None


def test_localhost_redirect_uris_are_accepted_with_a_warning() -> None:
    """RFC 8252 §8.3: localhost is NOT RECOMMENDED, not forbidden; a single-page application's
    development server runs on it."""
    doc = tenant_doc("https://id.example.com", applications=[
        app(redirect_uris=["https://web.example.com/cb", "http://localhost:5173/callback"],
            post_logout_redirect_uris=["http://LocalHost:5173/"])])
    result = result_of(doc)
    assert result.errors == [] and result.tenant is not None
    assert [(w.line, w.col, w.path, w.severity) for w in result.warnings] == [
        (10, 5, "$.applications[0].redirect_uris[1]", "warning"),
        (14, 5, "$.applications[0].post_logout_redirect_uris[0]", "warning")]
    assert str(result.warnings[0]) == (
        "acme.yaml:10:5: $.applications[0].redirect_uris[1]: warning: "
        "'http://localhost:5173/callback' uses the name localhost, which RFC 8252 §8.3 advises "
        "against (it may resolve to another address, and another program may listen on that "
        "port): fine for a development server; elsewhere use 'http://127.0.0.1:5173/callback'")
    assert "'http://127.0.0.1:5173/'" in result.warnings[1].message


@pytest.mark.parametrize("uri", ["https://localhost:8443/cb", "http://127.0.0.1:5173/cb",
                                 "http://localhost.example.com/cb"])
def test_no_localhost_warning_for_other_uris(uri: str) -> None:
    doc = tenant_doc("https://id.example.com", applications=[app(redirect_uris=[uri])])
    result = result_of(doc)
    assert result.warnings == []
    assert bool(result.errors) == uri.startswith("http://localhost.")


@pytest.mark.parametrize(("uri", "why"), [
    ("https://app.example.com/cb#frag", "fragment"),
    ("/callback", "absolute URI"),
    ("http://app.example.com/cb", "must use https"),
    ("http://localhost.example.com/cb", "must use https"),
    ("https://*.example.com/cb", "wildcards"),
    ("javascript:alert(1)", "not allowed"),
    ("myapp:/cb", "reverse domain"),
    ("https://user:pw@app.example.com/cb", "user information"),
    ("https://app.example.com/a b", "spaces"),
    ("https:///cb", "must name a host"),
])
def test_bad_redirect_uris(uri: str, why: str) -> None:
    problem = redirect_uri_problem(uri)
    assert problem is not None and why in problem


def test_redirect_uri_rule_is_applied_with_the_uri_position() -> None:
    doc = tenant_doc("https://id.example.com", applications=[
        app(redirect_uris=["https://ok.example.com/cb", "http://bad.example.com/cb"],
            post_logout_redirect_uris=["https://ok.example.com/#x"])])
    assert messages(doc) == [
        "$.applications[0].redirect_uris[1]: 'http://bad.example.com/cb' must use https "
        "(http is allowed only for 127.0.0.1, [::1] and, with a warning, localhost)",
        "$.applications[0].post_logout_redirect_uris[0]: 'https://ok.example.com/#x' must not "
        "have a fragment (RFC 6749 §3.1.2)",
    ]


def test_unique_client_ids() -> None:
    doc = tenant_doc("https://id.example.com", applications=[app(), app(name="Other")])
    assert messages(doc) == ["$.applications[1].client_id: client_id 'web' is already used "
                             "by applications[0]"]


def test_usernames_unique_ignoring_case_and_subjects_unique() -> None:
    user = {"username": "alice", "password_hash": tenant_doc("x")["users"][0]["password_hash"]}
    doc = tenant_doc("https://id.example.com", users=[
        user, {**user, "username": "ALICE"}, {**user, "username": "bob", "subject": "alice"}])
    found = messages(doc)
    assert "$.users[1].username: username 'ALICE' is already used by users[0] (usernames " \
           "ignore case)" in found
    assert any(m.startswith("$.users[2]: subject 'alice' is already the subject") for m in found)


def test_scopes_an_application_asks_for_must_be_defined() -> None:
    doc = tenant_doc("https://id.example.com", applications=[
        app(scopes=["openid", "orders.read", "groups"])])
    assert messages(doc) == [
        "$.applications[0].scopes[1]: scope 'orders.read' is not defined: add it under the "
        "tenant's scopes, or use a standard scope (openid, profile, email, address, phone, "
        "groups, offline_access)"]
    doc["scopes"] = [{"name": "orders.read", "description": "Read orders"}]
    assert messages(doc) == []


def test_custom_scopes_cannot_redefine_standard_ones_or_release_reserved_claims() -> None:
    doc = tenant_doc("https://id.example.com", scopes=[
        {"name": "profile", "description": "x"},
        {"name": "a", "description": "x", "claims": ["sub"]},
        {"name": "a", "description": "again"}])
    assert messages(doc) == [
        "$.scopes[0].name: 'profile' is a standard scope and is always defined; choose "
        "another name",
        "$.scopes[1].claims[0]: 'sub' is set by confidp itself and cannot be released by a "
        "custom scope",
        "$.scopes[2].name: scope 'a' is already defined at scopes[1]"]


def test_client_type_secret_and_auth_method_agree() -> None:
    doc = tenant_doc("https://id.example.com", applications=[
        app(client_secret={"env": "X"}),
        app(client_id="conf", type="confidential"),
        app(client_id="conf2", type="confidential", client_secret={"env": "X"},
            token_endpoint_auth_method="none"),
        app(client_id="pub", token_endpoint_auth_method="client_secret_post")])
    found = messages(doc, environ={"X": "s3cret"})
    assert found == [
        "$.applications[0].client_secret: a public application cannot keep a secret: remove "
        "client_secret or make the application confidential",
        "$.applications[1]: a confidential application needs a client_secret (hash, env or "
        "file)",
        "$.applications[2].token_endpoint_auth_method: a confidential application must "
        "authenticate: use client_secret_basic or client_secret_post",
        "$.applications[3].token_endpoint_auth_method: a public application authenticates "
        "with 'none'"]


def test_grant_rules() -> None:
    doc = tenant_doc("https://id.example.com", applications=[
        app(grant_types=["authorization_code", "client_credentials"]),
        app(client_id="b", grant_types=["authorization_code", "refresh_token"]),
        app(client_id="c", scopes=["openid", "offline_access"]),
        app(client_id="d", redirect_uris=[])])
    assert messages(doc) == [
        "$.applications[0].grant_types: client_credentials is only for confidential "
        "applications",
        "$.applications[1].grant_types: the refresh_token grant needs the offline_access "
        "scope in scopes",
        "$.applications[2].scopes: offline_access needs the refresh_token grant in "
        "grant_types",
        "$.applications[3]: the authorization_code grant needs at least one redirect_uri"]


def test_lifetime_rules() -> None:
    doc = tenant_doc("https://id.example.com", lifetimes={
        "authorization_code": "11m", "session_idle": "2d", "session_absolute": "1d",
        "refresh_token_idle": "31d"})
    assert messages(doc) == [
        "$.lifetimes.authorization_code: 11m is longer than the 10m RFC 6749 §4.1.2 allows; "
        "use 1m",
        "$.lifetimes.session_idle: session_idle (2d) is longer than session_absolute (1d); "
        "make it shorter or equal",
        "$.lifetimes.refresh_token_idle: refresh_token_idle (31d) is longer than "
        "refresh_token_absolute (30d, the default); make it shorter or equal"]


def test_theme_must_exist() -> None:
    doc = tenant_doc("https://id.example.com", theme={"name": "neon"})
    assert messages(doc) == ["$.theme.name: theme 'neon' does not exist in the themes "
                             "directory (themes: default, midnight)"]


def test_tenant_id_comes_from_a_valid_file_name() -> None:
    assert messages(tenant_doc("https://id.example.com"), name="Acme Corp.yaml")[0].startswith(
        "$: the file name gives the tenant id 'Acme Corp'")


def test_user_claims_cannot_set_reserved_claims() -> None:
    user = {**tenant_doc("x")["users"][0], "claims": {"email": "x@y", "department": "R&D"}}
    doc = tenant_doc("https://id.example.com", users=[user])
    assert messages(doc) == ["$.users[0].claims.email: 'email' is set by confidp itself (or "
                             "by a user field of that name); remove it from claims"]


def test_env_and_file_secrets_are_read_and_never_shown(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("from-a-file\n")
    doc = tenant_doc("https://id.example.com", applications=[
        app(type="confidential", client_secret={"env": "WEB_SECRET"}),
        app(client_id="b", type="confidential", client_secret={"file": "secret.txt"})])
    result = validate_file(str(tmp_path / "acme.yaml"), dump(doc), themes=THEMES,
                           environ={"WEB_SECRET": "from-env"})
    assert result.errors == []
    assert result.tenant is not None
    web = result.tenant.applications["web"].client_secret
    other = result.tenant.applications["b"].client_secret
    assert web is not None and web.value.reveal() == "from-env"
    assert other is not None and other.value.reveal() == "from-a-file"
    assert "from-env" not in repr(result.tenant) and "from-a-file" not in repr(result.tenant)


def test_missing_env_and_file_secrets_are_errors_for_the_server(tmp_path: Path) -> None:
    doc = tenant_doc("https://id.example.com", applications=[
        app(type="confidential", client_secret={"env": "NOPE"}),
        app(client_id="b", type="confidential", client_secret={"file": "missing.txt"})])
    result = validate_file(str(tmp_path / "acme.yaml"), dump(doc), themes=THEMES, environ={})
    assert [e.path for e in result.errors] == ["$.applications[0].client_secret.env",
                                               "$.applications[1].client_secret.file"]
    assert result.tenant is None
    # confidp check without --resolve-secrets: the same file is valid (CI has no secrets)
    unresolved = validate_file(str(tmp_path / "acme.yaml"), dump(doc), themes=THEMES,
                               environ=None)
    assert unresolved.errors == []


def test_issuers_unique_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(dump(tenant_doc("https://id.example.com/x")))
    (tmp_path / "b.yaml").write_bytes(dump(tenant_doc("https://id.example.com/x")))
    (tmp_path / "c.yaml").write_bytes(dump(tenant_doc("https://id.example.com/y")))
    results = check_files(sorted(tmp_path.glob("*.yaml")), themes=THEMES, environ={})
    assert [r.ok for r in results] == [False, False, True]
    assert str(results[0].errors[0]).startswith(
        f"{tmp_path}/a.yaml:2:9: $.issuer: 'https://id.example.com/x' routes to the same host "
        f"and path as the issuer of {tmp_path}/b.yaml")


def test_issuers_differing_only_by_default_port_collide(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(dump(tenant_doc("https://id.example.com")))
    (tmp_path / "b.yaml").write_bytes(dump(tenant_doc("https://id.example.com:443")))
    results = check_files(sorted(tmp_path.glob("*.yaml")), themes=THEMES, environ={})
    assert [r.ok for r in results] == [False, False]


def test_a_new_file_cannot_take_over_a_served_issuer() -> None:
    served = result_of(tenant_doc("https://id.example.com/x"), name="a.yaml").tenant
    assert served is not None
    newcomer = result_of(tenant_doc("https://id.example.com/x"), name="b.yaml")
    serving = settle_issuers({"b": newcomer}, {"a": served}, {})
    assert serving == {"a": served}
    assert newcomer.tenant is None
    assert "routes to the same host and path as the issuer of a.yaml" in \
        newcomer.errors[0].message


def test_a_rejected_edit_falls_back_to_its_last_good_version() -> None:
    a_old = result_of(tenant_doc("https://id.example.com/a"), name="a.yaml").tenant
    b = result_of(tenant_doc("https://id.example.com/b"), name="b.yaml").tenant
    assert a_old is not None and b is not None
    a_new = result_of(tenant_doc("https://id.example.com/b"), name="a.yaml")
    serving = settle_issuers({"a": a_new}, {"b": b}, {"a": a_old})
    assert serving == {"a": a_old, "b": b}


def test_the_same_tenant_id_twice(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "acme.yaml").write_bytes(dump(tenant_doc("https://id.example.com/1")))
    (tmp_path / "b" / "acme.yaml").write_bytes(dump(tenant_doc("https://id.example.com/2")))
    results = check_files([tmp_path / "a" / "acme.yaml", tmp_path / "b" / "acme.yaml"],
                          themes=THEMES, environ={})
    assert results[0].ok
    assert "the tenant id 'acme' is already given by" in results[1].errors[0].message
