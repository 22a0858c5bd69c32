"""The authorization endpoint, login, sessions and consent: the sign-in steps, in-process
(tests.inprocess). What needs a real process (reloads, the sealing key rotated by the CLI)
stays in tests/e2e/test_authorize.py."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.e2e.flow import authorize_url, hidden_fields, location, query_of, seed_params
from tests.inprocess import InProcess, serving, submit_consent, submit_login
from tests.support import write_tenant
from tests.web.conftest import example

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml"}


async def test_seed_request_reaches_the_login_page(browser: httpx.AsyncClient) -> None:
    response = await browser.get(authorize_url("/acme", seed_params()))
    assert response.status_code == 302
    login = location(response)
    # the sign-in request, sealed (nothing stored yet): a usual one well under 1 KB
    assert re.fullmatch(r"/acme/login\?request=[A-Za-z0-9_-]{200,1000}", login)
    page = await browser.get(login)
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    assert '<label for="username">' in page.text and '<label for="password">' in page.text
    assert set(hidden_fields(page.text)) == {"request", "csrf_token"}
    assert "Acme Customer Portal" in page.text
    assert "<script" not in page.text


async def test_seed_path_is_the_same_endpoint(browser: httpx.AsyncClient) -> None:
    response = await browser.get(authorize_url("/acme", seed_params(),
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
async def test_missing_parameters(browser: httpx.AsyncClient, drop: tuple[str, ...], message: str,
                            missing: list[str]) -> None:
    params = {k: v for k, v in seed_params().items() if k not in drop}
    response = await browser.get(authorize_url("/acme", params), headers=JSON)
    assert response.status_code == 400
    assert "location" not in response.headers
    body = response.json()
    assert (body["error"], body["error_description"], body["missing_parameters"]) == (
        "invalid_request", message, missing)


async def test_only_response_type_code(browser: httpx.AsyncClient) -> None:
    response = await browser.get(authorize_url("/acme", seed_params(response_type="token")),
                           headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Only response_type=code is supported."
    assert response.json()["error"] == "unsupported_response_type"


async def test_errors_are_a_themed_page_for_browsers(browser: httpx.AsyncClient) -> None:
    response = await browser.get(authorize_url("/acme", seed_params(response_type="token")),
                           headers=HTML)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "Only response_type=code is supported." in response.text
    assert "Acme Corporation" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    missing = await browser.get(authorize_url("/acme", {"client_id": "portal-spa"}), headers=HTML)
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
async def test_redirect_uri_variants_are_400_never_redirected(browser: httpx.AsyncClient,
                                                        redirect_uri: str) -> None:
    response = await browser.get(authorize_url("/acme", seed_params(redirect_uri)), headers=JSON)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["error_description"] == "Invalid authorization context."


async def test_unknown_client(browser: httpx.AsyncClient) -> None:
    response = await browser.get(authorize_url("/acme", seed_params(client_id="nope")),
        headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Invalid authorization context."


async def test_client_of_another_tenant(browser: httpx.AsyncClient) -> None:
    response = await browser.get(authorize_url("/globex", seed_params()), headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Invalid authorization context."


async def test_plain_pkce(browser: httpx.AsyncClient) -> None:
    response = await browser.get(authorize_url("/acme", seed_params(
        code_challenge_method="plain", code_challenge="a" * 43)), headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Invalid PKCE parameters."


async def test_scope_not_allowed_goes_back_to_the_client(browser: httpx.AsyncClient,
                                                         idp: InProcess) -> None:
    response = await browser.get(authorize_url("/acme", seed_params(scope="openid invoices.write")),
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


async def test_errors_after_verification_are_error_redirects(browser: httpx.AsyncClient,
                                                       idp: InProcess) -> None:
    """RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6, RFC 9207: in the query (the only
    response mode), with state and iss, keeping the redirect URI's own query."""
    for extra, error in ERRORS_AFTER_VERIFICATION:
        params = seed_params("http://127.0.0.1:9999/callback?tenant=gx", **{
            "client_id": "billing", "scope": "openid groups", **extra})
        response = await browser.get(authorize_url("/globex", params), headers=HTML)
        callback = location(response)
        assert response.status_code == 302
        assert callback.startswith(f"http://127.0.0.1:9999/callback?tenant=gx&error={error}&")
        values = query_of(callback)
        assert (values["state"], values["iss"]) == ("9d4f8dd1", f"{idp.base}/globex"), extra
        assert set(values) == {"tenant", "error", "error_description", "state", "iss"}
        assert "set-cookie" not in response.headers  # nothing began: no flow, no session


