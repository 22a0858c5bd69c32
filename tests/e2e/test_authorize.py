"""The authorization endpoint, login, sessions and consent against the real server."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from confidp.sealing import KEY_FILE, Sealer
from confidp.web.flow import SIGN_IN_PURPOSE
from tests.e2e.flow import (
    authorize_url,
    hidden_fields,
    location,
    query_of,
    seed_params,
    submit_consent,
    submit_login,
)
from tests.support import REPO, Server, free_port, running_server, wait_until, write_tenant

pytestmark = pytest.mark.e2e
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml"}


def example(name: str, port: int, **changes: object) -> dict[str, object]:
    """A repository example tenant, moved to this server's port."""
    doc = yaml.safe_load((REPO / "tenants" / name).read_text())
    doc["issuer"] = doc["issuer"].replace("localhost:8000", f"127.0.0.1:{port}")
    doc.update(changes)
    return doc


@pytest.fixture
def idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> Iterator[Server]:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", example(
        "acme.yaml", port, login_throttle={"max_failures_per_user": 3,
                                           "max_failures_per_ip": 5, "window": "10m"}))
    globex = example("globex.yaml", port)
    globex["applications"][0]["redirect_uris"].append("http://127.0.0.1:9999/callback?tenant=gx")
    globex["applications"][0]["require_pkce"] = False
    write_tenant(tenants_dir, "globex.yaml", globex)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server:
        yield server


@pytest.fixture
def browser(idp: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=idp.base, timeout=10, follow_redirects=False) as client:
        yield client


def test_seed_request_reaches_the_login_page(browser: httpx.Client) -> None:
    response = browser.get(authorize_url("/acme", seed_params()))
    assert response.status_code == 302
    login = location(response)
    # the sign-in request, sealed (nothing stored yet): a usual one well under 1 KB
    assert re.fullmatch(r"/acme/login\?request=[A-Za-z0-9_-]{200,1000}", login)
    page = browser.get(login)
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    assert '<label for="username">' in page.text and '<label for="password">' in page.text
    assert set(hidden_fields(page.text)) == {"request", "csrf_token"}
    assert "Acme Customer Portal" in page.text
    assert "<script" not in page.text


def test_seed_path_is_the_same_endpoint(browser: httpx.Client) -> None:
    response = browser.get(authorize_url("/acme", seed_params(),
                                         "/api/id/v1/auth/authorize"))
    assert response.status_code == 302
    assert location(response).startswith("/acme/login?request=")


@pytest.mark.parametrize(("drop", "message", "missing"), [
    (("state",), "Missing required OAuth parameters.", ["state"]),
    (("client_id", "scope"), "Missing required OAuth parameters.", ["client_id", "scope"]),
    (("code_challenge",), "Missing PKCE parameters.", ["code_challenge"]),
    (("code_challenge", "code_challenge_method"), "Missing PKCE parameters.",
     ["code_challenge", "code_challenge_method"]),
])
def test_missing_parameters(browser: httpx.Client, drop: tuple[str, ...], message: str,
                            missing: list[str]) -> None:
    params = {k: v for k, v in seed_params().items() if k not in drop}
    response = browser.get(authorize_url("/acme", params), headers=JSON)
    assert response.status_code == 400
    assert "location" not in response.headers
    body = response.json()
    assert (body["error"], body["error_description"], body["missing_parameters"]) == (
        "invalid_request", message, missing)


