"""Tenant-file rules for per-application PKCE and the standard user claims (OpenID Connect
Core §5.1)."""

from __future__ import annotations

from typing import Any

from confidp.config.loader import validate_file
from tests.support import dump, tenant_doc


def result_of(doc: dict[str, Any]) -> Any:
    return validate_file("acme.yaml", dump(doc), themes=None, environ={"X": "s3cret"})


def messages(doc: dict[str, Any]) -> list[str]:
    return [f"{e.path}: {e.message}" for e in result_of(doc).errors]


def app(**overrides: Any) -> dict[str, Any]:
    base = {"client_id": "web", "name": "Web", "type": "public",
            "redirect_uris": ["https://web.example.com/cb"], "scopes": ["openid"]}
    base.update(overrides)
    return base


def test_require_pkce_false_only_for_confidential_applications() -> None:
    doc = tenant_doc("https://id.example.com", applications=[
        app(require_pkce=False),
        app(client_id="server", type="confidential", client_secret={"env": "X"},
            require_pkce=False),
        app(client_id="spa", require_pkce=True)])
    assert messages(doc) == [
        "$.applications[0].require_pkce: a public application must use PKCE: it has no "
        "secret, so PKCE is what ties its code to it (RFC 9700 §2.1.1); remove require_pkce: "
        "false, or make the application confidential"]
    del doc["applications"][0]
    tenant = result_of(doc).tenant
    assert tenant is not None
    assert tenant.applications["server"].require_pkce is False
    assert tenant.applications["spa"].require_pkce is True


def test_pkce_is_required_by_default() -> None:
    doc = tenant_doc("https://id.example.com", applications=[
        app(), app(client_id="server", type="confidential", client_secret={"env": "X"})])
    tenant = result_of(doc).tenant
    assert tenant is not None
    assert all(a.require_pkce for a in tenant.applications.values())