async def test_a_request_object_alone_is_answered_request_not_supported(browser: httpx.AsyncClient,
                                                                   idp: InProcess) -> None:
    """As the OpenID conformance suite sends it: state, nonce and scope only inside the
    object, beside it client_id, redirect_uri, response_type and scope."""
    response = await browser.get(authorize_url("/acme", {
        "client_id": "portal-spa", "redirect_uri": "http://127.0.0.1:9999/callback",
        "response_type": "code", "scope": "openid",
        "request": "eyJhbGciOiJub25lIn0.eyJzdGF0ZSI6IngiLCJub25jZSI6Im4ifQ."}))
    assert query_of(location(response)) == {
        "error": "request_not_supported",
        "error_description": "The request parameter is not supported.",
        "iss": f"{idp.base}/acme"}


async def test_no_error_redirect_before_the_client_and_redirect_uri_are_proven(
        browser: httpx.AsyncClient) -> None:
    for unproven in ({"client_id": "nope"}, {"redirect_uri": "http://127.0.0.1:9999/callback/"},
                     {"redirect_uri": "https://evil.example.com/callback"},
                     {"redirect_uri": ""}, {"client_id": ""}):
        for extra, _ in ERRORS_AFTER_VERIFICATION:
            url = authorize_url("/acme", seed_params(**{**extra, **unproven}))
            response = await browser.get(url, headers=JSON)
            assert response.status_code == 400, (unproven, extra)
            assert "location" not in response.headers
            assert response.json()["error_description"] in (
                "Invalid authorization context.", "Missing required OAuth parameters.")


async def test_pkce_per_application(browser: httpx.AsyncClient) -> None:
    """globex's billing app (confidential) says require_pkce: false in this test's tenant
    file; acme's portal-spa (public) cannot."""
    without = {k: v for k, v in seed_params(
        "https://billing.globex.example/oauth/callback", client_id="billing",
        scope="openid").items() if not k.startswith("code_challenge")}
    assert location(await browser.get(authorize_url("/globex", without))).startswith(
        "/globex/login?request=")
    half = await browser.get(authorize_url("/globex", {**without, "code_challenge": "x" * 43}),
                       headers=JSON)
    assert (half.status_code, half.json()["error_description"]) == (
        400, "Missing PKCE parameters.")
    plain = await browser.get(authorize_url("/globex", {
        **without, "code_challenge": "x" * 43, "code_challenge_method": "plain"}), headers=JSON)
    assert (plain.status_code, plain.json()["error_description"]) == (
        400, "Invalid PKCE parameters.")
    spa = {k: v for k, v in seed_params().items() if not k.startswith("code_challenge")}
    response = await browser.get(authorize_url("/acme", spa), headers=JSON)
    assert (response.status_code, response.json()["error_description"]) == (
        400, "Missing PKCE parameters.")
    # another parameter missing too: PKCE is named only where it is required
    response = await browser.get(authorize_url("/globex", {**without, "state": ""}), headers=JSON)
    assert response.json()["missing_parameters"] == ["state"]
    response = await browser.get(authorize_url("/acme", {**spa, "state": ""}), headers=JSON)
    assert response.json()["missing_parameters"] == ["state", "code_challenge",
                                                     "code_challenge_method"]


async def test_duplicated_parameter(browser: httpx.AsyncClient) -> None:
    params = [*seed_params().items(), ("redirect_uri", "https://evil.example.com/cb")]
    response = await browser.get(authorize_url("/acme", params), headers=JSON)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "redirect_uri" in response.json()["detail"]


async def test_unknown_parameters_are_ignored_however_many(browser: httpx.AsyncClient) -> None:
    """RFC 6749 §3.1: unknown parameters MUST be ignored, so their number is not limited;
    the size of the whole query is (16 KiB)."""
    extra = [(f"extension_{i}", "x") for i in range(500)]
    response = await browser.get(authorize_url("/acme", [*extra, *seed_params().items()]))
    assert location(response).startswith("/acme/login?request=")
    by_post = await browser.post("/acme/authorize", data={**dict(extra), **seed_params()})
    assert location(by_post).startswith("/acme/login?request=")
    too_big = await browser.post("/acme/authorize", headers=JSON, data={
        **seed_params(), "padding": "x" * 16 * 1024})
    assert too_big.status_code == 400 and "location" not in too_big.headers
    assert too_big.json()["error_description"] == "Malformed request parameters."
    assert "16384" in too_big.json()["detail"]


