"""RFC 6750 (bearer tokens): the errors a resource confidp serves to access tokens (userinfo)
answers, each with its ``WWW-Authenticate: Bearer`` challenge. They are JSON for programs,
never a page."""

from __future__ import annotations

from confidp.oauth.errors import OAuthError


class BearerError(OAuthError):
    """RFC 6750 §3: an error at a resource confidp serves to access tokens (userinfo), with
    its ``WWW-Authenticate: Bearer`` challenge naming the realm (the issuer) and, except when
    no token was sent at all (§3.1), the error."""

    status = 401

    def __init__(self, realm: str, description: str | None = None) -> None:
        super().__init__(description)
        self.realm = realm

    def headers(self) -> dict[str, str]:
        challenge = f'Bearer realm="{self.realm}"'
        if self.error:
            challenge += f', error="{self.error}", error_description="{self.description}"'
        return {"WWW-Authenticate": challenge}


class NoBearerToken(BearerError):
    """RFC 6750 §3.1: "If the request lacks any authentication information ... the resource
    server SHOULD NOT include an error code or other error information": an empty body."""

    error = ""
    default_description = "No access token."

    def to_json(self) -> dict[str, object]:
        return {}


class MalformedBearerRequest(BearerError):
    """RFC 6750 §3.1 invalid_request: the token is not presented as the spec says."""

    error = "invalid_request"


class TokenSentTwice(MalformedBearerRequest):
    """RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token"."""

    status = 400
    default_description = "Send the token once."


class InvalidToken(BearerError):
    """RFC 6750 §3.1: "The access token provided is expired, revoked, malformed, or invalid
    for other reasons.\""""

    error = "invalid_token"


class InsufficientScope(BearerError):
    """RFC 6750 §3.1: "The request requires higher privileges than provided by the access
    token.\""""

    error = "insufficient_scope"
    status = 403
