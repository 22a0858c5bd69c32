"""The authorization endpoint's checks, without HTTP, in the order DESIGN.md gives."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from confidp.config.loader import validate_file
from confidp.model import Tenant
from confidp.oauth.authorize import (
    AuthorizationRequest,
    authorization_response_uri,
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
    OAuthError,
    RequestNotSupported,
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
    with pytest.raises(OAuthError) as caught:
        check(params)
    return caught.value


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


def test_scope_not_allowed() -> None:
    error = error_of({**SEED, "scope": "openid admin"})
    assert isinstance(error, InvalidScope)
    assert (error.status, error.description) == (400, INVALID_CONTEXT)
    assert "'admin'" in (error.detail or "")


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
    assert isinstance(error_of(only_scope), InvalidScope)


def test_openid_parameters() -> None:
    request = check({**SEED, "prompt": "login consent", "max_age": "300", "nonce": "n-0S6",
                     "login_hint": "alice"})
    assert request.prompt == ("login", "consent")
    assert (request.max_age, request.nonce, request.login_hint) == (300, "n-0S6", "alice")
    assert error_of({**SEED, "prompt": "none login"}).status == 400
    assert error_of({**SEED, "prompt": "select_account"}).status == 400
    assert error_of({**SEED, "max_age": "-1"}).status == 400
    assert error_of({**SEED, "max_age": "\uff11"}).status == 400  # a full-width digit
    assert isinstance(error_of({**SEED, "request": "eyJ..."}), RequestNotSupported)
    assert error_of({**SEED, "response_mode": "fragment"}).status == 400


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
