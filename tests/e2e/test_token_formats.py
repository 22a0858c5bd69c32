"""Per-application token formats and algorithms against the real server: EdDSA and ES256 tokens
verified by PyJWT with the JWKS fetched over HTTP, and opaque access tokens through
introspection, userinfo and revocation. One server for the module."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import httpx
import jwt as pyjwt
import pytest

from tests.e2e.flow import VERIFIER
from tests.e2e.test_authorize import example
from tests.e2e.test_tokens import CALLBACK, SECRET, browser_code, verified
from tests.support import REPO, Server, free_port, running_server, write_tenant

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("formats")
    tenants = root / "tenants"
    tenants.mkdir()
    port = free_port()
    acme = example("acme.yaml", port)
    portal = acme["applications"][0]  # type: ignore[index]
    portal.update({"id_token_signed_response_alg": "EdDSA",
                   "access_token_signing_alg": "ES256"})
    write_tenant(tenants, "acme.yaml", acme)
    globex = example("globex.yaml", port)
    billing = globex["applications"][0]  # type: ignore[index]
    billing["access_token_format"] = "opaque"
    billing["redirect_uris"].append(CALLBACK)
    write_tenant(tenants, "globex.yaml", globex)
    with running_server(tenants, REPO / "themes", root / "state", port) as server:
        yield server


def code_tokens(idp: Server) -> dict[str, str]:
    code = browser_code(idp)[1]
    response = httpx.post(f"{idp.base}/acme/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER, "client_id": "portal-spa"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_eddsa_id_tokens_and_es256_access_tokens_verify_against_the_jwks(idp: Server) -> None:
    issuer = f"{idp.base}/acme"
    metadata = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256", "ES256", "EdDSA"]
    keys = httpx.get(f"{issuer}/jwks").json()["keys"]
    assert {key["alg"] for key in keys} == {"RS256", "ES256", "EdDSA"}
    okp = next(key for key in keys if key["alg"] == "EdDSA")
    assert okp["kty"] == "OKP" and okp["crv"] == "Ed25519" and "d" not in okp
    tokens = code_tokens(idp)
    assert pyjwt.get_unverified_header(tokens["id_token"])["alg"] == "EdDSA"
    id_claims = verified(idp, "acme", tokens["id_token"], "portal-spa", "EdDSA")
    assert id_claims["sub"] == "alice"
    # OIDC Core §3.1.3.6 with Ed25519's hash, SHA-512
    half = hashlib.sha512(tokens["access_token"].encode()).digest()[:32]
    assert id_claims["at_hash"] == base64.urlsafe_b64encode(half).rstrip(b"=").decode()
    access_header = pyjwt.get_unverified_header(tokens["access_token"])
    assert access_header["alg"] == "ES256" and access_header["typ"] == "at+jwt"
    assert verified(idp, "acme", tokens["access_token"], "portal-spa", "ES256")["sub"] == "alice"
    userinfo = httpx.get(f"{issuer}/userinfo",
                         headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == "alice"
    refreshed = httpx.post(f"{issuer}/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "portal-spa"}).json()
    assert verified(idp, "acme", refreshed["id_token"], "portal-spa", "EdDSA")["sub"] == "alice"


def test_opaque_access_tokens_through_introspection_userinfo_and_revocation(
        idp: Server) -> None:
    issuer = f"{idp.base}/globex"
    _, code = browser_code(idp, "globex", client_id="billing",
                           scope="openid profile invoices.write")
    tokens = httpx.post(f"{issuer}/token", auth=("billing", SECRET), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER}).json()
    access = tokens["access_token"]
    assert "." not in access and len(access) >= 43  # 256 random bits, not a JWT
    assert verified(idp, "globex", tokens["id_token"], "billing", "RS256")["sub"] == "hank"
    introspected = httpx.post(f"{issuer}/introspect", auth=("billing", SECRET),
                              data={"token": access}).json()
    assert introspected["active"] is True
    assert introspected["sub"] == "hank" and introspected["client_id"] == "billing"
    assert introspected["iss"] == issuer and introspected["exp"] > introspected["iat"]
    assert set(introspected["scope"].split()) == {"openid", "profile", "invoices.write"}
    bearer = {"Authorization": f"Bearer {access}"}
    assert httpx.get(f"{issuer}/userinfo", headers=bearer).json()["sub"] == "hank"
    # another tenant does not know it
    assert httpx.get(f"{idp.base}/acme/userinfo", headers=bearer).status_code == 401
    # nor is a token with one character changed anything
    altered = access[:-1] + ("A" if access[-1] != "A" else "B")
    assert httpx.post(f"{issuer}/introspect", auth=("billing", SECRET),
                      data={"token": altered}).json() == {"active": False}
    assert httpx.post(f"{issuer}/revoke", auth=("billing", SECRET),
                      data={"token": access}).status_code == 200
    assert httpx.post(f"{issuer}/introspect", auth=("billing", SECRET),
                      data={"token": access}).json() == {"active": False}
    revoked = httpx.get(f"{issuer}/userinfo", headers=bearer)
    assert revoked.status_code == 401 and 'error="invalid_token"' in \
        revoked.headers["www-authenticate"]


def test_opaque_client_credentials_tokens(idp: Server) -> None:
    issuer = f"{idp.base}/globex"
    machine = httpx.post(f"{issuer}/token", auth=("billing", SECRET),
                         data={"grant_type": "client_credentials"}).json()
    assert "." not in machine["access_token"]
    introspected = httpx.post(f"{issuer}/introspect", auth=("billing", SECRET),
                              data={"token": machine["access_token"]}).json()
    assert introspected["active"] is True and introspected["sub"] == "billing"
    assert introspected["scope"] == "invoices.write"