async def test_unknown_parameters_at_the_other_endpoints(browser: httpx.AsyncClient) -> None:
    extra = {f"extension_{i}": "x" for i in range(100)}
    token = await browser.post("/acme/token", data={**extra, "grant_type": "authorization_code",
                                              "client_id": "portal-spa", "code": "nope",
                                              "redirect_uri": "http://127.0.0.1:9999/callback",
                                              "code_verifier": "v" * 43})
    assert (token.status_code, token.json()["error"]) == (400, "invalid_grant")
    logout = await browser.get("/acme/logout", params=extra)
    assert logout.status_code < 500 and "Malformed" not in logout.text


async def test_malformed_query_is_400(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/acme/authorize?client_id=%FF%FE", headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == "Malformed request parameters."


async def test_full_flow_with_consent(browser: httpx.AsyncClient, idp: InProcess) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params(nonce="n-0S6"))))
    response = await submit_login(browser, login, "alice", "wonderland")
    assert response.status_code == 303
    consent = location(response)
    assert consent.startswith("/acme/consent?request=")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("confidp_session_acme=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/acme" in cookie
    assert "Secure" not in cookie  # an http (localhost) issuer
    page = await browser.get(consent)
    assert "Read your orders" in page.text and "Stay signed in" in page.text
    done = await submit_consent(browser, consent, "approve")
    assert done.status_code == 303
    callback = location(done)
    assert callback.startswith("http://127.0.0.1:9999/callback?code=")
    values = query_of(callback)
    assert set(values) == {"code", "state", "iss"}
    assert values["state"] == "9d4f8dd1"
    assert values["iss"] == f"{idp.base}/acme"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", values["code"])
    # the consent is remembered: the next request goes straight back with a new code
    again = await browser.get(authorize_url("/acme", seed_params(state="second")))
    assert again.status_code == 302
    assert query_of(location(again))["state"] == "second"
    assert query_of(location(again))["code"] != values["code"]


async def test_consent_denied(browser: httpx.AsyncClient, idp: InProcess) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params())))
    consent = location(await submit_login(browser, login, "alice", "wonderland"))
    denied = location(await submit_consent(browser, consent, "deny"))
    assert query_of(denied) == {"error": "access_denied",
                                "error_description": "The user denied the request.",
                                "state": "9d4f8dd1", "iss": f"{idp.base}/acme"}


async def test_prompt_consent_asks_again(browser: httpx.AsyncClient) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params())))
    consent = location(await submit_login(browser, login, "alice", "wonderland"))
    await submit_consent(browser, consent, "approve")
    again = location(await browser.get(authorize_url("/acme", seed_params(prompt="consent"))))
    assert again.startswith("/acme/consent?request=")


async def test_no_consent_app_and_redirect_query_kept(browser: httpx.AsyncClient,
                                                      idp: InProcess) -> None:
    params = seed_params("http://127.0.0.1:9999/callback?tenant=gx", client_id="billing",
                         scope="openid groups")
    login = location(await browser.get(authorize_url("/globex", params)))
    callback = location(await submit_login(browser, login, "hank", "hankscorpio"))
    assert callback.startswith("http://127.0.0.1:9999/callback?tenant=gx&code=")
    assert query_of(callback)["iss"] == f"{idp.base}/globex"


async def test_prompt_none_without_session(browser: httpx.AsyncClient, idp: InProcess) -> None:
    response = await browser.get(authorize_url("/acme", seed_params(prompt="none")))
    assert response.status_code == 302
    assert query_of(location(response)) == {
        "error": "login_required", "error_description": "The user is not signed in.",
        "state": "9d4f8dd1", "iss": f"{idp.base}/acme"}


