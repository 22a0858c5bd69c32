"""The authorization endpoint's checks, without HTTP, in the order DESIGN.md gives."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from confidp.config.loader import validate_file
from confidp.model import Tenant
from confidp.oauth.authorize import (
    AuthorizationRequest,
    ErrorRedirect,
    authorization_response_uri,
    error_description,
    error_response_uri,
    needs_consent,
    needs_login,
    revalidate,
    validate_authorization_request,
)
from confidp.oauth.errors import (
    INVALID_CONTEXT,
    INVALID_PKCE,
    MISSING_PARAMETERS,
    MISSING_PKCE,
    ONLY_CODE,
    InvalidRequest,
    InvalidScope,
    LoginRequired,
    OAuthError,
    RequestNotSupported,
    RequestUriNotSupported,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from confidp.oauth.params import parse_query
from tests.support import dump, tenant_doc

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def make_tenant(**overrides: Any) -> Tenant:
    doc = tenant_doc("https://id.example.com", **overrides)
    doc["applications"][0]["scopes"] = ["openid", "profile", "email", "offline_access",
                                        "orders.read"]
    doc["applications"][0]["grant_types"] = ["authorization_code", "refresh_token"]
    doc["applications"].append({"client_id": "machine", "name": "Machine",
                                "type": "confidential", "client_secret": {"env": "X"},
                                "grant_types": ["client_credentials"], "scopes": ["openid"]})
    doc["applications"].append({"client_id": "server", "name": "Server app",
                                "type": "confidential", "client_secret": {"env": "X"},
                                "require_pkce": False,
                                "redirect_uris": ["https://server.example.com/cb?app=1"],
                                "scopes": ["openid", "profile"]})
    doc.setdefault("scopes", [{"name": "orders.read", "description": "Read your orders"}])
    result = validate_file("acme.yaml", dump(doc), themes=None, environ={"X": "secret"})
    assert result.tenant is not None, result.errors
    return result.tenant


TENANT = make_tenant()
SEED = {  # the seed's example request, with the local redirect URI
    "client_id": "portal-spa", "redirect_uri": "https://portal.example.com/callback",
    "response_type": "code", "scope": "openid profile email offline_access orders.read",
    "state": "9d4f8dd1", "code_challenge": CHALLENGE, "code_challenge_method": "S256"}


def check(params: dict[str, str] | list[tuple[str, str]]) -> AuthorizationRequest:
    pairs = list(params.items()) if isinstance(params, dict) else params
    return validate_authorization_request(pairs, TENANT)


def error_of(params: dict[str, str] | list[tuple[str, str]]) -> OAuthError:
    """An error shown where the request was made (400): never one sent to a redirect URI."""
    with pytest.raises(OAuthError) as caught:
        check(params)
    return caught.value


def redirect_of(params: dict[str, str] | list[tuple[str, str]]) -> ErrorRedirect:
    """An error that goes back to the client's verified redirect URI."""
    with pytest.raises(ErrorRedirect) as caught:
        check(params)
    return caught.value


SERVER = {**{k: v for k, v in SEED.items() if not k.startswith("code_challenge")},
          "client_id": "server", "redirect_uri": "https://server.example.com/cb?app=1",
          "scope": "openid profile"}


def test_the_seed_request_is_valid() -> None:
    request = check(SEED)
    assert request.client_id == "portal-spa"
    assert request.scopes == ("openid", "profile", "email", "offline_access", "orders.read")
    assert request.state == "9d4f8dd1"
    assert request.prompt == () and request.max_age is None


def test_seed_query_string_parses() -> None:
    query = ("client_id=portal-spa&redirect_uri=https%3A%2F%2Fportal.example.com%2Fcallback&"
             "response_type=code&scope=openid%20profile%20email%20offline_access%20orders.read"
             f"&state=9d4f8dd1&code_challenge={CHALLENGE}&code_challenge_method=S256")
    assert check(parse_query(query)) == check(SEED)


@pytest.mark.parametrize("name", ["client_id", "redirect_uri", "response_type", "scope",
                                  "state"])