def test_only_response_type_code(browser: httpx.Client) -> None:
    response = browser.get(authorize_url("/acme", seed_params(response_type="token")),
                           headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Only response_type=code is supported."
    assert response.json()["error"] == "unsupported_response_type"


def test_errors_are_a_themed_page_for_browsers(browser: httpx.Client) -> None:
    response = browser.get(authorize_url("/acme", seed_params(response_type="token")),
                           headers=HTML)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "Only response_type=code is supported." in response.text
    assert "Acme Corporation" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    missing = browser.get(authorize_url("/acme", {"client_id": "portal-spa"}), headers=HTML)
    assert missing.status_code == 400
    assert "Missing required OAuth parameters." in missing.text
    assert "<code>code_challenge_method</code>" in missing.text


@pytest.mark.parametrize("redirect_uri", [
    "http://127.0.0.1:9999/callback/",   # trailing slash
    "http://127.0.0.1:9998/callback",    # port
    "http://127.0.0.1:9999/callbacks",   # path
    "http://127.0.0.1:9999/Callback",    # case
    "https://evil.example.com/callback",
])
def test_redirect_uri_variants_are_400_never_redirected(browser: httpx.Client,
                                                        redirect_uri: str) -> None:
    response = browser.get(authorize_url("/acme", seed_params(redirect_uri)), headers=JSON)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["error_description"] == "Invalid authorization context."


def test_unknown_client(browser: httpx.Client) -> None:
    response = browser.get(authorize_url("/acme", seed_params(client_id="nope")), headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Invalid authorization context."


def test_client_of_another_tenant(browser: httpx.Client) -> None:
    response = browser.get(authorize_url("/globex", seed_params()), headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Invalid authorization context."


def test_plain_pkce(browser: httpx.Client) -> None:
    response = browser.get(authorize_url("/acme", seed_params(
        code_challenge_method="plain", code_challenge="a" * 43)), headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Invalid PKCE parameters."


def test_scope_not_allowed_goes_back_to_the_client(browser: httpx.Client, idp: Server) -> None:
    response = browser.get(authorize_url("/acme", seed_params(scope="openid invoices.write")),
                           headers=JSON)
    assert response.status_code == 302
    assert location(response).startswith("http://127.0.0.1:9999/callback?error=invalid_scope&")
    assert query_of(location(response)) == {
        "error": "invalid_scope",
        "error_description": "The application may not ask for 'invoices.write'.",
        "state": "9d4f8dd1", "iss": f"{idp.base}/acme"}


ERRORS_AFTER_VERIFICATION = [
    ({"request": "eyJhbGciOiJub25lIn0.eyJzdGF0ZSI6IngifQ."}, "request_not_supported"),
    ({"request_uri": "https://portal.example.com/request/1"}, "request_uri_not_supported"),
    ({"scope": "openid admin"}, "invalid_scope"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"prompt": "select_account"}, "invalid_request"),
    ({"max_age": "soon"}, "invalid_request"),
    ({"response_mode": "fragment"}, "invalid_request"),
    ({"response_mode": "form_post"}, "invalid_request"),
]


def test_errors_after_verification_are_error_redirects(browser: httpx.Client,
                                                       idp: Server) -> None:
    """RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6, RFC 9207: in the query (the only
    response mode), with state and iss, keeping the redirect URI's own query."""
    for extra, error in ERRORS_AFTER_VERIFICATION:
        params = seed_params("http://127.0.0.1:9999/callback?tenant=gx", **{
            "client_id": "billing", "scope": "openid groups", **extra})
        response = browser.get(authorize_url("/globex", params), headers=HTML)
        callback = location(response)
        assert response.status_code == 302
        assert callback.startswith(f"http://127.0.0.1:9999/callback?tenant=gx&error={error}&")
        values = query_of(callback)
        assert (values["state"], values["iss"]) == ("9d4f8dd1", f"{idp.base}/globex"), extra
        assert set(values) == {"tenant", "error", "error_description", "state", "iss"}
        assert "set-cookie" not in response.headers  # nothing began: no flow, no session


def test_a_request_object_alone_is_answered_request_not_supported(browser: httpx.Client,
                                                                   idp: Server) -> None:
    """As the OpenID conformance suite sends it: state, nonce and scope only inside the
    object, beside it client_id, redirect_uri, response_type and scope."""
    response = browser.get(authorize_url("/acme", {
        "client_id": "portal-spa", "redirect_uri": "http://127.0.0.1:9999/callback",
        "response_type": "code", "scope": "openid",
        "request": "eyJhbGciOiJub25lIn0.eyJzdGF0ZSI6IngiLCJub25jZSI6Im4ifQ."}))
    assert query_of(location(response)) == {
        "error": "request_not_supported",
        "error_description": "The request parameter is not supported.",
        "iss": f"{idp.base}/acme"}


def test_no_error_redirect_before_the_client_and_redirect_uri_are_proven(
        browser: httpx.Client) -> None:
    for unproven in ({"client_id": "nope"}, {"redirect_uri": "http://127.0.0.1:9999/callback/"},
                     {"redirect_uri": "https://evil.example.com/callback"},
                     {"redirect_uri": ""}, {"client_id": ""}):
        for extra, _ in ERRORS_AFTER_VERIFICATION:
            response = browser.get(authorize_url("/acme", seed_params(**{**extra, **unproven})),
                                   headers=JSON)
            assert response.status_code == 400, (unproven, extra)
            assert "location" not in response.headers
            assert response.json()["error_description"] in (
                "Invalid authorization context.", "Missing required OAuth parameters.")


def test_pkce_per_application(browser: httpx.Client) -> None:
    """globex's billing app (confidential) says require_pkce: false in this test's tenant
    file; acme's portal-spa (public) cannot."""
    without = {k: v for k, v in seed_params(
        "https://billing.globex.example/oauth/callback", client_id="billing",
        scope="openid").items() if not k.startswith("code_challenge")}
    assert location(browser.get(authorize_url("/globex", without))).startswith(
        "/globex/login?request=")
    half = browser.get(authorize_url("/globex", {**without, "code_challenge": "x" * 43}),
                       headers=JSON)
    assert (half.status_code, half.json()["error_description"]) == (
        400, "Missing PKCE parameters.")
    plain = browser.get(authorize_url("/globex", {
        **without, "code_challenge": "x" * 43, "code_challenge_method": "plain"}), headers=JSON)
    assert (plain.status_code, plain.json()["error_description"]) == (
        400, "Invalid PKCE parameters.")
    spa = {k: v for k, v in seed_params().items() if not k.startswith("code_challenge")}
    response = browser.get(authorize_url("/acme", spa), headers=JSON)
    assert (response.status_code, response.json()["error_description"]) == (
        400, "Missing PKCE parameters.")
    # another parameter missing too: PKCE is named only where it is required
    response = browser.get(authorize_url("/globex", {**without, "state": ""}), headers=JSON)
    assert response.json()["missing_parameters"] == ["state"]
    response = browser.get(authorize_url("/acme", {**spa, "state": ""}), headers=JSON)
    assert response.json()["missing_parameters"] == ["state", "code_challenge",
                                                     "code_challenge_method"]


def test_duplicated_parameter(browser: httpx.Client) -> None:
    params = [*seed_params().items(), ("redirect_uri", "https://evil.example.com/cb")]
    response = browser.get(authorize_url("/acme", params), headers=JSON)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "redirect_uri" in response.json()["detail"]


def test_unknown_parameters_are_ignored_however_many(browser: httpx.Client) -> None:
    """RFC 6749 §3.1: unknown parameters MUST be ignored, so their number is not limited;
    the size of the whole query is (16 KiB)."""
    extra = [(f"extension_{i}", "x") for i in range(500)]
    response = browser.get(authorize_url("/acme", [*extra, *seed_params().items()]))
    assert location(response).startswith("/acme/login?request=")
    by_post = browser.post("/acme/authorize", data={**dict(extra), **seed_params()})
    assert location(by_post).startswith("/acme/login?request=")
    too_big = browser.post("/acme/authorize", headers=JSON, data={
        **seed_params(), "padding": "x" * 16 * 1024})
    assert too_big.status_code == 400 and "location" not in too_big.headers
    assert too_big.json()["error_description"] == "Malformed request parameters."
    assert "16384" in too_big.json()["detail"]


def test_unknown_parameters_at_the_other_endpoints(browser: httpx.Client) -> None:
    extra = {f"extension_{i}": "x" for i in range(100)}
    token = browser.post("/acme/token", data={**extra, "grant_type": "authorization_code",
                                              "client_id": "portal-spa", "code": "nope",
                                              "redirect_uri": "http://127.0.0.1:9999/callback",
                                              "code_verifier": "v" * 43})
    assert (token.status_code, token.json()["error"]) == (400, "invalid_grant")
    logout = browser.get("/acme/logout", params=extra)
    assert logout.status_code < 500 and "Malformed" not in logout.text


def test_malformed_query_is_400(browser: httpx.Client) -> None:
    response = browser.get("/acme/authorize?client_id=%FF%FE", headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Malformed request parameters."


def test_full_flow_with_consent(browser: httpx.Client, idp: Server) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params(nonce="n-0S6"))))
    response = submit_login(browser, login, "alice", "wonderland")
    assert response.status_code == 303
    consent = location(response)
    assert consent.startswith("/acme/consent?request=")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("confidp_session_acme=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/acme" in cookie
    assert "Secure" not in cookie  # an http (localhost) issuer
    page = browser.get(consent)
    assert "Read your orders" in page.text and "Stay signed in" in page.text
    done = submit_consent(browser, consent, "approve")
    assert done.status_code == 303
    callback = location(done)
    assert callback.startswith("http://127.0.0.1:9999/callback?code=")
    values = query_of(callback)
    assert set(values) == {"code", "state", "iss"}
    assert values["state"] == "9d4f8dd1"
    assert values["iss"] == f"{idp.base}/acme"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", values["code"])
    # the consent is remembered: the next request goes straight back with a new code
    again = browser.get(authorize_url("/acme", seed_params(state="second")))
    assert again.status_code == 302
    assert query_of(location(again))["state"] == "second"
    assert query_of(location(again))["code"] != values["code"]


def test_consent_denied(browser: httpx.Client, idp: Server) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    consent = location(submit_login(browser, login, "alice", "wonderland"))
    denied = location(submit_consent(browser, consent, "deny"))
    assert query_of(denied) == {"error": "access_denied",
                                "error_description": "The user denied the request.",
                                "state": "9d4f8dd1", "iss": f"{idp.base}/acme"}


def test_prompt_consent_asks_again(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    consent = location(submit_login(browser, login, "alice", "wonderland"))
    submit_consent(browser, consent, "approve")
    again = location(browser.get(authorize_url("/acme", seed_params(prompt="consent"))))
    assert again.startswith("/acme/consent?request=")


def test_no_consent_app_and_redirect_query_kept(browser: httpx.Client, idp: Server) -> None:
    params = seed_params("http://127.0.0.1:9999/callback?tenant=gx", client_id="billing",
                         scope="openid groups")
    login = location(browser.get(authorize_url("/globex", params)))
    callback = location(submit_login(browser, login, "hank", "hankscorpio"))
    assert callback.startswith("http://127.0.0.1:9999/callback?tenant=gx&code=")
    assert query_of(callback)["iss"] == f"{idp.base}/globex"


def test_prompt_none_without_session(browser: httpx.Client, idp: Server) -> None:
    response = browser.get(authorize_url("/acme", seed_params(prompt="none")))
    assert response.status_code == 302
    assert query_of(location(response)) == {
        "error": "login_required", "error_description": "The user is not signed in.",
        "state": "9d4f8dd1", "iss": f"{idp.base}/acme"}


def test_prompt_none_needing_consent(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params(scope="openid"))))
    consent = location(submit_login(browser, login, "alice", "wonderland"))
    submit_consent(browser, consent, "approve")
    response = browser.get(authorize_url("/acme", seed_params(prompt="none")))
    assert query_of(location(response))["error"] == "consent_required"
    ok = browser.get(authorize_url("/acme", seed_params(prompt="none", scope="openid")))
    assert "code" in query_of(location(ok))


def test_prompt_login_and_max_age_force_a_fresh_login(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    consent = location(submit_login(browser, login, "alice", "wonderland"))
    submit_consent(browser, consent, "approve")
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        response = browser.get(authorize_url("/acme", seed_params(**extra)))
        login = location(response)
        assert login.startswith("/acme/login?request="), extra
        assert browser.get(login).status_code == 200  # the form, not a silent pass
        assert "code" in query_of(location(submit_login(browser, login, "alice",
                                                        "wonderland")))


def test_wrong_password_unknown_user_and_disabled_user(tmp_path: Path, tenants_dir: Path,
                                                       themes_dir: Path) -> None:
    port = free_port()
    doc = example("acme.yaml", port)
    doc["users"].append({**doc["users"][0], "username": "bob", "subject": "bob",
                         "disabled": True})
    write_tenant(tenants_dir, "acme.yaml", doc)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server, \
            httpx.Client(base_url=server.base, follow_redirects=False) as client:
        texts = []
        for username, password in (("alice", "wrong"), ("nobody", "wonderland"),
                                   ("bob", "wonderland")):
            login = location(client.get(authorize_url("/acme", seed_params())))
            response = submit_login(client, login, username, password)
            assert response.status_code == 401
            assert "The username or password is incorrect." in response.text
            assert "set-cookie" not in response.headers
            texts.append(response.text.replace(username, "USER"))
        # the same page whichever was wrong (only the per-request ids differ)
        strip = [re.sub(r'value="[A-Za-z0-9_-]{43,}"', "", t) for t in texts]
        assert strip[0] == strip[1] == strip[2]


def test_throttling_per_user_and_per_ip(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    statuses = [submit_login(browser, login, "alice", "nope").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    blocked = submit_login(browser, login, "alice", "wonderland")  # even the right password
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 10 minutes." in blocked.text
    assert 590 <= int(blocked.headers["retry-after"]) <= 600
    # per IP: 5 failures in all from this address, whatever the username
    for name in ("x1", "x2"):
        assert submit_login(browser, login, name, "nope").status_code == 401
    assert submit_login(browser, login, "someone-new", "pw").status_code == 429


def test_csrf_token_and_browser_binding(browser: httpx.Client, idp: Server) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    fields = hidden_fields(browser.get(login).text)
    forged = browser.post("/acme/login", data={**fields, "csrf_token": "x" * 43,
                                               "username": "alice", "password": "wonderland"},
                          headers=HTML)
    assert forged.status_code == 400 and "This form has expired." in forged.text
    with httpx.Client(base_url=idp.base, follow_redirects=False) as other_browser:
        stolen = other_browser.post("/acme/login", data={
            **fields, "username": "alice", "password": "wonderland"}, headers=JSON)
        assert stolen.status_code == 400
        assert stolen.json()["error_description"] == \
            "This sign-in request was started in another browser."


def test_tenant_context_mismatch(browser: httpx.Client, idp: Server) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    consent = location(submit_login(browser, login, "alice", "wonderland"))
    session = browser.cookies.get("confidp_session_acme")
    assert session
    # an acme session presented to globex
    response = browser.get(
        authorize_url("/globex", seed_params("https://billing.globex.example/oauth/callback",
                                             client_id="billing", scope="openid")),
        headers={**JSON, "Cookie": f"confidp_session_globex={session}"})
    assert response.status_code == 400
    assert response.json()["error_description"] == "Tenant context mismatch."
    # a made-up id naming another tenant is no session at all: the login page, not a 400
    made_up = f"acme.{'A' * 43}"
    response = browser.get(
        authorize_url("/globex", seed_params("https://billing.globex.example/oauth/callback",
                                             client_id="billing", scope="openid")),
        headers={"Cookie": f"confidp_session_globex={made_up}"})
    assert location(response).startswith("/globex/login?request=")
    # an acme sign-in request continued at globex
    request_id = query_of(consent)["request"]
    flow = browser.cookies.get("confidp_flow_acme")
    response = browser.get(f"/globex/login?request={request_id}",
                           headers={**JSON, "Cookie": f"confidp_flow_globex={flow}"})
    assert response.status_code == 400
    assert response.json()["error_description"] == "Tenant context mismatch."


def test_only_the_exact_cookie_name_counts(browser: httpx.Client, idp: Server) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params(scope="openid"))))
    submit_consent(browser, location(submit_login(browser, login, "alice", "wonderland")),
                   "approve")
    session = browser.cookies.get("confidp_session_acme")
    silent = authorize_url("/acme", seed_params(scope="openid", prompt="none"))
    assert "code" in query_of(location(browser.get(silent)))
    for name in ("__Host-confidp_session_acme", "__Secure-confidp_session_acme",
                 "confidp_session_acme_", "Confidp_session_acme"):
        with httpx.Client(base_url=idp.base, follow_redirects=False) as other:
            answer = query_of(location(other.get(silent, headers={
                "Cookie": f"{name}={session}"})))
            assert answer["error"] == "login_required", name


def test_a_session_of_another_tenant_never_satisfies_a_request(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params(scope="openid"))))
    consent = location(submit_login(browser, login, "alice", "wonderland"))
    submit_consent(browser, consent, "approve")
    response = browser.get(authorize_url(
        "/globex", seed_params("https://billing.globex.example/oauth/callback",
                               client_id="billing", scope="openid")))
    assert location(response).startswith("/globex/login?request=")