async def test_prompt_none_needing_consent(browser: httpx.AsyncClient) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params(scope="openid"))))
    consent = location(await submit_login(browser, login, "alice", "wonderland"))
    await submit_consent(browser, consent, "approve")
    response = await browser.get(authorize_url("/acme", seed_params(prompt="none")))
    assert query_of(location(response))["error"] == "consent_required"
    ok = await browser.get(authorize_url("/acme", seed_params(prompt="none", scope="openid")))
    assert "code" in query_of(location(ok))


async def test_prompt_login_and_max_age_force_a_fresh_login(browser: httpx.AsyncClient,
                                                           idp: InProcess) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params())))
    consent = location(await submit_login(browser, login, "alice", "wonderland"))
    await submit_consent(browser, consent, "approve")
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        idp.clock.now += 1  # the request comes after the login
        response = await browser.get(authorize_url("/acme", seed_params(**extra)))
        login = location(response)
        assert login.startswith("/acme/login?request="), extra
        assert (await browser.get(login)).status_code == 200  # the form, not a silent pass
        assert "code" in query_of(location(await submit_login(browser, login, "alice",
                                                        "wonderland")))


async def test_wrong_password_unknown_user_and_disabled_user(tmp_path: Path, tenants_dir: Path,
                                                       themes_dir: Path) -> None:
    doc = example("acme.yaml")
    doc["users"].append({**doc["users"][0], "username": "bob", "subject": "bob",  # type: ignore[index]
                         "disabled": True})
    write_tenant(tenants_dir, "acme.yaml", doc)
    async with serving(tenants_dir, themes_dir, tmp_path / "state") as server:
        client = server.client
        texts = []
        for username, password in (("alice", "wrong"), ("nobody", "wonderland"),
                                   ("bob", "wonderland")):
            login = location(await client.get(authorize_url("/acme", seed_params())))
            response = await submit_login(client, login, username, password)
            assert response.status_code == 401
            assert "The username or password is incorrect." in response.text
            assert "set-cookie" not in response.headers
            texts.append(response.text.replace(username, "USER"))
        # the same page whichever was wrong (only the per-request ids differ)
        strip = [re.sub(r'value="[A-Za-z0-9_-]{43,}"', "", t) for t in texts]
        assert strip[0] == strip[1] == strip[2]


async def test_throttling_per_user_and_per_ip(browser: httpx.AsyncClient) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params())))
    statuses = [(await submit_login(browser, login, "alice", "nope")).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    blocked = await submit_login(browser, login, "alice", "wonderland")  # even the right password
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 10 minutes." in blocked.text
    assert 590 <= int(blocked.headers["retry-after"]) <= 600
    # per IP: 5 failures in all from this address, whatever the username
    for name in ("x1", "x2"):
        assert (await submit_login(browser, login, name, "nope")).status_code == 401
    assert (await submit_login(browser, login, "someone-new", "pw")).status_code == 429


async def test_csrf_token_and_browser_binding(browser: httpx.AsyncClient, idp: InProcess) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params())))
    fields = hidden_fields((await browser.get(login)).text)
    forged = await browser.post("/acme/login", data={**fields, "csrf_token": "x" * 43,
                                               "username": "alice", "password": "wonderland"},
                          headers=HTML)
    assert forged.status_code == 400 and "This form has expired." in forged.text
    async with idp.browser() as other_browser:
        stolen = await other_browser.post("/acme/login", data={
            **fields, "username": "alice", "password": "wonderland"}, headers=JSON)
        assert stolen.status_code == 400
        assert stolen.json()["error_description"] == \
            "This sign-in request was started in another browser."


async def test_tenant_context_mismatch(browser: httpx.AsyncClient, idp: InProcess) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params())))
    consent = location(await submit_login(browser, login, "alice", "wonderland"))
    session = browser.cookies.get("confidp_session_acme")
    assert session
    # an acme session presented to globex
    response = await browser.get(
        authorize_url("/globex", seed_params("https://billing.globex.example/oauth/callback",
                                             client_id="billing", scope="openid")),
        headers={**JSON, "Cookie": f"confidp_session_globex={session}"})
    assert response.status_code == 400
    assert response.json()["error_description"] == "Tenant context mismatch."
    # a made-up id naming another tenant is no session at all: the login page, not a 400
    made_up = f"acme.{'A' * 43}"
    response = await browser.get(
        authorize_url("/globex", seed_params("https://billing.globex.example/oauth/callback",
                                             client_id="billing", scope="openid")),
        headers={"Cookie": f"confidp_session_globex={made_up}"})
    assert location(response).startswith("/globex/login?request=")
    # an acme sign-in request continued at globex
    request_id = query_of(consent)["request"]
    flow = browser.cookies.get("confidp_flow_acme")
    response = await browser.get(f"/globex/login?request={request_id}",
                           headers={**JSON, "Cookie": f"confidp_flow_globex={flow}"})
    assert response.status_code == 400
    assert response.json()["error_description"] == "Tenant context mismatch."