def test_missing_required_parameter(name: str) -> None:
    params = {k: v for k, v in SEED.items() if k != name}
    error = error_of(params)
    assert isinstance(error, InvalidRequest)
    assert (error.status, error.description, error.missing) == (400, MISSING_PARAMETERS,
                                                                (name,))


def test_blank_value_counts_as_missing() -> None:
    assert error_of({**SEED, "state": ""}).missing == ("state",)


def test_missing_pkce_only() -> None:
    for missing in (("code_challenge",), ("code_challenge_method",),
                    ("code_challenge", "code_challenge_method")):
        params = {k: v for k, v in SEED.items() if k not in missing}
        error = error_of(params)
        assert (error.description, error.missing) == (MISSING_PKCE, missing)


def test_missing_pkce_and_more_is_missing_parameters() -> None:
    params = {k: v for k, v in SEED.items() if k not in ("state", "code_challenge")}
    error = error_of(params)
    assert (error.description, error.missing) == (MISSING_PARAMETERS,
                                                  ("state", "code_challenge"))


def test_parameter_twice() -> None:
    error = error_of([*SEED.items(), ("state", "other")])
    assert error.status == 400 and "more than once" in error.description
    assert "state" in (error.detail or "")


def test_unknown_parameters_are_ignored() -> None:
    assert check([*SEED.items(), ("utm_source", "x"), ("utm_source", "y")]).state == "9d4f8dd1"


def test_unknown_client() -> None:
    error = error_of({**SEED, "client_id": "nope"})
    assert (error.status, error.description) == (400, INVALID_CONTEXT)


@pytest.mark.parametrize("redirect_uri", [
    "https://portal.example.com/callback/",        # trailing slash
    "https://portal.example.com:443/callback",     # explicit port
    "https://portal.example.com/Callback",         # path case
    "https://portal.example.com/callback?x=1",     # extra query
    "https://portal.example.com/other",            # path
    "https://evil.example.com/callback",           # host
    "http://127.0.0.1:9998/callback",              # port
])
def test_redirect_uri_variants_fail(redirect_uri: str) -> None:
    error = error_of({**SEED, "redirect_uri": redirect_uri})
    assert (error.status, error.description, error.redirectable) == (400, INVALID_CONTEXT,
                                                                     False)


def test_client_without_code_grant() -> None:
    error = error_of({**SEED, "client_id": "machine"})
    assert isinstance(error, UnauthorizedClient)
    assert error.description == INVALID_CONTEXT


def test_response_type() -> None:
    for response_type in ("token", "id_token", "code id_token", "CODE"):
        error = error_of({**SEED, "response_type": response_type})
        assert isinstance(error, UnsupportedResponseType)
        assert (error.status, error.description) == (400, ONLY_CODE)


def test_pkce_plain_is_refused() -> None:
    error = error_of({**SEED, "code_challenge_method": "plain",
                      "code_challenge": "a" * 43})
    assert (error.status, error.description) == (400, INVALID_PKCE)
    assert "S256" in (error.detail or "")


@pytest.mark.parametrize("challenge", ["a" * 42, "a" * 129, CHALLENGE[:-1] + "=",
                                       CHALLENGE[:-1] + "+", CHALLENGE[:-1] + "/"])
def test_pkce_challenge_form(challenge: str) -> None:
    assert error_of({**SEED, "code_challenge": challenge}).description == INVALID_PKCE


def test_pkce_challenge_lengths_allowed() -> None:
    assert check({**SEED, "code_challenge": "a" * 128}).code_challenge == "a" * 128


def test_scope_not_allowed_goes_back_to_the_client() -> None:
    answer = redirect_of({**SEED, "scope": "openid admin"})
    assert isinstance(answer.error, InvalidScope)
    assert (answer.redirect_uri, answer.state) == (SEED["redirect_uri"], "9d4f8dd1")
    assert answer.error.description == "The application may not ask for 'admin'."


def test_scope_order_kept_and_duplicates_dropped() -> None:
    assert check({**SEED, "scope": "profile openid  profile"}).scopes == ("profile", "openid")


