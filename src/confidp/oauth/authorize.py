"""The authorization endpoint's rules (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core
§3.1.2), checked in the order DESIGN.md gives, so that nothing is ever redirected to a URI
that is not registered:

1. (tenant: resolved before this module is called)
2. required parameters, none twice          -> Missing required OAuth parameters. / PKCE
3. client_id known, redirect_uri registered -> Invalid authorization context. (never redirected)
4. response_type is code                    -> Only response_type=code is supported.
5. code_challenge_method S256, challenge ok -> Invalid PKCE parameters.
6. every scope allowed for the application  -> Invalid authorization context.
7. OpenID Connect parameters well-formed    -> invalid_request

Every check is a function that raises a typed error or returns what it proved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from confidp.model import Application, Tenant
from confidp.oauth import pkce
from confidp.oauth.echo import quoted, quoted_list
from confidp.oauth.errors import (
    INVALID_CONTEXT,
    INVALID_PKCE,
    MISSING_PARAMETERS,
    MISSING_PKCE,
    ONLY_CODE,
    InvalidRequest,
    InvalidScope,
    RequestNotSupported,
    RequestUriNotSupported,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from confidp.oauth.params import single_values

REQUIRED = ("client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
            "code_challenge_method")
PKCE_PARAMETERS = ("code_challenge", "code_challenge_method")
OPTIONAL = ("nonce", "prompt", "max_age", "login_hint", "response_mode", "request",
            "request_uri", "ui_locales", "display", "acr_values", "id_token_hint")
KNOWN = frozenset(REQUIRED + OPTIONAL)
PROMPTS = frozenset({"none", "login", "consent"})
MAX_AGE_LIMIT = 10**9


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request, as carried (sealed) while the person logs in."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    code_challenge: str
    code_challenge_method: str
    nonce: str | None = None
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    login_hint: str | None = None

    def to_fields(self) -> list[Any]:
        """Positional, for the compact sealed form (``from_fields`` reads it back)."""
        return [self.client_id, self.redirect_uri, list(self.scopes), self.state,
                self.code_challenge, self.code_challenge_method, self.nonce,
                list(self.prompt), self.max_age, self.login_hint]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> AuthorizationRequest:
        (client_id, redirect_uri, scopes, state, code_challenge, code_challenge_method, nonce,
         prompt, max_age, login_hint) = fields
        return cls(client_id, redirect_uri, tuple(scopes), state, code_challenge,
                   code_challenge_method, nonce, tuple(prompt), max_age, login_hint)


def check_required(params: dict[str, str]) -> None:
    """Step 2. A parameter sent without a value counts as missing (RFC 6749 §3.1)."""
    missing = tuple(name for name in REQUIRED if name not in params)
    if not missing:
        return
    if all(name in PKCE_PARAMETERS for name in missing):
        raise InvalidRequest(MISSING_PKCE, "PKCE (RFC 7636) is required for every client: "
                             f"send {' and '.join(missing)}.", missing)
    raise InvalidRequest(MISSING_PARAMETERS, f"Missing: {', '.join(missing)}.", missing)


def check_client(params: dict[str, str], tenant: Tenant) -> Application:
    """Step 3a. The client must be registered in this tenant."""
    application = tenant.application(params["client_id"])
    if application is None:
        raise InvalidRequest(INVALID_CONTEXT, f"The client_id {quoted(params['client_id'])} is not "
                             f"registered with {tenant.display_name}.")
    if "authorization_code" not in application.grant_types:
        raise UnauthorizedClient(INVALID_CONTEXT, "This application may not use the "
                                 "authorization code flow.")
    return application


def check_redirect_uri(redirect_uri: str, application: Application) -> str:
    """Step 3b. Exact string comparison (RFC 9700 §4.1.3): a different path, port or trailing
    slash is another URI. Nothing is redirected before this check passed."""
    if redirect_uri not in application.redirect_uris:
        raise InvalidRequest(INVALID_CONTEXT, "The redirect_uri is not registered for this "
                             "application; it must match a registered URI exactly, including "
                             "path, port and trailing slash.")
    return redirect_uri


def check_response_type(params: dict[str, str]) -> None:
    """Step 4."""
    if params["response_type"] != "code":
        raise UnsupportedResponseType(ONLY_CODE, "Got response_type="
                                      f"{quoted(params['response_type'])}.")


def check_pkce(params: dict[str, str]) -> None:
    """Step 5. RFC 7636 §4.3, S256 only (RFC 9700 §2.1.1: plain is not to be used)."""
    if params["code_challenge_method"] != pkce.S256:
        raise InvalidRequest(INVALID_PKCE, "code_challenge_method must be S256; plain is not "
                             "supported.")
    if not pkce.challenge_is_well_formed(params["code_challenge"]):
        raise InvalidRequest(INVALID_PKCE, "code_challenge must be 43 to 128 base64url "
                             "characters (A-Z a-z 0-9 - _).")


def check_scopes(scope: str, application: Application) -> tuple[str, ...]:
    """Step 6. Space-delimited, case-sensitive (RFC 6749 §3.3); each allowed for the client."""
    requested = tuple(dict.fromkeys(token for token in scope.split(" ") if token))
    if not requested:
        raise InvalidRequest(MISSING_PARAMETERS, "Missing: scope.", ("scope",))
    not_allowed = [token for token in requested if token not in application.scopes]
    if not_allowed:
        raise InvalidScope(INVALID_CONTEXT, "Not allowed for this application: "
                           f"{quoted_list(not_allowed)}.")
    return requested


def check_openid_parameters(params: dict[str, str]) -> tuple[tuple[str, ...], int | None]:
    """Step 7. OpenID Connect Core §3.1.2.1: prompt and max_age; request objects and response
    modes other than query are not supported."""
    if "request" in params:
        raise RequestNotSupported("The request parameter is not supported.")
    if "request_uri" in params:
        raise RequestUriNotSupported("The request_uri parameter is not supported.")
    if params.get("response_mode", "query") != "query":
        raise InvalidRequest("Only response_mode=query is supported.")
    prompt = tuple(dict.fromkeys(p for p in params.get("prompt", "").split(" ") if p))
    unknown = [p for p in prompt if p not in PROMPTS]
    if unknown:
        raise InvalidRequest("Unsupported prompt value.", "prompt may be none, login or "
                             "consent.")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values.")
    max_age = None
    if "max_age" in params:
        raw = params["max_age"]
        if not raw.isdigit() or not raw.isascii() or int(raw) > MAX_AGE_LIMIT:
            raise InvalidRequest("max_age must be a whole number of seconds.")
        max_age = int(raw)
    return prompt, max_age


def validate_authorization_request(pairs: Iterable[tuple[str, str]],
                                   tenant: Tenant) -> AuthorizationRequest:
    """Steps 2 to 7, in order."""
    params = single_values(pairs, KNOWN)
    check_required(params)
    application = check_client(params, tenant)
    redirect_uri = check_redirect_uri(params["redirect_uri"], application)
    check_response_type(params)
    check_pkce(params)
    scopes = check_scopes(params["scope"], application)
    prompt, max_age = check_openid_parameters(params)
    return AuthorizationRequest(
        client_id=application.client_id, redirect_uri=redirect_uri, scopes=scopes,
        state=params["state"], code_challenge=params["code_challenge"],
        code_challenge_method=params["code_challenge_method"], nonce=params.get("nonce"),
        prompt=prompt, max_age=max_age, login_hint=params.get("login_hint"))


def revalidate(request: AuthorizationRequest, tenant: Tenant) -> Application:
    """Re-check a stored request against the current tenant (DESIGN.md "Hot reload"): a client,
    redirect URI or scope removed by a reload stops working at once."""
    application = check_client({"client_id": request.client_id}, tenant)
    check_redirect_uri(request.redirect_uri, application)
    check_scopes(" ".join(request.scopes), application)
    return application


def authorization_response_uri(redirect_uri: str, values: dict[str, str]) -> str:
    """RFC 6749 §4.1.2: add the response parameters to the redirect URI's query, keeping the
    query it already has (§3.1.2)."""
    parts = urlsplit(redirect_uri)
    added = urlencode(values)
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def needs_login(auth_time: float | None, requested_at: float, request: AuthorizationRequest,
                now: float) -> bool:
    """OpenID Connect Core §3.1.2.1: prompt=login and max_age force a fresh login, which a login
    made after the request was received satisfies."""
    if auth_time is None:
        return True
    fresh = auth_time >= requested_at
    if "login" in request.prompt and not fresh:
        return True
    return request.max_age is not None and now - auth_time > request.max_age and not fresh


def needs_consent(application: Application, granted: Iterable[str],
                  request: AuthorizationRequest) -> bool:
    """Consent is asked for applications that require it: when prompt=consent, or when the
    person has not yet granted every requested scope to the application."""
    if not application.require_consent:
        return False
    return "consent" in request.prompt or not set(request.scopes) <= set(granted)
