"""Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3,
OpenID Connect Core §9): ``none``, ``client_secret_basic`` and ``client_secret_post``. The
method a request uses must be the one the application registered, and only one may be used."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote

from confidp.model import Application, Tenant
from confidp.oauth.errors import InvalidRequest, OAuthError


class InvalidClient(OAuthError):
    """RFC 6749 §5.2: "Client authentication failed (e.g., unknown client, no client
    authentication included, or unsupported authentication method)." Always 401 with a
    ``WWW-Authenticate: Basic`` challenge: §5.2 requires it when the client used the
    Authorization header, and allows 401 otherwise "to indicate which HTTP authentication
    schemes are supported"; RFC 9110 §15.5.2 requires a challenge on every 401."""

    error = "invalid_client"
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="confidp", charset="UTF-8"'}


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    method: str  # none, client_secret_basic, client_secret_post
    client_id: str
    secret: str | None


def parse_credentials(authorization: str | None, form: dict[str, str]) -> ClientCredentials:
    """What the request presents. Raises when it presents none, or more than one method."""
    basic = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient("Unsupported Authorization scheme; use Basic.")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):  # ValueError: not ASCII
            raise InvalidClient("Malformed Basic credentials.") from None
        client_id, colon, secret = decoded.partition(":")
        if not colon or not client_id:
            raise InvalidClient("Malformed Basic credentials.")
        # RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding
        basic = ClientCredentials("client_secret_basic", unquote(client_id.replace("+", " ")),
                                  unquote(secret.replace("+", " ")))
    if basic is not None:
        if "client_secret" in form:
            raise InvalidRequest("Use one client authentication method, not two.")
        if "client_id" in form and form["client_id"] != basic.client_id:
            raise InvalidRequest("client_id differs from the authenticated client.")
        return basic
    posted_id = form.get("client_id")
    if not posted_id:
        raise InvalidClient("Client authentication is required: send client_id (public "
                            "clients) or client credentials.")
    if "client_secret" in form:
        return ClientCredentials("client_secret_post", posted_id, form["client_secret"])
    return ClientCredentials("none", posted_id, None)


def registered_client(tenant: Tenant, credentials: ClientCredentials) -> Application:
    """The application, if the request used the method it registered. The secret itself is
    checked by the caller (argon2 runs off the event loop)."""
    application = tenant.application(credentials.client_id)
    if application is None:
        raise InvalidClient("Unknown client.")
    if credentials.method != application.token_endpoint_auth_method:
        raise InvalidClient(f"This client authenticates with "
                            f"{application.token_endpoint_auth_method}.")
    return application