def test_checks_run_in_the_seeds_order() -> None:
    """An unknown client with an unsupported response_type and plain PKCE is reported as the
    client problem: the earlier check wins."""
    bad = {**SEED, "client_id": "nope", "response_type": "token",
           "code_challenge_method": "plain", "scope": "admin"}
    assert error_of(bad).description == INVALID_CONTEXT
    assert error_of({**bad, "client_id": "portal-spa"}).description == ONLY_CODE
    assert error_of({**bad, "client_id": "portal-spa", "response_type": "code"}
                    ).description == INVALID_PKCE
    only_scope = {**SEED, "scope": "admin"}
    assert isinstance(redirect_of(only_scope).error, InvalidScope)


@pytest.mark.parametrize("unproven", [
    {"client_id": "nope"},
    {"redirect_uri": "https://evil.example.com/callback"},
    {"redirect_uri": "https://portal.example.com/callback/"},
    {"client_id": "machine"},  # no authorization_code grant
    {"client_id": ""},         # missing
    {"redirect_uri": ""},
    {"response_type": ""},
    {"response_type": "token"},
])
def test_nothing_is_redirected_before_the_client_and_redirect_uri_are_proven(
        unproven: dict[str, str]) -> None:
    """Every error that would be redirected (a scope, a request object, a prompt, max_age,
    response_mode) is there too, yet the answer is a 400 where the request was made."""
    bad = {**SEED, "scope": "openid admin", "prompt": "none login", "max_age": "x",
           "response_mode": "fragment", **unproven}
    assert error_of(bad).status == 400
    assert error_of({**bad, "request": "eyJhbGciOiJub25lIn0.e30."}).status == 400
    assert error_of({**bad, "request_uri": "https://evil.example.com/r"}).status == 400


def test_the_seeds_400s_come_before_the_redirected_errors() -> None:
    """Missing parameters and PKCE problems stay 400s even when a scope, prompt, max_age or
    response_mode error is there too; only a request object goes first, since it may carry
    the PKCE parameters and state."""
    bad = {**SEED, "scope": "openid admin", "prompt": "none login", "max_age": "x",
           "response_mode": "fragment"}
    assert error_of({**bad, "state": ""}).description == MISSING_PARAMETERS
    assert error_of({**bad, "code_challenge_method": "plain"}).description == INVALID_PKCE
    assert error_of({**bad, "code_challenge": ""}).description == MISSING_PKCE
    assert isinstance(redirect_of({**bad, "code_challenge_method": "plain", "request": "x"}
                                  ).error, RequestNotSupported)


@pytest.mark.parametrize(("extra", "error_code", "description"), [
    ({"prompt": "none login"}, "invalid_request",
     "prompt=none cannot be combined with other values."),
    ({"prompt": "select_account"}, "invalid_request",
     "Unsupported prompt value: prompt may be none, login or consent."),
    ({"max_age": "-1"}, "invalid_request", "max_age must be a whole number of seconds."),
    ({"max_age": "\uff11"}, "invalid_request",  # a full-width digit
     "max_age must be a whole number of seconds."),
    ({"max_age": str(10**10)}, "invalid_request", "max_age must be a whole number of seconds."),
    ({"response_mode": "fragment"}, "invalid_request", "Only response_mode=query is supported."),
    ({"response_mode": "form_post"}, "invalid_request",
     "Only response_mode=query is supported."),
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported",
     "The request parameter is not supported."),
    ({"request_uri": "https://app.example.com/r/1"}, "request_uri_not_supported",
     "The request_uri parameter is not supported."),
    ({"scope": "openid invoices.write"}, "invalid_scope",
     "The application may not ask for 'invoices.write'."),
])
def test_errors_after_verification_go_back_to_the_client(
        extra: dict[str, str], error_code: str, description: str) -> None:
    answer = redirect_of({**SEED, **extra})
    assert (answer.error.error, answer.error.description) == (error_code, description)
    assert (answer.redirect_uri, answer.state) == (SEED["redirect_uri"], SEED["state"])