async def test_only_the_exact_cookie_name_counts(browser: httpx.AsyncClient,
                                                 idp: InProcess) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params(scope="openid"))))
    consented = location(await submit_login(browser, login, "alice", "wonderland"))
    await submit_consent(browser, consented,
                   "approve")
    session = browser.cookies.get("confidp_session_acme")
    silent = authorize_url("/acme", seed_params(scope="openid", prompt="none"))
    assert "code" in query_of(location(await browser.get(silent)))
    for name in ("__Host-confidp_session_acme", "__Secure-confidp_session_acme",
                 "confidp_session_acme_", "Confidp_session_acme"):
        async with idp.browser() as other:
            answer = query_of(location(await other.get(silent, headers={
                "Cookie": f"{name}={session}"})))
            assert answer["error"] == "login_required", name


async def test_a_session_of_another_tenant_never_satisfies_a_request(
        browser: httpx.AsyncClient) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params(scope="openid"))))
    consent = location(await submit_login(browser, login, "alice", "wonderland"))
    await submit_consent(browser, consent, "approve")
    response = await browser.get(authorize_url(
        "/globex", seed_params("https://billing.globex.example/oauth/callback",
                               client_id="billing", scope="openid")))
    assert location(response).startswith("/globex/login?request=")


async def test_expired_or_unknown_sign_in_request(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/acme/login?request=nope", headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_description"] == \
        "This sign-in request has expired or was already used."
    assert (await browser.get("/acme/login", headers=JSON)).status_code == 400
    assert (await browser.post("/acme/login", data={}, headers=JSON)).status_code == 400
    assert (await browser.post("/acme/consent", content=b"\xff\xfe", headers={
        **JSON, "Content-Type": "application/x-www-form-urlencoded"})).status_code == 400


async def test_a_sign_in_request_is_used_once(browser: httpx.AsyncClient) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params())))
    consent = location(await submit_login(browser, login, "alice", "wonderland"))
    page = await browser.get(consent)
    fields = hidden_fields(page.text)
    first = await browser.post("/acme/consent", data={**fields, "decision": "approve"})
    assert "code" in query_of(location(first))
    # the same form again (a double submit), the consent and the login page again
    again = await browser.post("/acme/consent", data={**fields, "decision": "approve"},
                         headers=JSON)
    assert again.status_code == 400
    for url in (consent, login):
        reopened = await browser.get(url, headers=JSON)
        assert reopened.status_code == 400, url
        assert reopened.json()["error_description"] == \
            "This sign-in request has expired or was already used."


