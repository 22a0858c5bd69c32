"""The OpenID Foundation's Basic OP and Config OP certification plans (conformance-suite
``OIDCCBasicTestPlan``, ``OIDCCConfigTestPlan``), as our own end-to-end tests against the
unchanged ``examples/certification/cert.yaml``: each test is named after the plan module it
follows and checks what that module checks, as the suite's relying party would (static
clients, discovery, the response_type=code variant). ``docs/certification.md`` lists which
modules are covered here, and which confidp skips or answers with a warning, and why."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt as pyjwt
import pytest

from tests.e2e.flow import location, query_of, submit_login
from tests.support import REPO, Server, free_port, running_server

pytestmark = pytest.mark.e2e
EXAMPLE = REPO / "examples" / "certification"
SECRET = "cert-test-client-secret-" + "0123456789" * 3
USERNAME, PASSWORD = "conformance", "conformance-demo-password"


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uri: str
    auth: str  # client_secret_basic or client_secret_post


CLIENT = Client("conformance-basic", "http://127.0.0.1:9998/callback", "client_secret_basic")
CLIENT2 = Client("conformance-basic-2", "http://127.0.0.1:9997/callback",
                 "client_secret_basic")
POST_CLIENT = Client("conformance-post", "http://127.0.0.1:9996/callback", "client_secret_post")

# OpenID Connect Core §5.1 and the types ValidateUserInfoStandardClaims checks
STRING_CLAIMS = ("sub", "name", "given_name", "family_name", "middle_name", "nickname",
                 "preferred_username", "profile", "picture", "website", "email", "gender",
                 "birthdate", "zoneinfo", "locale", "phone_number")
SCOPE_CLAIMS = {  # the suite's AbstractVerifyScopesReturnedInClaims.SCOPE_STANDARD_CLAIMS
    "profile": ("name", "family_name", "given_name", "middle_name", "nickname",
                "preferred_username", "profile", "picture", "website", "gender", "birthdate",
                "zoneinfo", "locale", "updated_at"),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}
ADDRESS_MEMBERS = {"formatted", "street_address", "locality", "region", "postal_code",
                   "country"}
# EnsureIdTokenDoesNotContainNonRequestedClaims: what an ID token may carry unrequested
ID_TOKEN_CLAIMS = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
                   "at_hash", "c_hash", "nbf", "jti", "sid", "s_hash"}
# the metadata names the suite's schema knows (CheckForUnexpectedParametersInServerMetadata
# warns about others); the ones confidp could publish
REGISTERED_METADATA = {
    "issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
    "registration_endpoint", "scopes_supported", "response_types_supported",
    "response_modes_supported", "grant_types_supported", "acr_values_supported",
    "subject_types_supported", "id_token_signing_alg_values_supported",
    "userinfo_signing_alg_values_supported", "request_object_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported", "display_values_supported",
    "claim_types_supported", "claims_supported", "service_documentation",
    "claims_locales_supported", "ui_locales_supported", "claims_parameter_supported",
    "request_parameter_supported", "request_uri_parameter_supported",
    "require_request_uri_registration", "op_policy_uri", "op_tos_uri", "revocation_endpoint",
    "revocation_endpoint_auth_methods_supported", "introspection_endpoint",
    "introspection_endpoint_auth_methods_supported", "code_challenge_methods_supported",
    "end_session_endpoint", "prompt_values_supported",
    "authorization_response_iss_parameter_supported"}
# RFC 6749 §4.1.2.1 / §5.2: error_description characters
ERROR_DESCRIPTION = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """confidp serving the certification example unchanged but for its port."""
    base = tmp_path_factory.mktemp("certification")
    tenants = base / "tenants"
    tenants.mkdir()
    port = free_port()
    text = (EXAMPLE / "cert.yaml").read_text()
    assert "issuer: http://localhost:8000/cert\n" in text
    (tenants / "cert.yaml").write_text(text.replace("http://localhost:8000/cert",
                                                    f"http://127.0.0.1:{port}/cert"))
    with running_server(tenants, REPO / "themes", base / "state", port,
                        env={"CERT_CLIENT_SECRET": SECRET}) as server:
        yield server


@pytest.fixture
def browser(op: Server) -> Iterator[httpx.Client]:
    """A browser with no cookie of the OP (the plans ask the tester to clear them)."""
    with httpx.Client(base_url=op.base, follow_redirects=False, timeout=10) as client:
        yield client


def issuer(op: Server) -> str:
    return f"{op.base}/cert"


@dataclass
class Authorization:
    sent: dict[str, str]
    callback: str
    logged_in: bool  # whether the login page was shown

    @property
    def answer(self) -> dict[str, str]:
        return query_of(self.callback)


def authorize(browser: httpx.Client, client: Client = CLIENT, *, scope: str = "openid",
              nonce: bool = True, expect_login: bool | None = None, method: str = "GET",
              params: list[tuple[str, str]] | None = None, **extra: str) -> Authorization:
    """As the suite's CreateAuthorizationRequestSteps: client_id, redirect_uri, scope, a
    random state and nonce, response_type=code; then the login page if one is shown."""
    sent = {"client_id": client.client_id, "redirect_uri": client.redirect_uri,
            "scope": scope, "state": secrets.token_urlsafe(24), "response_type": "code"}
    if nonce:
        sent["nonce"] = secrets.token_urlsafe(24)
    sent.update(extra)
    pairs = params if params is not None else list(sent.items())
    if method == "POST":
        response = browser.post("/cert/authorize", data=dict(pairs))
    else:
        response = browser.get(f"/cert/authorize?{urlencode(pairs)}")
    target = location(response)
    logged_in = target.startswith("/cert/login?")
    if logged_in:
        page = browser.get(target)
        assert page.status_code == 200 and 'name="password"' in page.text
        target = location(submit_login(browser, target, USERNAME, PASSWORD))
    if expect_login is not None:
        assert logged_in == expect_login, target
    assert target.startswith(client.redirect_uri + "?"), target
    return Authorization(sent, target, logged_in)


def token_request(op: Server, client: Client, form: dict[str, str],
                  secret: str = SECRET) -> httpx.Response:
    """The token endpoint, authenticating as the suite's AddBasicAuthClientSecretToRequest or
    AddFormBasedClientSecretToRequest does."""
    if client.auth == "client_secret_post":
        return httpx.post(f"{issuer(op)}/token", data={
            **form, "client_id": client.client_id, "client_secret": secret})
    return httpx.post(f"{issuer(op)}/token", data=form, auth=(client.client_id, secret))


def redeem(op: Server, client: Client, code: str, **extra: str) -> httpx.Response:
    return token_request(op, client, {"grant_type": "authorization_code", "code": code,
                                      "redirect_uri": client.redirect_uri, **extra})


def tokens(op: Server, client: Client, authorization: Authorization,
           **extra: str) -> dict[str, Any]:
    """CallTokenEndpoint and the checks of requestAuthorizationCode."""
    response = redeem(op, client, authorization.answer["code"], **extra)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"  # CheckTokenEndpointCacheHeaders
    body: dict[str, Any] = response.json()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert re.fullmatch(r"[\x20-\x7e]+", body["access_token"])  # RFC 6749 A.12
    return body


def id_token_claims(op: Server, id_token: str, client: Client,
                    nonce: str | None = None) -> dict[str, Any]:
    """PerformStandardIdTokenChecks: signed with a key of the JWKS named by kid (RS256 unless
    the client registered another), iss, aud, exp, iat, sub, nonce."""
    header = pyjwt.get_unverified_header(id_token)
    assert header["alg"] == "RS256" and header.get("kid")  # EnsureIdTokenContainsKid
    keys = httpx.get(f"{issuer(op)}/jwks").json()["keys"]
    key = pyjwt.PyJWK(next(k for k in keys if k["kid"] == header["kid"]))
    claims: dict[str, Any] = pyjwt.decode(id_token, key.key, algorithms=["RS256"],
                                          audience=client.client_id, issuer=issuer(op))
    now = time.time()
    assert isinstance(claims["sub"], str) and claims["sub"]
    assert claims["iat"] <= now + 5 and claims["exp"] > now
    assert isinstance(claims["auth_time"], int) and claims["auth_time"] <= now + 5
    if nonce is None:
        assert "nonce" not in claims
    else:
        assert claims["nonce"] == nonce
    return claims


def check_code_response(op: Server, authorization: Authorization) -> str:
    """CheckMatchingCallbackParameters, ValidateIssIfPresentInAuthorizationResponse,
    CheckStateInAuthorizationResponse, EnsureMinimumAuthorizationCodeLength/Entropy."""
    answer = authorization.answer
    assert set(answer) == {"code", "state", "iss"}
    assert answer["state"] == authorization.sent["state"]
    assert answer["iss"] == issuer(op)
    code = answer["code"]
    assert len(code.encode()) * 8 >= 128 and len(set(code)) > 16
    return code


def check_error_response(op: Server, authorization: Authorization, *errors: str,
                         state: bool = True) -> str:
    """performGenericAuthorizationEndpointErrorResponseValidation."""
    answer = authorization.answer
    assert answer["error"] in errors, answer
    assert "code" not in answer  # RejectAuthCodeInAuthorizationEndpointResponse
    assert answer["iss"] == issuer(op)
    if state:
        assert answer["state"] == authorization.sent["state"]
    assert set(answer) <= {"error", "error_description", "error_uri", "state", "iss"}
    assert ERROR_DESCRIPTION.fullmatch(answer.get("error_description", ""))
    return answer["error"]


def userinfo(op: Server, access_token: str, how: str = "get") -> httpx.Response:
    url = f"{issuer(op)}/userinfo"
    bearer = {"Authorization": f"Bearer {access_token}"}
    if how == "get":
        return httpx.get(url, headers=bearer)
    if how == "post-header":
        return httpx.post(url, headers=bearer)
    return httpx.post(url, data={"access_token": access_token})


def check_userinfo(response: httpx.Response, sub: str) -> dict[str, Any]:
    """EnsureContentTypeJson, ValidateUserInfoStandardClaims, EnsureUserInfoContainsSub,
    EnsureUserInfoUpdatedAtValid, VerifyUserInfoAndIdTokenInTokenEndpointSameSub."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    info: dict[str, Any] = response.json()
    assert info["sub"] == sub
    for name in STRING_CLAIMS:
        assert name not in info or isinstance(info[name], str), name
    for name in ("email_verified", "phone_number_verified"):
        assert name not in info or isinstance(info[name], bool), name
    if "updated_at" in info:
        assert isinstance(info["updated_at"], int) and 0 < info["updated_at"] < time.time()
    if "address" in info:
        assert isinstance(info["address"], dict) and set(info["address"]) <= ADDRESS_MEMBERS
        assert all(isinstance(v, str) for v in info["address"].values())
    return info