def test_a_request_object_is_answered_without_the_parameters_it_would_carry() -> None:
    """OpenID Connect Core §6.1: state, nonce, scope and PKCE may all be inside the request
    object; client_id, redirect_uri and response_type are what must be sent outside it, and
    all that is needed to answer request_not_supported to a proven redirect URI."""
    outside = {k: SEED[k] for k in ("client_id", "redirect_uri", "response_type")}
    answer = redirect_of({**outside, "request": "eyJhbGciOiJub25lIn0.e30."})
    assert isinstance(answer.error, RequestNotSupported)
    assert (answer.redirect_uri, answer.state) == (SEED["redirect_uri"], None)
    answer = redirect_of({**outside, "request_uri": "urn:example:r", "state": "s1"})
    assert isinstance(answer.error, RequestUriNotSupported) and answer.state == "s1"
    without_redirect_uri = error_of({"client_id": "portal-spa", "response_type": "code",
                                     "request": "eyJhbGciOiJub25lIn0.e30."})
    assert (without_redirect_uri.description, without_redirect_uri.missing) == (
        MISSING_PARAMETERS, ("redirect_uri",))
    assert error_of({**outside, "response_type": "token", "request": "x"}).description == \
        ONLY_CODE


def test_a_long_request_object_is_still_answered_request_not_supported() -> None:
    """Its value is never read, so it is not held to the 2048-character limit of the values
    confidp uses (the 16 KiB limit of the whole query still applies)."""
    signed = "eyJhbGciOiJSUzI1NiIsIng1YyI6WyJNSUk" + "A" * 6000 + ".e30.sig"
    assert isinstance(redirect_of({**SEED, "request": signed}).error, RequestNotSupported)
    assert error_of({**SEED, "nonce": "n" * 2049}).description == \
        "Malformed request parameters."


def test_pkce_is_required_unless_the_application_says_otherwise() -> None:
    without = {k: v for k, v in SEED.items() if not k.startswith("code_challenge")}
    # known to require it: "Missing PKCE parameters." once the client is proven
    assert (error_of(without).description, error_of(without).missing) == (
        MISSING_PKCE, ("code_challenge", "code_challenge_method"))
    # unknown: the client is the problem, not PKCE
    assert error_of({**without, "client_id": "nope"}).description == INVALID_CONTEXT
    request = check(SERVER)
    assert (request.code_challenge, request.code_challenge_method) == (None, None)
    assert request.scopes == ("openid", "profile")


def test_pkce_sent_by_a_client_that_need_not_is_still_checked() -> None:
    kept = check({**SERVER, "code_challenge": CHALLENGE, "code_challenge_method": "S256"})
    assert (kept.code_challenge, kept.code_challenge_method) == (CHALLENGE, "S256")
    half = error_of({**SERVER, "code_challenge": CHALLENGE})
    assert (half.description, half.missing) == (MISSING_PKCE, ("code_challenge_method",))
    assert error_of({**SERVER, "code_challenge_method": "S256"}).description == MISSING_PKCE
    assert error_of({**SERVER, "code_challenge": "a" * 43, "code_challenge_method": "plain"}
                    ).description == INVALID_PKCE
    assert error_of({**SERVER, "code_challenge": "short", "code_challenge_method": "S256"}
                    ).description == INVALID_PKCE


def test_missing_parameters_name_pkce_only_where_it_is_required() -> None:
    assert error_of({k: v for k, v in SERVER.items() if k != "state"}).missing == ("state",)
    spa = {k: v for k, v in SEED.items() if k not in ("state", "code_challenge")}
    assert error_of(spa).missing == ("state", "code_challenge")


def test_error_description_keeps_to_the_allowed_characters() -> None:
    """RFC 6749 §4.1.2.1: %x20-21 / %x23-5B / %x5D-7E only."""
    assert error_description('a "quoted" \\ caf\u00e9\n') == "a ?quoted? ? caf??"
    assert error_description("x" * 5000) == "x" * 300 + "..."
    answer = redirect_of({**SEED, "scope": 'openid "x\\y\u00e9'})
    uri = error_response_uri(answer.redirect_uri, answer.error, answer.state,
                             "https://id.example.com")
    assert "error_description=The+application+may+not+ask+for+%27%3Fx%3Fy%3F%27." in uri


