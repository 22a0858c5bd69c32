"""RFC 6749 §4.4: a confidential client acting for itself. No user, so no ID token, no refresh
token, and no scope that releases user claims."""

from __future__ import annotations

from typing import Any

from confidp.model import Application, Tenant
from confidp.oauth.echo import quoted_list
from confidp.oauth.errors import InvalidScope
from confidp.oauth.grant_types import CLIENT_CREDENTIALS
from confidp.oauth.scopes import STANDARD_SCOPES
from confidp.oauth.tokens import Grant, TokenService

GRANT_TYPE = CLIENT_CREDENTIALS


async def run(service: TokenService, tenant: Tenant, client: Application,
              form: dict[str, str]) -> dict[str, Any]:
    allowed = tuple(sorted(s for s in client.scopes if s not in STANDARD_SCOPES))
    scopes = allowed
    if form.get("scope"):
        scopes = tuple(dict.fromkeys(t for t in form["scope"].split(" ") if t))
        user_scopes = [s for s in scopes if s in STANDARD_SCOPES]
        if user_scopes:
            raise InvalidScope("These scopes need a user; client_credentials has none.",
                               f"Not available: {', '.join(user_scopes)}.")
        not_allowed = [s for s in scopes if s not in client.scopes]
        if not_allowed:
            raise InvalidScope("Scope not allowed for this client.",
                               f"Not allowed: {quoted_list(not_allowed)}.")
    return await service.issue(tenant, Grant(client=client, scopes=scopes))