def signed_in(op: Server, browser: httpx.Client, client: Client = CLIENT,
              **kwargs: Any) -> tuple[Authorization, dict[str, Any], dict[str, Any]]:
    """A whole happy flow: the authorization, the token response and the ID token's claims."""
    authorization = authorize(browser, client, **kwargs)
    check_code_response(op, authorization)
    body = tokens(op, client, authorization)
    claims = id_token_claims(op, body["id_token"], client, authorization.sent.get("nonce"))
    return authorization, body, claims


# ---- Config OP ----

def test_oidcc_discovery_endpoint_verification(op: Server) -> None:
    response = httpx.get(f"{issuer(op)}/.well-known/openid-configuration")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    metadata = response.json()
    assert metadata["issuer"] == issuer(op)  # CheckDiscEndpointIssuer
    assert set(metadata) <= REGISTERED_METADATA
    assert "code" in metadata["response_types_supported"]
    assert metadata["subject_types_supported"] == ["public"]
    assert "RS256" in metadata["id_token_signing_alg_values_supported"]
    assert isinstance(metadata["userinfo_signing_alg_values_supported"], list)
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                 "jwks_uri"):
        # under the issuer: https as soon as the issuer is (CheckDiscEndpointAllEndpointsAreHttps)
        assert metadata[name].startswith(issuer(op) + "/"), name
    assert "openid" in metadata["scopes_supported"]
    assert {"profile", "email", "address", "phone", "offline_access"} <= set(
        metadata["scopes_supported"])
    assert metadata["grant_types_supported"] and "authorization_code" in \
        metadata["grant_types_supported"]
    assert {"client_secret_basic", "client_secret_post"} <= set(
        metadata["token_endpoint_auth_methods_supported"])
    assert isinstance(metadata["claims_parameter_supported"], bool)
    assert metadata["request_parameter_supported"] is False
    assert metadata["request_uri_parameter_supported"] is False
    standard = {claim for claims in SCOPE_CLAIMS.values() for claim in claims}
    assert standard | {"sub"} <= set(metadata["claims_supported"])
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_modes_supported"] == ["query"]
    # CheckDiscEndpointScopesSupportedSyntax (RFC 6749 §3.3)
    assert all(re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]+", s)
               for s in metadata["scopes_supported"])
    # CheckJwksUri, ValidateJwksSequence, CheckForKeyIdInServerJWKs, distinct kids
    keys = httpx.get(metadata["jwks_uri"]).json()["keys"]
    kids = [key["kid"] for key in keys]
    assert len(kids) == len(set(kids)) and all(kids)
    assert any(key["kty"] == "RSA" for key in keys)
    assert all("d" not in key and "p" not in key for key in keys)  # no private part


