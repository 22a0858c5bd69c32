"""Typed OAuth errors. Code raises them; one place (``confidp.web.errors``) turns them into a
page, JSON, or (only once the client and redirect URI are verified, and only for the errors
that allow it) a redirect.

An error is raised fresh every time, never kept in a module-level instance: an exception
object raised again grows its ``__traceback__`` by every raise and so keeps every request's
frames alive (tests/test_no_exception_instances.py). An error that always says the same thing
is a class with a ``default_description`` (and ``default_detail``), as node-oidc-provider's
errors are.

The authorization endpoint's messages are the contract of the seed documents, word for word.
"""

from __future__ import annotations

from typing import ClassVar

# The seed documents' messages (shared/seeds/004): clients match on them.
MISSING_PARAMETERS = "Missing required OAuth parameters."
ONLY_CODE = "Only response_type=code is supported."
MISSING_PKCE = "Missing PKCE parameters."
INVALID_CONTEXT = "Invalid authorization context."
TENANT_MISMATCH = "Tenant context mismatch."
INVALID_PKCE = "Invalid PKCE parameters."


class OAuthError(Exception):
    """An error with an OAuth error code (RFC 6749 §4.1.2.1, §5.2), a description for
    clients, an optional detail for the person reading the page, an HTTP status, and the
    headers its response must carry (``headers``)."""

    error: str = "invalid_request"  # a class's own, or (HTTP errors) an instance's
    status: int = 400
    redirectable: ClassVar[bool] = False  # may go back to a verified redirect URI
    default_description: ClassVar[str] = "The request is invalid."
    default_detail: ClassVar[str | None] = None

    def __init__(self, description: str | None = None, detail: str | None = None,
                 missing: tuple[str, ...] = ()) -> None:
        if description is None:
            description = self.default_description
        if detail is None:
            detail = self.default_detail
        super().__init__(description)
        self.description = description
        self.detail = detail
        self.missing = missing

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.error, "error_description": self.description}
        if self.detail:
            body["detail"] = self.detail
        if self.missing:
            body["missing_parameters"] = list(self.missing)
        return body

    def headers(self) -> dict[str, str]:
        """Headers the response must carry (a challenge, Retry-After)."""
        return {}


class InvalidRequest(OAuthError):
    """RFC 6749 §4.1.2.1: "The request is missing a required parameter, includes an invalid
    parameter value, includes a parameter more than once, or is otherwise malformed.\""""


class UnauthorizedClient(OAuthError):
    """RFC 6749 §4.1.2.1: "The client is not authorized to request an authorization code
    using this method.\""""

    error = "unauthorized_client"


class UnsupportedResponseType(OAuthError):
    """RFC 6749 §4.1.2.1: "The authorization server does not support obtaining an
    authorization code using this method.\""""

    error = "unsupported_response_type"


class InvalidScope(OAuthError):
    """RFC 6749 §4.1.2.1: "The requested scope is invalid, unknown, or malformed.\""""

    error = "invalid_scope"


class RequestNotSupported(OAuthError):
    """OpenID Connect Core §3.1.2.6: the request parameter is not supported."""

    error = "request_not_supported"


class RequestUriNotSupported(OAuthError):
    """OpenID Connect Core §3.1.2.6: the request_uri parameter is not supported."""

    error = "request_uri_not_supported"


class AccessDenied(OAuthError):
    """RFC 6749 §4.1.2.1: "The resource owner or authorization server denied the request.\""""

    error = "access_denied"
    redirectable = True


class LoginRequired(OAuthError):
    """OpenID Connect Core §3.1.2.6: prompt=none, and the End-User is not authenticated."""

    error = "login_required"
    redirectable = True


class ConsentRequired(OAuthError):
    """OpenID Connect Core §3.1.2.6: prompt=none, and consent is needed."""

    error = "consent_required"
    redirectable = True


class InteractionRequired(OAuthError):
    """OpenID Connect Core §3.1.2.6: prompt=none, and the sign-in needs the End-User (a
    second factor)."""

    error = "interaction_required"
    redirectable = True


class FlowError(OAuthError):
    """A problem with the sign-in flow itself (expired, another browser, another tenant):
    shown to the person, never redirected."""


class SignInExpired(FlowError):
    """A sign-in request that is unknown, expired or already used."""

    default_description = "This sign-in request has expired or was already used."
    default_detail = "Go back to the application and sign in again."


class SecondFactorUnavailable(FlowError):
    """A second factor is required (the tenant's policy, or the application's acr_values) and
    the person has none of the allowed methods, nor can enrol one here."""

    error = "access_denied"
    status = 403
    default_description = ("A second factor is required to sign in here, and none of the "
                           "methods allowed can be used.")
    default_detail = "Ask your administrator to help you set one up."


class FactorsUnreadable(FlowError):
    """The person's enrolments exist but cannot be read (the enrolment key): the sign-in
    fails closed rather than passing without the factor."""

    error = "temporarily_unavailable"
    status = 503
    default_description = "Your second factors cannot be checked right now."
    default_detail = "Try again later. If this keeps happening, tell your administrator."


class ServerUnavailable(OAuthError):
    """RFC 6749 §4.1.2.1 temporarily_unavailable: state storage cannot be reached."""

    error = "temporarily_unavailable"
    status = 503
    retry_after: ClassVar[int] = 5  # seconds (RFC 9110 §10.2.3)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
