"""The authorization endpoint's rules (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core
§3.1.2), checked in the order DESIGN.md gives, so that nothing is ever redirected to a URI
that is not registered:

1. (tenant: resolved before this module is called)
2. parameters readable, none twice, the required ones present  -> Missing required OAuth
                                                                  parameters. (400)
3. client_id known, redirect_uri registered                    -> Invalid authorization
                                                                  context. (400, never redirected)
4. response_type is code                                       -> Only response_type=code is
                                                                  supported. (400)
5. no request object (request, request_uri)                    -> error redirect
6. PKCE: sent when the application requires it, S256, well formed
                                                               -> Missing PKCE parameters. /
                                                                  Invalid PKCE parameters. (400)
7. response_mode query, every scope allowed for the application, OpenID Connect prompt and
   max_age well-formed                                         -> error redirect

Steps 2, 3, 4 and 6 are the seeds' own errors and answer 400 where the request was made. From
step 5 on, the client and its redirect URI are proven, so the other errors go back to the
client (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6): ``ErrorRedirect`` carries them. A
request object comes before PKCE because the object may carry the PKCE parameters (and state,
nonce, scope): only client_id, redirect_uri and response_type must be sent beside it.

Every check is a function that raises a typed error or returns what it proved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from confidp.i18n.languages import language_tags
from confidp.model import Application, Tenant
from confidp.oauth import pkce
from confidp.oauth.acr import known_acr_values
from confidp.oauth.echo import quoted, quoted_list, shown
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
    RequestUriNotSupported,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from confidp.oauth.grant_types import AUTHORIZATION_CODE
from confidp.oauth.params import single_values

REQUIRED = ("client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
            "code_challenge_method")
PKCE_PARAMETERS = ("code_challenge", "code_challenge_method")
# OpenID Connect Core §6: a request object (by value or by reference) carries the other
# parameters; only these must also be sent as plain parameters, and they are all confidp needs
# to answer request_not_supported to a verified redirect URI.
REQUIRED_WITH_REQUEST_OBJECT = ("client_id", "redirect_uri", "response_type")
# confidp's own: the connector to sign in with (confidp.identity.choice), when the
# application accepts it; anything else is ignored, as an unknown login_hint is
CONNECTOR_HINT = "connector"
_CONNECTOR_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
OPTIONAL = ("nonce", "prompt", "max_age", "login_hint", "response_mode", "request",
            "request_uri", "ui_locales", "display", "acr_values", "id_token_hint",
            CONNECTOR_HINT)
KNOWN = frozenset(REQUIRED + OPTIONAL)
# only looked at to answer request_not_supported: a signed request object can be long
REQUEST_OBJECT_PARAMETERS = ("request", "request_uri")
PROMPTS = frozenset({"none", "login", "consent"})
RESPONSE_MODE_QUERY = "query"
MAX_AGE_LIMIT = 10**9
MAX_DESCRIPTION = 300  # characters of an error_description in an error redirect


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request, as carried (sealed) while the person logs in. Without
    PKCE (an application with ``require_pkce: false`` that sent none) the challenge is None."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None = None
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    login_hint: str | None = None
    ui_locales: tuple[str, ...] = ()  # OpenID Connect Core §3.1.2.1, well-formed tags only
    # OpenID Connect Core §3.1.2.1 acr_values: those confidp defines (confidp.mfa.acr), in the
    # client's order of preference; others are ignored (acr is a voluntary claim)
    acr_values: tuple[str, ...] = ()
    connector: str | None = None  # the connector hint, when well-formed

    def to_fields(self) -> list[Any]:
        """Positional, for the compact sealed form (``from_fields`` reads it back);
        ``ui_locales``, ``acr_values`` and ``connector`` only up to the last one given."""
        fields = [self.client_id, self.redirect_uri, list(self.scopes), self.state,
                  self.code_challenge, self.code_challenge_method, self.nonce,
                  list(self.prompt), self.max_age, self.login_hint]
        if self.ui_locales or self.acr_values or self.connector:
            fields.append(" ".join(self.ui_locales))
        if self.acr_values or self.connector:
            fields.append(" ".join(self.acr_values))
        if self.connector:
            fields.append(self.connector)
        return fields

    @classmethod
    def from_fields(cls, fields: list[Any]) -> AuthorizationRequest:
        (client_id, redirect_uri, scopes, state, code_challenge, code_challenge_method, nonce,
         prompt, max_age, login_hint, *rest) = fields
        if len(rest) > 3:
            raise ValueError("too many fields")
        return cls(client_id, redirect_uri, tuple(scopes), state, code_challenge,
                   code_challenge_method, nonce, tuple(prompt), max_age, login_hint,
                   language_tags(rest[0]) if rest else (),
                   known_acr_values(rest[1]) if len(rest) > 1 else (),
                   str(rest[2]) if len(rest) > 2 else None)


class ErrorRedirect(Exception):
    """An error found once the client and its redirect URI are verified: it goes back to that
    redirect URI (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6) with ``state`` when the
    request had one."""

    def __init__(self, error: OAuthError, redirect_uri: str, state: str | None) -> None:
        super().__init__(error.description)
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state


def check_required(params: dict[str, str], tenant: Tenant) -> None:
    """Step 2. A parameter sent without a value counts as missing (RFC 6749 §3.1). Missing PKCE
    alone is for step 6, once the client is known to require it; with other parameters missing,
    PKCE is named too unless the client is known not to require it."""
    by_reference = any(name in params for name in REQUEST_OBJECT_PARAMETERS)
    required = REQUIRED_WITH_REQUEST_OBJECT if by_reference else REQUIRED
    missing = tuple(name for name in required if name not in params)
    if all(name in PKCE_PARAMETERS for name in missing):
        return
    application = tenant.application(params.get("client_id", ""))
    if application is not None and not application.require_pkce:
        missing = tuple(name for name in missing if name not in PKCE_PARAMETERS)
    raise InvalidRequest(MISSING_PARAMETERS, f"Missing: {', '.join(missing)}.", missing)


def check_client(params: dict[str, str], tenant: Tenant) -> Application:
    """Step 3a. The client must be registered in this tenant."""
    application = tenant.application(params["client_id"])
    if application is None:
        raise InvalidRequest(INVALID_CONTEXT, f"The client_id {quoted(params['client_id'])} is not "
                             f"registered with {tenant.display_name}.")
    if AUTHORIZATION_CODE not in application.grant_types:
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


def check_request_object(params: dict[str, str]) -> None:
    """Step 5. OpenID Connect Core §6: request objects are not supported (discovery says
    request_parameter_supported and request_uri_parameter_supported false)."""
    if "request" in params:
        raise RequestNotSupported("The request parameter is not supported.")
    if "request_uri" in params:
        raise RequestUriNotSupported("The request_uri parameter is not supported.")


def check_response_mode(params: dict[str, str]) -> None:
    """Step 7a. OAuth 2.0 Multiple Response Type Encoding Practices §2.1: only the code flow's
    default, query, is supported; this error itself is returned in the query."""
    if params.get("response_mode", RESPONSE_MODE_QUERY) != RESPONSE_MODE_QUERY:
        raise InvalidRequest("Only response_mode=query is supported.")


def check_pkce(params: dict[str, str], application: Application) -> tuple[str | None,
                                                                             str | None]:
    """Step 6. RFC 7636 §4.3, S256 only (RFC 9700 §2.1.1: plain is not to be used). Required
    unless the application says ``require_pkce: false``; sent anyway, it is checked and bound
    to the code all the same. Returns (code_challenge, code_challenge_method)."""
    missing = tuple(name for name in PKCE_PARAMETERS if name not in params)
    if len(missing) == len(PKCE_PARAMETERS) and not application.require_pkce:
        return None, None
    if missing:
        raise InvalidRequest(MISSING_PKCE, "PKCE (RFC 7636) is required: send "
                             f"{' and '.join(missing)}.", missing)
    if params["code_challenge_method"] != pkce.S256:
        raise InvalidRequest(INVALID_PKCE, "code_challenge_method must be S256; plain is not "
                             "supported.")
    if not pkce.challenge_is_well_formed(params["code_challenge"]):
        raise InvalidRequest(INVALID_PKCE, "code_challenge must be 43 to 128 base64url "
                             "characters (A-Z a-z 0-9 - _).")
    return params["code_challenge"], params["code_challenge_method"]


def check_scopes(scope: str, application: Application) -> tuple[str, ...]:
    """Step 7b. Space-delimited, case-sensitive (RFC 6749 §3.3); each allowed for the client.
    A scope the application may not use, even one the tenant does not define, is an error
    rather than silently dropped: see README, "Signing in"."""
    requested = tuple(dict.fromkeys(token for token in scope.split(" ") if token))
    if not requested:
        raise InvalidRequest(MISSING_PARAMETERS, "Missing: scope.", ("scope",))
    not_allowed = [token for token in requested if token not in application.scopes]
    if not_allowed:
        raise InvalidScope(f"The application may not ask for {quoted_list(not_allowed)}.",
                           "Ask only for scopes listed for the application in the tenant "
                           "file.")
    return requested


def check_openid_parameters(params: dict[str, str]) -> tuple[tuple[str, ...], int | None]:
    """Step 7c. OpenID Connect Core §3.1.2.1: prompt and max_age."""
    prompt = tuple(dict.fromkeys(p for p in params.get("prompt", "").split(" ") if p))
    unknown = [p for p in prompt if p not in PROMPTS]
    if unknown:
        raise InvalidRequest("Unsupported prompt value: prompt may be none, login or "
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
    """Steps 2 to 7, in order. Raises an ``OAuthError`` to show where the request was made
    (steps 2 to 6), or ``ErrorRedirect`` to send back to the verified redirect URI."""
    params = single_values(pairs, KNOWN, unread=REQUEST_OBJECT_PARAMETERS)
    check_required(params, tenant)
    application = check_client(params, tenant)
    redirect_uri = check_redirect_uri(params["redirect_uri"], application)
    check_response_type(params)
    state = params.get("state")
    try:
        check_request_object(params)
    except OAuthError as error:
        raise ErrorRedirect(error, redirect_uri, state) from None
    code_challenge, code_challenge_method = check_pkce(params, application)
    try:
        check_response_mode(params)
        scopes = check_scopes(params["scope"], application)
        prompt, max_age = check_openid_parameters(params)
    except OAuthError as error:
        raise ErrorRedirect(error, redirect_uri, state) from None
    return AuthorizationRequest(
        client_id=application.client_id, redirect_uri=redirect_uri, scopes=scopes,
        state=params["state"], code_challenge=code_challenge,
        code_challenge_method=code_challenge_method, nonce=params.get("nonce"),
        prompt=prompt, max_age=max_age, login_hint=params.get("login_hint"),
        ui_locales=language_tags(params.get("ui_locales")),
        acr_values=known_acr_values(params.get("acr_values")),
        connector=connector_hint(params.get(CONNECTOR_HINT)))


def connector_hint(value: str | None) -> str | None:
    """The connector hint if it is shaped like a connector id; whether the application
    accepts it is decided when the sign-in runs (the tenant file may change meanwhile)."""
    return value if value is not None and _CONNECTOR_ID.fullmatch(value) else None


def revalidate(request: AuthorizationRequest, tenant: Tenant) -> Application:
    """Re-check a stored request against the current tenant (DESIGN.md "Hot reload"): a client,
    redirect URI or scope removed by a reload stops working at once."""
    application = check_client({"client_id": request.client_id}, tenant)
    check_redirect_uri(request.redirect_uri, application)
    if request.code_challenge is None and application.require_pkce:
        raise InvalidRequest(MISSING_PKCE, "The application now requires PKCE: go back to it "
                             "and sign in again.", PKCE_PARAMETERS)
    check_scopes(" ".join(request.scopes), application)
    return application


def authorization_response_uri(redirect_uri: str, values: dict[str, str]) -> str:
    """RFC 6749 §4.1.2: add the response parameters to the redirect URI's query, keeping the
    query it already has (§3.1.2)."""
    parts = urlsplit(redirect_uri)
    added = urlencode(values)
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def error_description(text: str) -> str:
    """RFC 6749 §4.1.2.1: error_description "MUST NOT include characters outside the set
    %x20-21 / %x23-5B / %x5D-7E". Descriptions quote request values through
    ``confidp.oauth.echo`` already; this keeps the whole text to the set and bounded too."""
    return shown(text, MAX_DESCRIPTION)


def error_response_uri(redirect_uri: str, error: OAuthError, state: str | None,
                       issuer: str) -> str:
    """RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6, RFC 9207: the error, its description,
    the request's state if it had one, and iss, always in the query (the code flow's response
    mode: the only one confidp supports, so also the one an unsupported mode is answered in).
    The redirect URI is the one the client and request proved."""
    values = {"error": error.error, "error_description": error_description(error.description)}
    if state is not None:
        values["state"] = state
    values["iss"] = issuer
    return authorization_response_uri(redirect_uri, values)


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