def test_redirect_uri_removed_while_login_pending(tmp_path: Path, tenants_dir: Path,
                                                  themes_dir: Path) -> None:
    port = free_port()
    doc = example("acme.yaml", port)
    write_tenant(tenants_dir, "acme.yaml", doc)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server, \
            httpx.Client(base_url=server.base, follow_redirects=False) as client:
        login = location(client.get(authorize_url("/acme", seed_params())))
        page = client.get(login)
        doc["applications"][0]["redirect_uris"] = ["https://portal.example.com/callback"]
        write_tenant(tenants_dir, "acme.yaml", doc)
        wait_until(lambda: server.status("acme")["content_hash"] != "" and
                   "redirect URIs of portal-spa -http://127.0.0.1:9999/callback"
                   in server.log(), timeout=3)
        response = client.post("/acme/login", data={
            **hidden_fields(page.text), "username": "alice", "password": "wonderland"},
            headers=JSON)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.json()["error_description"] == "Invalid authorization context."


def test_expired_or_unknown_sign_in_request(browser: httpx.Client) -> None:
    response = browser.get("/acme/login?request=nope", headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == \
        "This sign-in request has expired or was already used."
    assert browser.get("/acme/login", headers=JSON).status_code == 400
    assert browser.post("/acme/login", data={}, headers=JSON).status_code == 400
    assert browser.post("/acme/consent", content=b"\xff\xfe", headers={
        **JSON, "Content-Type": "application/x-www-form-urlencoded"}).status_code == 400


def test_a_sign_in_request_is_used_once(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    consent = location(submit_login(browser, login, "alice", "wonderland"))
    page = browser.get(consent)
    fields = hidden_fields(page.text)
    first = browser.post("/acme/consent", data={**fields, "decision": "approve"})
    assert "code" in query_of(location(first))
    # the same form again (a double submit), the consent and the login page again
    again = browser.post("/acme/consent", data={**fields, "decision": "approve"},
                         headers=JSON)
    assert again.status_code == 400
    for url in (consent, login):
        reopened = browser.get(url, headers=JSON)
        assert reopened.status_code == 400, url
        assert reopened.json()["error_description"] == \
            "This sign-in request has expired or was already used."


def test_a_sign_in_request_changed_in_transit_is_refused(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    sealed = query_of(login)["request"]
    assert "9d4f8dd1" not in sealed and "portal-spa" not in sealed
    for i in (0, len(sealed) // 2, len(sealed) - 1):  # a character changed anywhere
        changed = sealed[:i] + ("A" if sealed[i] != "A" else "B") + sealed[i + 1:]
        response = browser.get(f"/acme/login?request={changed}", headers=JSON)
        assert response.status_code == 400
        assert response.json()["error_description"] == \
            "This sign-in request has expired or was already used."
    assert browser.get(f"/acme/login?request={sealed[:-4]}", headers=JSON).status_code == 400
    assert browser.get(login).status_code == 200


def test_sealing_key_rotated_while_serving(browser: httpx.Client, tmp_path: Path) -> None:
    """`confidp sealing-key rotate` beside a running server: a sign-in begun before finishes,
    one begun after is sealed with the new key, and nothing restarts."""
    before = location(browser.get(authorize_url("/acme", seed_params())))
    key_file = tmp_path / "state" / KEY_FILE
    old = key_file.read_bytes()
    rotated = subprocess.run([sys.executable, "-m", "confidp.cli", "sealing-key", "rotate",
                              "--state-dir", str(tmp_path / "state")],
                             capture_output=True, text=True, check=True)
    assert [line.split()[1] for line in rotated.stdout.splitlines()] == ["seals", "opens"]
    new = key_file.read_bytes()
    assert new[32:] == old and new[:32] != old

    def sealed_with_the_new_key() -> str | None:  # the server looks within a second
        login = location(browser.get(authorize_url("/acme", seed_params())))
        value = query_of(login)["request"]
        return value if Sealer([new[:32]]).unseal(value, SIGN_IN_PURPOSE) else None
    after = wait_until(sealed_with_the_new_key, timeout=5)
    assert Sealer([old]).unseal(after, SIGN_IN_PURPOSE) is None
    consent = location(submit_login(browser, before, "alice", "wonderland"))
    assert "code" in query_of(location(submit_consent(browser, consent, "approve")))


def test_long_parameters_and_too_long_together(browser: httpx.Client) -> None:
    long_state = "s" * 2048  # MAX_VALUE_LENGTH
    login = location(browser.get(authorize_url("/acme", seed_params(state=long_state))))
    assert len(login) < 8192
    consent = location(submit_login(browser, login, "alice", "wonderland"))
    assert query_of(location(submit_consent(browser, consent, "approve")))["state"] == \
        long_state
    browser.cookies.clear()  # without a session, the request must travel to the login page
    response = browser.get(authorize_url("/acme", seed_params(
        state=long_state, nonce="n" * 2048, login_hint="h" * 2048)), headers=JSON)
    assert response.status_code == 400 and "location" not in response.headers
    assert response.json()["error_description"] == "Malformed request parameters."
    assert "too long together" in response.json()["detail"]


def test_login_lifetime_shortened_by_a_reload_applies_at_once(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    port = free_port()
    doc = example("acme.yaml", port)
    write_tenant(tenants_dir, "acme.yaml", doc)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server, \
            httpx.Client(base_url=server.base, follow_redirects=False) as client:
        login = location(client.get(authorize_url("/acme", seed_params())))
        assert client.get(login).status_code == 200
        time.sleep(1.1)
        write_tenant(tenants_dir, "acme.yaml", {**doc, "lifetimes": {"login": "1s"}})
        wait_until(lambda: "acme.yaml" in server.log() and "lifetimes" in server.log(),
                   timeout=3)
        response = client.get(login, headers=JSON)
        assert response.status_code == 400
        assert response.json()["error_description"] == \
            "This sign-in request has expired or was already used."


def test_wrong_method(browser: httpx.Client) -> None:
    response = browser.put("/acme/authorize")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_authorization_request_by_post(browser: httpx.Client) -> None:
    """OpenID Connect Core §3.1.2.1: the authorization endpoint accepts POST too."""
    response = browser.post("/acme/authorize", data=seed_params())
    assert location(response).startswith("/acme/login?request=")
    missing = browser.post("/acme/authorize", data={"client_id": "portal-spa"}, headers=JSON)
    assert missing.status_code == 400
    assert missing.json()["error_description"] == "Missing required OAuth parameters."
    as_json = browser.post("/acme/authorize", json=seed_params(), headers=JSON)
    assert as_json.status_code == 400


def test_page_headers(browser: httpx.Client) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    page = browser.get(login)
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self' http://127.0.0.1:9999" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


def test_theme_assets(browser: httpx.Client) -> None:
    page = browser.get(location(browser.get(authorize_url("/globex", seed_params(
        "https://billing.globex.example/oauth/callback", client_id="billing",
        scope="openid"))))).text
    css_url = re.search(r'href="(/globex/assets/style\.css\?v=[^"]+)"', page)
    assert css_url is not None
    css = browser.get(css_url.group(1))
    assert css.status_code == 200 and "midnight theme" in css.text
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert browser.get(css_url.group(1), headers={"If-None-Match": css.headers["etag"]}
                       ).status_code == 304
    branding = re.search(r'href="(/globex/theme\.css\?v=[^"]+)"', page)
    assert branding is not None
    assert "--primary: #ff7a18;" in browser.get(branding.group(1)).text
    assert browser.get("/globex/assets/../../../etc/passwd").status_code == 404
    assert browser.get("/globex/assets/%2e%2e/templates/base.html").status_code == 404


def test_theme_edit_is_served_without_restart(browser: httpx.Client, idp: Server,
                                              themes_dir: Path) -> None:
    login = location(browser.get(authorize_url("/acme", seed_params())))
    shutil.copy(themes_dir / "default" / "templates" / "login.html",
                themes_dir / "default" / "templates" / "login.html.bak")
    path = themes_dir / "default" / "templates" / "login.html"
    path.write_text(path.read_text().replace('{{ _("Sign in") }}</button>', "Continue</button>"))
    wait_until(lambda: "Continue</button>" in browser.get(login).text, timeout=3)


def test_a_session_follows_its_user_through_reloads(tmp_path: Path, tenants_dir: Path,
                                                    themes_dir: Path) -> None:
    """The user is found by subject, as the token grants find them: renamed, they stay signed
    in; disabled or removed, the session ends at once."""
    port = free_port()
    doc = example("acme.yaml", port)
    doc["users"][0]["subject"] = "alice-0001"
    write_tenant(tenants_dir, "acme.yaml", doc)
    silent = authorize_url("/acme", seed_params(scope="openid", prompt="none"))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server, \
            httpx.Client(base_url=server.base, follow_redirects=False) as client:
        login = location(client.get(authorize_url("/acme", seed_params(scope="openid"))))
        submit_consent(client, location(submit_login(client, login, "alice", "wonderland")),
                       "approve")
        assert "code" in query_of(location(client.get(silent)))

        def reload(change: dict[str, object], expect: str) -> None:
            user = {**doc["users"][0], **change}
            write_tenant(tenants_dir, "acme.yaml", {**doc, "users": [user]})
            wait_until(lambda: expect in server.log(), timeout=3)

        reload({"username": "alice.liddell"}, "users added: alice.liddell")
        assert "code" in query_of(location(client.get(silent)))
        reload({"username": "alice.liddell", "disabled": True},
               "user alice.liddell changed: disabled")
        assert query_of(location(client.get(silent)))["error"] == "login_required"
        write_tenant(tenants_dir, "acme.yaml", {**doc, "users": [
            {**doc["users"][0], "username": "alice.liddell"}]})
        wait_until(lambda: server.log().count("user alice.liddell changed: disabled") == 2,
                   timeout=3)
        # the session ended with the disabling; enabling again does not bring it back
        assert query_of(location(client.get(silent)))["error"] == "login_required"


def test_session_idle_and_absolute_lifetimes(tmp_path: Path, tenants_dir: Path,
                                             themes_dir: Path) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", example(
        "acme.yaml", port, lifetimes={"session_idle": "2s", "session_absolute": "4s"}))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server, \
            httpx.Client(base_url=server.base, follow_redirects=False) as client:
        def signed_in() -> bool:
            response = client.get(authorize_url("/acme", seed_params(scope="openid")))
            return "code" in query_of(location(response))

        login = location(client.get(authorize_url("/acme", seed_params(scope="openid"))))
        submit_consent(client, location(submit_login(client, login, "alice", "wonderland")),
                       "approve")
        assert signed_in()
        for _ in range(3):  # used every second: the idle lifetime keeps being extended
            time.sleep(1)
            assert signed_in()
        time.sleep(1.2)  # past the 4 s absolute lifetime, however recently used
        assert not signed_in()
        login = location(client.get(authorize_url("/acme", seed_params(scope="openid"))))
        submit_login(client, login, "alice", "wonderland")
        assert signed_in()
        time.sleep(2.5)  # idle longer than 2 s
        assert not signed_in()