# ---- Basic OP ----

def test_oidcc_server(op: Server, browser: httpx.Client) -> None:
    _, body, claims = signed_in(op, browser)
    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert set(claims) <= ID_TOKEN_CLAIMS  # EnsureIdTokenDoesNotContainNonRequestedClaims
    assert "refresh_token" not in body  # no offline_access asked
    check_userinfo(userinfo(op, body["access_token"]), claims["sub"])


def test_oidcc_server_client_secret_post(op: Server, browser: httpx.Client) -> None:
    _, body, claims = signed_in(op, browser, POST_CLIENT)
    check_userinfo(userinfo(op, body["access_token"]), claims["sub"])
    # each client authenticates with the method it registered
    code = authorize(browser, POST_CLIENT).answer["code"]
    basic = httpx.post(f"{issuer(op)}/token", auth=(POST_CLIENT.client_id, SECRET), data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": POST_CLIENT.redirect_uri})
    assert (basic.status_code, basic.json()["error"]) == (401, "invalid_client")


def test_oidcc_response_type_missing(op: Server, browser: httpx.Client) -> None:
    """The suite accepts an error page (with a screenshot) or an error redirect."""
    response = browser.get("/cert/authorize?" + urlencode({
        "client_id": CLIENT.client_id, "redirect_uri": CLIENT.redirect_uri,
        "scope": "openid", "state": "s", "nonce": "n"}))
    assert response.status_code == 400 and "location" not in response.headers
    assert "Missing required OAuth parameters." in response.text
    assert "<code>response_type</code>" in response.text


@pytest.mark.parametrize("how", ["get", "post-header", "post-body"])
def test_oidcc_userinfo_get_post_header_post_body(op: Server, browser: httpx.Client,
                                                  how: str) -> None:
    _, body, claims = signed_in(op, browser)
    check_userinfo(userinfo(op, body["access_token"], how), claims["sub"])


def test_oidcc_ensure_request_without_nonce_succeeds_for_code_flow(
        op: Server, browser: httpx.Client) -> None:
    authorization, _, claims = signed_in(op, browser, nonce=False)
    assert "nonce" not in authorization.sent and "nonce" not in claims


@pytest.mark.parametrize("scope", ["profile", "email", "address", "phone",
                                   "email phone address profile"])
def test_oidcc_scope_profile_email_address_phone_all(op: Server, browser: httpx.Client,
                                                     scope: str) -> None:
    """The claims of each scope come from userinfo (VerifyScopesReturnedInUserInfoClaims),
    and nothing from a scope not asked for."""
    _, body, claims = signed_in(op, browser, scope=f"openid {scope}")
    info = check_userinfo(userinfo(op, body["access_token"]), claims["sub"])
    expected = {"sub"} | {claim for name in scope.split() for claim in SCOPE_CLAIMS[name]}
    assert set(info) == expected  # every standard claim is filled for this user
    if "address" in info:
        assert set(info["address"]) == ADDRESS_MEMBERS
    if scope == "email":
        # the suite's EnsureIdTokenDoesNotContainEmailForScopeEmail WARNING: confidp puts the
        # scope claims in the ID token too (README, "Tokens and OpenID Connect")
        assert claims["email"] == info["email"]
        assert "name" not in claims and "name" not in info  # EnsureIdTokenDoesNotContainName


def test_oidcc_alternate_happy_flow(op: Server, browser: httpx.Client) -> None:
    """Scope values and parameters in another order (RFC 6749 §3.3)."""
    sent = {"response_type": "code", "state": "st-" + secrets.token_urlsafe(8),
            "scope": "email openid", "redirect_uri": CLIENT.redirect_uri, "nonce": "nn-1",
            "client_id": CLIENT.client_id}
    authorization = authorize(browser, params=sorted(sent.items(), reverse=True))
    authorization.sent.update(sent)
    check_code_response(op, authorization)
    body = tokens(op, CLIENT, authorization)
    assert body["scope"] == "email openid"
    assert id_token_claims(op, body["id_token"], CLIENT, "nn-1")["email"]


@pytest.mark.parametrize("extra", [
    {"display": "page"},                     # oidcc-display-page
    {"display": "popup"},                    # oidcc-display-popup
    {"extra": "foobar"},                     # oidcc-ensure-request-with-unknown-parameter-succeeds
    {"login_hint": "buffy@127.0.0.1"},       # oidcc-login-hint
    {"ui_locales": "se"},                    # oidcc-ui-locales
    {"claims_locales": "se"},                # oidcc-claims-locales
    {"acr_values": "1 2"},                   # oidcc-ensure-request-with-acr-values-succeeds
])
def test_optional_parameters_do_not_cause_an_error(op: Server, browser: httpx.Client,
                                                   extra: dict[str, str]) -> None:
    """OpenID Connect Core §15.1: their use must not result in an error. acr values confidp
    does not define ("1 2") are ignored: the ID token's acr is the sign-in's own class, so
    oidcc-ensure-request-with-acr-values-succeeds ends with its warning."""
    _, _, claims = signed_in(op, browser, expect_login=True, **extra)
    assert claims["acr"] == "urn:confidp:acr:1fa" and claims["amr"] == ["pwd"]


def test_oidcc_prompt_login(op: Server, browser: httpx.Client) -> None:
    _, _, first = signed_in(op, browser, expect_login=True)
    time.sleep(1.1)  # as the suite's WaitForOneSecond: auth_time counts whole seconds
    _, _, second = signed_in(op, browser, expect_login=True, prompt="login")
    assert second["auth_time"] > first["auth_time"]  # CheckSecondIdTokenAuthTimeIsLater
    assert second["sub"] == first["sub"]


def test_oidcc_prompt_none_not_logged_in(op: Server, browser: httpx.Client) -> None:
    authorization = authorize(browser, prompt="none", state=secrets.token_hex(64),
                              expect_login=False)
    assert len(authorization.answer["state"]) == 128  # not cut or changed
    assert check_error_response(op, authorization, "login_required", "interaction_required",
                                "account_selection_required", "consent_required")


def test_oidcc_prompt_none_logged_in(op: Server, browser: httpx.Client) -> None:
    _, _, first = signed_in(op, browser, expect_login=True)
    _, _, second = signed_in(op, browser, expect_login=False, prompt="none")
    assert (second["sub"], second["auth_time"]) == (first["sub"], first["auth_time"])


def test_oidcc_max_age_1(op: Server, browser: httpx.Client) -> None:
    _, _, first = signed_in(op, browser, expect_login=True)
    time.sleep(1.1)  # the suite waits 2 s; older than max_age=1 is what matters
    _, _, second = signed_in(op, browser, expect_login=True, max_age="1")
    assert second["auth_time"] > first["auth_time"]
    assert time.time() - second["auth_time"] < 60  # CheckIdTokenAuthTimeIsRecentIfPresent


def test_oidcc_max_age_10000(op: Server, browser: httpx.Client) -> None:
    _, _, first = signed_in(op, browser, expect_login=True, max_age="15000")
    _, _, second = signed_in(op, browser, expect_login=False, max_age="10000")
    assert (second["sub"], second["auth_time"]) == (first["sub"], first["auth_time"])


def test_oidcc_id_token_hint(op: Server, browser: httpx.Client) -> None:
    _, body, first = signed_in(op, browser, expect_login=True)
    _, _, second = signed_in(op, browser, expect_login=False, prompt="none",
                             id_token_hint=body["id_token"])
    assert (second["sub"], second["auth_time"]) == (first["sub"], first["auth_time"])


def test_oidcc_codereuse_and_codereuse_30seconds(op: Server, browser: httpx.Client) -> None:
    """A code used twice: invalid_grant (400, JSON), and the access token it issued is
    revoked (the 30-second module waits first; confidp revokes whenever the reuse comes)."""
    authorization, body, claims = signed_in(op, browser)
    check_userinfo(userinfo(op, body["access_token"]), claims["sub"])
    again = redeem(op, CLIENT, authorization.answer["code"])
    assert again.status_code == 400
    assert again.headers["content-type"].startswith("application/json")
    assert again.json()["error"] == "invalid_grant"
    assert ERROR_DESCRIPTION.fullmatch(again.json()["error_description"])
    assert userinfo(op, body["access_token"]).status_code == 401


def test_oidcc_ensure_registered_redirect_uri(op: Server, browser: httpx.Client) -> None:
    """An unregistered (randomised) redirect URI: an error page, never a redirect."""
    bad = f"{CLIENT.redirect_uri}/{secrets.token_hex(5)}"
    response = browser.get("/cert/authorize?" + urlencode({
        "client_id": CLIENT.client_id, "redirect_uri": bad, "scope": "openid",
        "state": "s", "nonce": "n", "response_type": "code"}))
    assert response.status_code == 400 and "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "Invalid authorization context." in response.text


def test_oidcc_ensure_post_request_succeeds(op: Server, browser: httpx.Client) -> None:
    signed_in(op, browser, method="POST")


def test_oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(
        op: Server, browser: httpx.Client) -> None:
    """Sent as the suite builds it (BuildRequestObjectByValueRedirectToAuthorizationEndpoint):
    state and nonce only inside the unsigned object. request_not_supported ends the module
    as skipped, which the plan allows."""
    claims = {"client_id": CLIENT.client_id, "redirect_uri": CLIENT.redirect_uri,
              "scope": "openid", "state": "inside", "nonce": "inside",
              "response_type": "code"}
    request_object = pyjwt.encode(claims, key=None, algorithm="none")
    response = browser.get("/cert/authorize?" + urlencode({
        "client_id": CLIENT.client_id, "redirect_uri": CLIENT.redirect_uri,
        "response_type": "code", "scope": "openid", "request": request_object}))
    answer = Authorization({}, location(response), False)
    assert check_error_response(op, answer, "request_not_supported", state=False)


def test_oidcc_ensure_request_object_with_redirect_uri(op: Server,
                                                       browser: httpx.Client) -> None:
    """The redirect_uri beside the object is not registered (the one inside is): confidp,
    which does not read the object, shows the invalid redirect_uri page."""
    request_object = pyjwt.encode({"redirect_uri": CLIENT.redirect_uri, "state": "s"},
                                  key=None, algorithm="none")
    response = browser.get("/cert/authorize?" + urlencode({
        "client_id": CLIENT.client_id, "redirect_uri": CLIENT.redirect_uri + "_invalid",
        "response_type": "code", "scope": "openid", "request": request_object}))
    assert response.status_code == 400 and "location" not in response.headers
    assert "Invalid authorization context." in response.text


def test_oidcc_claims_essential(op: Server, browser: httpx.Client) -> None:
    """The claims parameter is not supported (claims_parameter_supported false): the request
    succeeds, and the suite warns that userinfo has no name."""
    _, body, claims = signed_in(op, browser,
                                claims='{"userinfo":{"name":{"essential":true}}}')
    info = check_userinfo(userinfo(op, body["access_token"]), claims["sub"])
    assert "name" not in info and "name" not in claims


def test_oidcc_refresh_token(op: Server, browser: httpx.Client) -> None:
    scope = "openid offline_access"
    first_auth, first, first_claims = signed_in(op, browser, scope=scope, prompt="consent")
    token = first["refresh_token"]
    assert re.fullmatch(r"[\x20-\x7e]+", token) and len(token) >= 22  # RFC 6749 A.17, §10.10
    response = token_request(op, CLIENT, {"grant_type": "refresh_token", "refresh_token": token,
                                          "scope": scope})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    refreshed = response.json()
    assert refreshed["token_type"] == "Bearer" and refreshed["access_token"] != \
        first["access_token"]
    second_claims = id_token_claims(op, refreshed["id_token"], CLIENT)  # CompareIdTokenClaims
    for name in ("iss", "sub", "aud", "auth_time"):
        assert second_claims[name] == first_claims[name], name
    assert "azp" not in second_claims
    check_userinfo(userinfo(op, refreshed["access_token"]), first_claims["sub"])
    # the second client's refresh token is bound to it: invalid_grant for the first client
    _, other, _ = signed_in(op, browser, CLIENT2, scope=scope, prompt="consent")
    stolen = token_request(op, CLIENT, {"grant_type": "refresh_token",
                                        "refresh_token": other["refresh_token"]})
    assert (stolen.status_code, stolen.json()["error"]) == (400, "invalid_grant")
    assert first_auth.answer["iss"] == issuer(op)


def test_oidcc_ensure_request_with_valid_pkce_succeeds(op: Server,
                                                       browser: httpx.Client) -> None:
    """A client need not use PKCE here (require_pkce: false), but PKCE it sends is bound to
    the code: the verifier is then required."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()
    authorization = authorize(browser, code_challenge=challenge, code_challenge_method="S256")
    check_code_response(op, authorization)
    tokens(op, CLIENT, authorization, code_verifier=verifier)
    without = authorize(browser, code_challenge=challenge, code_challenge_method="S256")
    refused = redeem(op, CLIENT, without.answer["code"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


# ---- beyond the plans: the same flows' other token endpoint checks ----

def test_a_verifier_for_a_code_issued_without_pkce_is_refused(op: Server,
                                                               browser: httpx.Client) -> None:
    """RFC 9700 §2.1.1 (PKCE downgrade)."""
    authorization = authorize(browser)
    refused = redeem(op, CLIENT, authorization.answer["code"], code_verifier="v" * 43)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


def test_redirect_uri_and_client_must_match_at_the_token_endpoint(
        op: Server, browser: httpx.Client) -> None:
    """RFC 6749 §4.1.3: the redirect_uri of the request (conformance-basic has two), and the
    client the code was issued to."""
    code = authorize(browser).answer["code"]
    other_uri = token_request(op, CLIENT, {"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": "http://127.0.0.1:9995/callback"})
    assert (other_uri.status_code, other_uri.json()["error"]) == (400, "invalid_grant")
    second = authorize(browser, Client(CLIENT.client_id, "http://127.0.0.1:9995/callback",
                                       CLIENT.auth))
    assert second.answer["code"]
    other_client = redeem(op, CLIENT2, authorize(browser).answer["code"])
    assert (other_client.status_code, other_client.json()["error"]) == (400, "invalid_grant")
    wrong_secret = token_request(op, CLIENT, {"grant_type": "authorization_code",
                                              "code": authorize(browser).answer["code"],
                                              "redirect_uri": CLIENT.redirect_uri},
                                 secret="not-the-secret")
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")


def test_confidp_check_accepts_the_certification_example() -> None:
    result = subprocess.run([sys.executable, "-m", "confidp.cli", "check", str(EXAMPLE)],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
