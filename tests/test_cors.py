"""Which Origin a tenant allows: exactly the origins (RFC 6454) of its registered redirect URIs,
compared as browsers serialise them, so a localhost development server is allowed consistently
with its redirect URI and nothing near it is."""

from __future__ import annotations

import pytest

from confidp.config.loader import validate_file
from confidp.model import Tenant
from confidp.web.cors import matching_origin, origin_of
from tests.support import dump, tenant_doc


@pytest.mark.parametrize(("uri", "origin"), [
    ("http://localhost:5173/callback", "http://localhost:5173"),
    ("http://LocalHost:5173/cb?x=1", "http://localhost:5173"),
    ("http://localhost:80/cb", "http://localhost"),
    ("https://App.Example.com:443/cb", "https://app.example.com"),
    ("https://app.example.com:8443/cb", "https://app.example.com:8443"),
    ("http://[::1]:9999/cb", "http://[::1]:9999"),
    ("com.example.app:/oauth", None),
    ("https://user@app.example.com/cb", None),
    ("https://app.example.com:99999/cb", None),
])
def test_origin_of_a_redirect_uri(uri: str, origin: str | None) -> None:
    assert origin_of(uri) == origin


def tenant_with(*redirect_uris: str) -> Tenant:
    doc = tenant_doc("https://id.example.com")
    doc["applications"][0]["redirect_uris"] = list(redirect_uris)
    tenant = validate_file("acme.yaml", dump(doc), themes=None, environ=None).tenant
    assert tenant is not None
    return tenant


def test_a_localhost_development_server_is_allowed_exactly() -> None:
    tenant = tenant_with("http://localhost:5173/callback", "http://localhost:80/cb",
                         "https://portal.example.com:443/callback")
    assert matching_origin("http://localhost:5173", tenant) == "http://localhost:5173"
    assert matching_origin("http://localhost", tenant) == "http://localhost"
    assert matching_origin("https://portal.example.com", tenant) == "https://portal.example.com"
    for other in ("http://localhost:5174", "http://127.0.0.1:5173", "https://localhost:5173",
                  "http://localhost:5173/", "http://LOCALHOST:5173", "http://localhost:80",
                  "null", "http://localhost:5173.evil.example"):
        assert matching_origin(other, tenant) is None, other