async def test_a_sign_in_request_changed_in_transit_is_refused(browser: httpx.AsyncClient) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params())))
    sealed = query_of(login)["request"]
    assert "9d4f8dd1" not in sealed and "portal-spa" not in sealed
    for i in (0, len(sealed) // 2, len(sealed) - 1):  # a character changed anywhere
        changed = sealed[:i] + ("A" if sealed[i] != "A" else "B") + sealed[i + 1:]
        response = await browser.get(f"/acme/login?request={changed}", headers=JSON)
        assert response.status_code == 400
        assert response.json()["error_description"] == \
            "This sign-in request has expired or was already used."
    assert (await browser.get(f"/acme/login?request={sealed[:-4]}",
        headers=JSON)).status_code == 400
    assert (await browser.get(login)).status_code == 200


async def test_long_parameters_and_too_long_together(browser: httpx.AsyncClient) -> None:
    long_state = "s" * 2048  # MAX_VALUE_LENGTH
    login = location(await browser.get(authorize_url("/acme", seed_params(state=long_state))))
    assert len(login) < 8192
    consent = location(await submit_login(browser, login, "alice", "wonderland"))
    assert query_of(location(await submit_consent(browser, consent, "approve")))["state"] == \
        long_state
    browser.cookies.clear()  # without a session, the request must travel to the login page
    response = await browser.get(authorize_url("/acme", seed_params(
        state=long_state, nonce="n" * 2048, login_hint="h" * 2048)), headers=JSON)
    assert response.status_code == 400 and "location" not in response.headers
    assert response.json()["error_description"] == "Malformed request parameters."
    assert "too long together" in response.json()["detail"]


async def test_wrong_method(browser: httpx.AsyncClient) -> None:
    response = await browser.put("/acme/authorize")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


async def test_authorization_request_by_post(browser: httpx.AsyncClient) -> None:
    """OpenID Connect Core §3.1.2.1: the authorization endpoint accepts POST too."""
    response = await browser.post("/acme/authorize", data=seed_params())
    assert location(response).startswith("/acme/login?request=")
    missing = await browser.post("/acme/authorize", data={"client_id": "portal-spa"}, headers=JSON)
    assert missing.status_code == 400
    assert missing.json()["error_description"] == "Missing required OAuth parameters."
    as_json = await browser.post("/acme/authorize", json=seed_params(), headers=JSON)
    assert as_json.status_code == 400


async def test_page_headers(browser: httpx.AsyncClient) -> None:
    login = location(await browser.get(authorize_url("/acme", seed_params())))
    page = await browser.get(login)
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self' http://127.0.0.1:9999" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


async def test_theme_assets(browser: httpx.AsyncClient) -> None:
    page = (await browser.get(location(await browser.get(authorize_url("/globex", seed_params(
        "https://billing.globex.example/oauth/callback", client_id="billing",
        scope="openid")))))).text
    css_url = re.search(r'href="(/globex/assets/style\.css\?v=[^"]+)"', page)
    assert css_url is not None
    css = await browser.get(css_url.group(1))
    assert css.status_code == 200 and "midnight theme" in css.text
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await browser.get(css_url.group(1), headers={"If-None-Match": css.headers["etag"]}
                       )).status_code == 304
    branding = re.search(r'href="(/globex/theme\.css\?v=[^"]+)"', page)
    assert branding is not None
    assert "--primary: #ff7a18;" in (await browser.get(branding.group(1))).text
    assert (await browser.get("/globex/assets/../../../etc/passwd")).status_code == 404
    assert (await browser.get("/globex/assets/%2e%2e/templates/base.html")).status_code == 404


async def test_session_idle_and_absolute_lifetimes(tmp_path: Path, tenants_dir: Path,
                                             themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", example(
        "acme.yaml", lifetimes={"session_idle": "2s", "session_absolute": "4s"}))
    async with serving(tenants_dir, themes_dir, tmp_path / "state") as server:
        client, clock = server.client, server.clock

        async def signed_in() -> bool:
            response = await client.get(authorize_url("/acme", seed_params(scope="openid")))
            return "code" in query_of(location(response))

        login = location(await client.get(authorize_url("/acme", seed_params(scope="openid"))))
        consented = location(await submit_login(client, login, "alice", "wonderland"))
        await submit_consent(client, consented,
                       "approve")
        assert await signed_in()
        for _ in range(3):  # used every second: the idle lifetime keeps being extended
            clock.now += 1
            assert await signed_in()
        clock.now += 1.2  # past the 4 s absolute lifetime, however recently used
        assert not await signed_in()
        login = location(await client.get(authorize_url("/acme", seed_params(scope="openid"))))
        await submit_login(client, login, "alice", "wonderland")
        assert await signed_in()
        clock.now += 2.5  # idle longer than 2 s
        assert not await signed_in()



async def test_login_lifetime_shortened_by_a_reload_applies_at_once(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    doc = example("acme.yaml")
    write_tenant(tenants_dir, "acme.yaml", doc)
    async with serving(tenants_dir, themes_dir, tmp_path / "state") as server:
        client = server.client
        login = location(await client.get(authorize_url("/acme", seed_params())))
        assert (await client.get(login)).status_code == 200
        server.clock.now += 1.1
        write_tenant(tenants_dir, "acme.yaml", {**doc, "lifetimes": {"login": "1s"}})
        await server.reloaded(lambda snapshot: snapshot.tenant("acme").lifetimes.login == 1)
        response = await client.get(login, headers=JSON)
        assert response.status_code == 400
        assert response.json()["error_description"] == \
            "This sign-in request has expired or was already used."