def test_error_response_uri() -> None:
    error = LoginRequired("The user is not signed in.")
    assert error_response_uri("https://app.example.com/cb?tenant=a", error, "s 1",
                              "https://id.example.com") == (
        "https://app.example.com/cb?tenant=a&error=login_required&error_description=The+user+"
        "is+not+signed+in.&state=s+1&iss=https%3A%2F%2Fid.example.com")
    assert "state=" not in error_response_uri("https://app.example.com/cb", error, None,
                                              "https://id.example.com")


def test_openid_parameters() -> None:
    request = check({**SEED, "prompt": "login consent", "max_age": "300", "nonce": "n-0S6",
                     "login_hint": "alice", "response_mode": "query", "display": "popup",
                     "ui_locales": "se", "acr_values": "1 2", "id_token_hint": "eyJ.x.y"})
    assert request.prompt == ("login", "consent")
    assert (request.max_age, request.nonce, request.login_hint) == (300, "n-0S6", "alice")


def test_too_long_parameter() -> None:
    assert error_of({**SEED, "state": "x" * 5000}).description == \
        "Malformed request parameters."


def test_revalidate_after_reload() -> None:
    request = check(SEED)
    assert revalidate(request, TENANT).client_id == "portal-spa"
    doc_apps = tenant_doc("https://id.example.com")["applications"]
    doc_apps[0]["redirect_uris"] = ["https://portal.example.com/new"]
    reloaded = validate_file("acme.yaml", dump(tenant_doc("https://id.example.com",
                                                          applications=doc_apps)),
                             themes=None, environ={}).tenant
    assert reloaded is not None
    with pytest.raises(OAuthError) as caught:
        revalidate(request, reloaded)
    assert caught.value.description == INVALID_CONTEXT


def test_revalidate_when_the_application_started_to_require_pkce() -> None:
    request = check(SERVER)
    assert revalidate(request, TENANT).client_id == "server"
    requiring = dataclasses.replace(TENANT, applications={
        **TENANT.applications,
        "server": dataclasses.replace(TENANT.applications["server"], require_pkce=True)})
    with pytest.raises(OAuthError) as caught:
        revalidate(request, requiring)
    assert caught.value.description == MISSING_PKCE


def test_response_uri_keeps_the_registered_query() -> None:
    assert authorization_response_uri("https://app.example.com/cb?tenant=a%20b", {
        "code": "abc", "state": "s t", "iss": "https://id.example.com"}) == (
        "https://app.example.com/cb?tenant=a%20b&code=abc&state=s+t&"
        "iss=https%3A%2F%2Fid.example.com")
    assert authorization_response_uri("http://127.0.0.1:9999/callback", {"code": "c"}) == \
        "http://127.0.0.1:9999/callback?code=c"


def test_needs_login() -> None:
    plain = check(SEED)
    assert needs_login(None, 100.0, plain, 200.0)
    assert not needs_login(50.0, 100.0, plain, 200.0)
    login = check({**SEED, "prompt": "login"})
    assert needs_login(50.0, 100.0, login, 200.0)       # session older than the request
    assert not needs_login(150.0, 100.0, login, 200.0)  # logged in after the request
    aged = check({**SEED, "max_age": "60"})
    assert needs_login(50.0, 100.0, aged, 200.0)        # 150 s old
    assert not needs_login(150.0, 100.0, aged, 200.0)
    zero = check({**SEED, "max_age": "0"})
    assert not needs_login(150.0, 100.0, zero, 200.5)   # fresh login satisfies max_age=0


def test_needs_consent() -> None:
    application = TENANT.applications["portal-spa"]
    request = check(SEED)
    assert not needs_consent(application, [], request)  # the app does not ask for consent
    asking = dataclasses.replace(application, require_consent=True)
    assert needs_consent(asking, [], request)
    assert needs_consent(asking, ["openid"], request)
    assert not needs_consent(asking, list(request.scopes), request)
    assert needs_consent(asking, list(request.scopes), check({**SEED, "prompt": "consent"}))
