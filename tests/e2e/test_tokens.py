"""Tokens and OpenID Connect against the real server, with Authlib's OAuth 2.0 client as an
independent relying party and PyJWT verifying tokens with the JWKS fetched over HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from tests.e2e.flow import (
    VERIFIER,
    authorize_url,
    hidden_fields,
    location,
    query_of,
    seed_params,
    submit_consent,
    submit_login,
)
from tests.e2e.test_authorize import example
from tests.support import Server, free_port, running_server, wait_until, write_tenant

pytestmark = pytest.mark.e2e
CALLBACK = "http://127.0.0.1:9999/callback"
SECRET = "globex-billing-demo-secret"


@pytest.fixture
def idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> Iterator[Server]:
    port = free_port()
    acme = example("acme.yaml", port)
    acme["applications"].append({
        "client_id": "other-spa", "name": "Other", "type": "public",
        "redirect_uris": [CALLBACK], "scopes": ["openid"]})
    write_tenant(tenants_dir, "acme.yaml", acme)
    globex = example("globex.yaml", port)
    globex["applications"][0]["id_token_signed_response_alg"] = "ES256"
    globex["applications"][0]["redirect_uris"].append(CALLBACK)
    write_tenant(tenants_dir, "globex.yaml", globex)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server:
        yield server


def browser_code(idp: Server, tenant: str = "acme", **params: str) -> tuple[str, str]:
    """Log in through the real pages; returns (callback URL, code)."""
    with httpx.Client(base_url=idp.base, follow_redirects=False) as browser:
        login = location(browser.get(authorize_url(f"/{tenant}", seed_params(**params))))
        username, password = ("alice", "wonderland") if tenant == "acme" \
            else ("hank", "hankscorpio")
        response = submit_login(browser, login, username, password)
        after = location(response)
        if "/consent?" in after:
            after = location(submit_consent(browser, after, "approve"))
        return after, query_of(after)["code"]


def verified(idp: Server, tenant: str, token: str, audience: str, alg: str) -> dict[str, Any]:
    """PyJWT, with the key from the JWKS fetched over HTTP by PyJWKClient."""
    metadata = httpx.get(f"{idp.base}/{tenant}/.well-known/openid-configuration").json()
    key = pyjwt.PyJWKClient(metadata["jwks_uri"], cache_jwk_set=False).get_signing_key_from_jwt(
        token)
    return pyjwt.decode(token, key.key, algorithms=[alg], audience=audience,
                        issuer=metadata["issuer"])


def portal(idp: Server) -> OAuth2Client:
    return OAuth2Client("portal-spa", token_endpoint_auth_method="none", redirect_uri=CALLBACK,
                        code_challenge_method="S256", timeout=10)


def test_discovery_is_complete_and_true(idp: Server) -> None:
    issuer = f"{idp.base}/acme"
    response = httpx.get(f"{issuer}/.well-known/openid-configuration")
    metadata = response.json()
    assert response.headers["cache-control"] == "public, max-age=300"
    assert metadata["issuer"] == issuer
    for key, path in (("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
                      ("userinfo_endpoint", "/userinfo"), ("jwks_uri", "/jwks"),
                      ("revocation_endpoint", "/revoke"),
                      ("introspection_endpoint", "/introspect"),
                      ("end_session_endpoint", "/logout")):
        assert metadata[key] == issuer + path
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert set(metadata["id_token_signing_alg_values_supported"]) == {"RS256", "ES256"}
    assert metadata["subject_types_supported"] == ["public"]
    assert "orders.read" in metadata["scopes_supported"]
    assert "customer_number" in metadata["claims_supported"]
    assert {"authorization_code", "refresh_token"} <= set(metadata["grant_types_supported"])
    # every advertised endpoint answers (not 404)
    for key in ("token_endpoint", "userinfo_endpoint", "jwks_uri", "revocation_endpoint",
                "introspection_endpoint", "end_session_endpoint", "authorization_endpoint"):
        assert httpx.get(metadata[key]).status_code != 404, key
    rfc8414 = httpx.get(f"{idp.base}/.well-known/oauth-authorization-server/acme").json()
    assert rfc8414 == httpx.get(f"{issuer}/.well-known/oauth-authorization-server").json() \
        == metadata
    jwks = httpx.get(f"{issuer}/jwks")
    assert jwks.headers["cache-control"] == "public, max-age=300"
    assert {k["alg"] for k in jwks.json()["keys"]} == {"RS256", "ES256"}
    assert all("d" not in k for k in jwks.json()["keys"])


def test_complete_flow_with_authlib(idp: Server) -> None:
    issuer = f"{idp.base}/acme"
    callback, _ = browser_code(idp, nonce="n-0S6_WzA2Mj")
    with portal(idp) as client:
        token = client.fetch_token(f"{issuer}/token", authorization_response=callback,
                                   code_verifier=VERIFIER)
        assert token["token_type"] == "Bearer" and token["expires_in"] == 600
        assert token["scope"] == "openid profile email offline_access orders.read"
        claims = verified(idp, "acme", token["id_token"], "portal-spa", "RS256")
        assert (claims["sub"], claims["nonce"], claims["email"]) == (
            "alice", "n-0S6_WzA2Mj", "alice@example.com")
        digest = hashlib.sha256(token["access_token"].encode()).digest()[:16]
        assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        assert claims["auth_time"] <= claims["iat"] < claims["exp"]
        header = pyjwt.get_unverified_header(token["access_token"])
        assert header["typ"] == "at+jwt"
        access = verified(idp, "acme", token["access_token"], "portal-spa", "RS256")
        assert (access["client_id"], access["sub"]) == ("portal-spa", "alice")
        info = client.get(f"{issuer}/userinfo").json()
        assert info == {"sub": "alice", "name": "Alice Liddell", "given_name": "Alice",
                        "family_name": "Liddell", "preferred_username": "alice",
                        "email": "alice@example.com", "email_verified": True,
                        "customer_number": "C-1042"}
        old_refresh = token["refresh_token"]
        refreshed = client.refresh_token(f"{issuer}/token", refresh_token=old_refresh)
        assert refreshed["refresh_token"] != old_refresh
        assert client.get(f"{issuer}/userinfo").status_code == 200
        # presented again within its reuse interval (a retry), the rotated token gets the same
        # new refresh token back
        retry = httpx.post(f"{issuer}/token", data={
            "grant_type": "refresh_token", "refresh_token": old_refresh,
            "client_id": "portal-spa"})
        assert retry.status_code == 200
        assert retry.json()["refresh_token"] == refreshed["refresh_token"]
        newest = client.refresh_token(f"{issuer}/token",
                                      refresh_token=refreshed["refresh_token"])
        # once the new one was used, the rotated token is reuse: it revokes the family, and
        # the newest tokens stop working
        reuse = httpx.post(f"{issuer}/token", data={
            "grant_type": "refresh_token", "refresh_token": old_refresh,
            "client_id": "portal-spa"})
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
        assert reuse.headers["pragma"] == "no-cache"
        assert client.get(f"{issuer}/userinfo").status_code == 401
        assert httpx.post(f"{issuer}/token", data={
            "grant_type": "refresh_token", "refresh_token": newest["refresh_token"],
            "client_id": "portal-spa"}).status_code == 400


def test_confidential_client_es256_revoke_and_introspect(idp: Server) -> None:
    issuer = f"{idp.base}/globex"
    callback, _ = browser_code(idp, "globex", client_id="billing",
                               scope="openid profile invoices.write")
    with OAuth2Client("billing", SECRET, token_endpoint_auth_method="client_secret_basic",
                      redirect_uri=CALLBACK, timeout=10) as client:
        token = client.fetch_token(f"{issuer}/token", authorization_response=callback,
                                   code_verifier=VERIFIER)
        assert pyjwt.get_unverified_header(token["id_token"])["alg"] == "ES256"
        assert verified(idp, "globex", token["id_token"], "billing", "ES256")["sub"] == "hank"
        assert "refresh_token" not in token  # no offline_access
        active = client.introspect_token(f"{issuer}/introspect", token=token["access_token"])
        assert active.json()["active"] is True and active.json()["sub"] == "hank"
        assert client.revoke_token(f"{issuer}/revoke",
                                   token=token["access_token"]).status_code == 200
        inactive = client.introspect_token(f"{issuer}/introspect", token=token["access_token"])
        assert inactive.json() == {"active": False}
        machine = client.fetch_token(f"{issuer}/token", grant_type="client_credentials")
        assert machine["scope"] == "invoices.write"
        assert client.introspect_token(f"{issuer}/introspect", token="garbage").json() == {
            "active": False}


def test_introspection_is_for_confidential_clients(idp: Server) -> None:
    response = httpx.post(f"{idp.base}/acme/introspect",
                          data={"token": "x", "client_id": "portal-spa"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def token_request(idp: Server, tenant: str = "acme", **data: str) -> httpx.Response:
    return httpx.post(f"{idp.base}/{tenant}/token", data=data)


def code_form(code: str, **overrides: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER, "client_id": "portal-spa", **overrides}


def test_negative_cases(idp: Server) -> None:
    cases = {
        "wrong verifier": code_form(browser_code(idp)[1], code_verifier="x" * 43),
        "wrong redirect_uri": code_form(browser_code(idp)[1], redirect_uri=CALLBACK + "/"),
        "code of another client": code_form(browser_code(idp)[1], client_id="other-spa"),
        "unknown code": code_form("nope"),
    }
    for name, form in cases.items():
        response = token_request(idp, **form)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_grant"), name
    other_tenant = token_request(idp, "globex", **code_form(browser_code(idp)[1]))
    assert other_tenant.status_code == 401  # portal-spa is no client of globex
    assert other_tenant.json()["error"] == "invalid_client"
    assert token_request(idp, grant_type="password", client_id="portal-spa").json()["error"] \
        == "unsupported_grant_type"
    assert token_request(idp, grant_type="client_credentials", client_id="portal-spa"
                         ).json()["error"] == "unauthorized_client"


def test_replayed_code_revokes_its_tokens(idp: Server) -> None:
    code = browser_code(idp)[1]
    answer = token_request(idp, **code_form(code))
    # RFC 6749 §5.1
    assert (answer.headers["cache-control"], answer.headers["pragma"]) == ("no-store", "no-cache")
    first = answer.json()
    userinfo = f"{idp.base}/acme/userinfo"
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert httpx.get(userinfo, headers=bearer).status_code == 200
    replay = token_request(idp, **code_form(code))
    assert replay.status_code == 400
    assert replay.json()["error_description"] == ("The authorization code was already used; "
                                                  "the tokens issued with it are revoked.")
    revoked = httpx.get(userinfo, headers=bearer)
    assert revoked.status_code == 401
    assert 'error="invalid_token"' in revoked.headers["www-authenticate"]


def test_wrong_secret_is_401_with_www_authenticate(idp: Server) -> None:
    response = httpx.post(f"{idp.base}/globex/token", data={"grant_type": "client_credentials"},
                          auth=("billing", "wrong"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    post = httpx.post(f"{idp.base}/globex/token", data={
        "grant_type": "client_credentials", "client_id": "billing", "client_secret": SECRET})
    assert post.status_code == 401  # registered for client_secret_basic, not _post


@pytest.mark.parametrize(("content", "headers"), [
    (b'{"grant_type": "authorization_code"}', {"Content-Type": "application/json"}),
    (b"grant_type=authorization_code&grant_type=refresh_token",
     {"Content-Type": "application/x-www-form-urlencoded"}),
    (b"\xff\xfe\x00", {"Content-Type": "application/x-www-form-urlencoded"}),
    (b"", {"Content-Type": "application/x-www-form-urlencoded"}),
    (b"grant_type=authorization_code&client_id=portal-spa",
     {"Content-Type": "application/x-www-form-urlencoded"}),
    (b"grant_type=refresh_token&client_id=portal-spa",
     {"Content-Type": "application/x-www-form-urlencoded"}),
    (b"grant_type=client_credentials", {"Content-Type": "application/x-www-form-urlencoded",
                                        "Authorization": "Basic %%%"}),
    (b"grant_type=client_credentials", {"Content-Type": "application/x-www-form-urlencoded",
                                        "Authorization": "Bearer x"}),
    (b"a=" + b"x" * 5000, {"Content-Type": "application/x-www-form-urlencoded"}),
])
def test_malformed_bodies_never_500(idp: Server, content: bytes,
                                    headers: dict[str, str]) -> None:
    response = httpx.post(f"{idp.base}/acme/token", content=content, headers=headers)
    assert response.status_code in (400, 401), response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"  # RFC 6749 §5.1
    assert set(response.json()) == {"error", "error_description"}


def test_userinfo_errors(idp: Server) -> None:
    url = f"{idp.base}/acme/userinfo"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == f'Bearer realm="{idp.base}/acme"'
    bad = httpx.get(url, headers={"Authorization": "Bearer abc.def.ghi"})
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    machine = httpx.post(f"{idp.base}/globex/token", data={"grant_type": "client_credentials"},
                         auth=("billing", SECRET)).json()["access_token"]
    other_tenant = httpx.get(url, headers={"Authorization": f"Bearer {machine}"})
    assert other_tenant.status_code == 401
    no_openid = httpx.get(f"{idp.base}/globex/userinfo",
                          headers={"Authorization": f"Bearer {machine}"})
    assert no_openid.status_code == 403
    assert 'error="insufficient_scope"' in no_openid.headers["www-authenticate"]
    code = browser_code(idp)[1]
    access = token_request(idp, **code_form(code)).json()["access_token"]
    posted = httpx.post(url, data={"access_token": access})
    assert posted.status_code == 200 and posted.json()["sub"] == "alice"


def test_revoking_a_refresh_token_ends_its_family(idp: Server) -> None:
    tokens = token_request(idp, **code_form(browser_code(idp)[1])).json()
    other = httpx.post(f"{idp.base}/acme/revoke", data={
        "token": tokens["refresh_token"], "client_id": "other-spa"})
    assert other.status_code == 400 and other.json()["error"] == "unauthorized_client"
    done = httpx.post(f"{idp.base}/acme/revoke", data={
        "token": tokens["refresh_token"], "token_type_hint": "refresh_token",
        "client_id": "portal-spa"})
    assert done.status_code == 200
    assert httpx.post(f"{idp.base}/acme/revoke", data={
        "token": "unknown", "client_id": "portal-spa"}).status_code == 200
    assert token_request(idp, grant_type="refresh_token", refresh_token=tokens["refresh_token"],
                         client_id="portal-spa").status_code == 400
    assert httpx.get(f"{idp.base}/acme/userinfo", headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401


def test_logout(idp: Server) -> None:
    with httpx.Client(base_url=idp.base, follow_redirects=False) as browser:
        login = location(browser.get(authorize_url("/acme", seed_params())))
        consent = location(submit_login(browser, login, "alice", "wonderland"))
        code = query_of(location(submit_consent(browser, consent, "approve")))["code"]
        id_token = token_request(idp, **code_form(code)).json()["id_token"]
        unregistered = browser.get("/acme/logout", params={
            "id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/"},
            headers={"Accept": "application/json"})
        assert unregistered.status_code == 400
        assert browser.get(authorize_url("/acme", seed_params(prompt="none"))
                           ).headers["location"].startswith(CALLBACK + "?code=")  # still in
        session = browser.cookies.get("confidp_session_acme")
        assert session
        response = browser.get("/acme/logout", params={
            "id_token_hint": id_token, "post_logout_redirect_uri": "http://127.0.0.1:9999/",
            "state": "bye"})
        assert response.status_code == 302
        assert response.headers["location"] == "http://127.0.0.1:9999/?state=bye"
        assert "confidp_session_acme=\"\"" in response.headers["set-cookie"] or \
            "Max-Age=0" in response.headers["set-cookie"]
        # the old session cookie, presented again, no longer works: ended server-side
        after = browser.get(authorize_url("/acme", seed_params(prompt="none")),
                            headers={"Cookie": f"confidp_session_acme={session}"})
        assert query_of(after.headers["location"])["error"] == "login_required"
        page = browser.get("/acme/logout")
        assert page.status_code == 200 and "You have been signed out" in page.text
        # a POST without the session cookie continues by GET (tests/web/test_logout.py)
        posted = browser.post("/acme/logout", data={
            "id_token_hint": id_token, "post_logout_redirect_uri": "http://127.0.0.1:9999/",
            "state": "bye"})
        assert posted.status_code == 303
        followed = browser.get(posted.headers["location"])
        assert followed.headers["location"] == "http://127.0.0.1:9999/?state=bye"
        not_a_form = browser.post("/acme/logout", json={"state": "x"},
                                  headers={"Accept": "application/json"})
        assert not_a_form.status_code == 400
        assert not_a_form.json()["error"] == "invalid_request"


def test_logout_ends_the_session_server_side(idp: Server) -> None:
    with httpx.Client(base_url=idp.base, follow_redirects=False) as browser:
        login = location(browser.get(authorize_url("/acme", seed_params())))
        submit_login(browser, login, "alice", "wonderland")
        stolen = browser.cookies.get("confidp_session_acme")
        page = browser.get("/acme/logout")  # no hint: confirmed on the page
        browser.post("/acme/logout", data={**hidden_fields(page.text), "confirm": "yes"})
    with httpx.Client(base_url=idp.base, follow_redirects=False) as attacker:
        response = attacker.get(authorize_url("/acme", seed_params(prompt="none")),
                                headers={"Cookie": f"confidp_session_acme={stolen}"})
        assert query_of(response.headers["location"])["error"] == "login_required"


def test_key_rotation_keeps_old_tokens_verifiable(idp: Server, tmp_path: Path,
                                                  tenants_dir: Path) -> None:
    issuer = f"{idp.base}/acme"
    before = token_request(idp, **code_form(browser_code(idp)[1])).json()
    old_kid = pyjwt.get_unverified_header(before["id_token"])["kid"]
    subprocess.run([sys.executable, "-m", "confidp.cli", "keys", "rotate", "acme",
                    "--sign-after", "0s",  # (by default new keys sign 5 minutes later)
                    "--tenants", str(tenants_dir), "--state-dir", str(tmp_path / "state")],
                   check=True, capture_output=True)
    after = token_request(idp, **code_form(browser_code(idp)[1])).json()
    new_kid = pyjwt.get_unverified_header(after["id_token"])["kid"]
    assert new_kid != old_kid
    kids = {k["kid"] for k in httpx.get(f"{issuer}/jwks").json()["keys"]}
    assert {old_kid, new_kid} <= kids
    assert verified(idp, "acme", before["id_token"], "portal-spa", "RS256")["sub"] == "alice"
    assert verified(idp, "acme", after["id_token"], "portal-spa", "RS256")["sub"] == "alice"
    assert httpx.get(f"{issuer}/userinfo", headers={
        "Authorization": f"Bearer {before['access_token']}"}).status_code == 200
    subprocess.run([sys.executable, "-m", "confidp.cli", "keys", "retire", "acme",
                    "--tenants", str(tenants_dir), "--state-dir", str(tmp_path / "state")],
                   check=True, capture_output=True)
    assert old_kid not in {k["kid"] for k in httpx.get(f"{issuer}/jwks").json()["keys"]}


def test_removed_client_can_no_longer_redeem_or_refresh(idp: Server,
                                                        tenants_dir: Path) -> None:
    tokens = token_request(idp, **code_form(browser_code(idp)[1])).json()
    pending_code = browser_code(idp)[1]
    doc = json.loads(json.dumps(example("acme.yaml", idp.port)))
    doc["applications"] = [a for a in doc["applications"] if a["client_id"] != "portal-spa"]
    doc["applications"].append({"client_id": "other-spa", "name": "Other", "type": "public",
                                "redirect_uris": [CALLBACK], "scopes": ["openid"]})
    write_tenant(tenants_dir, "acme.yaml", doc)
    wait_until(lambda: "applications removed: portal-spa" in idp.log(), timeout=3)
    assert token_request(idp, **code_form(pending_code)).json()["error"] == "invalid_client"
    assert token_request(idp, grant_type="refresh_token", refresh_token=tokens["refresh_token"],
                         client_id="portal-spa").json()["error"] == "invalid_client"


def test_cors_for_browser_applications(idp: Server) -> None:
    """A single-page application calls /token from its own origin: only origins of the
    tenant's registered redirect URIs are allowed."""
    token_url = f"{idp.base}/acme/token"
    allowed = {"Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}
    preflight = httpx.options(token_url, headers=allowed)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "Content-Type" in preflight.headers["access-control-allow-headers"]
    stranger = httpx.options(token_url, headers={**allowed, "Origin": "https://evil.example"})
    assert stranger.status_code == 204
    assert "access-control-allow-origin" not in stranger.headers
    response = token_request(idp, **code_form(browser_code(idp)[1]))
    assert "access-control-allow-origin" not in response.headers  # no Origin, no CORS
    spa = httpx.post(token_url, data=code_form(browser_code(idp)[1]),
                     headers={"Origin": "http://127.0.0.1:9999"})
    assert spa.status_code == 200
    assert spa.headers["access-control-allow-origin"] == "http://127.0.0.1:9999"
    assert spa.headers["vary"] == "Origin"
    denied = httpx.post(token_url, data={"grant_type": "x", "client_id": "portal-spa"},
                        headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied.headers
