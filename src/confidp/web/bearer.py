"""Access tokens presented to confidp itself (userinfo), per RFC 6750, and their validation:
signed by the tenant, typ at+jwt (RFC 9068 §4), unexpired, and still recorded (not revoked)."""

from __future__ import annotations

from typing import Any

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.keys import TokenError
from confidp.model import Tenant
from confidp.oauth.tokens import TokenService
from confidp.store.kinds import ACCESS
from confidp.web.pages import NO_STORE
from confidp.web.responses import json


class BearerError(Exception):
    def __init__(self, status: int, error: str | None, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def response(self, tenant: Tenant) -> HTTPResponse:
        challenge = f'Bearer realm="{tenant.issuer}"'
        body: dict[str, str] = {}
        if self.error:
            challenge += f', error="{self.error}", error_description="{self.description}"'
            body = {"error": self.error, "error_description": self.description}
        return json(body, status=self.status,
                    headers={**NO_STORE, "WWW-Authenticate": challenge})


async def access_token_claims(service: TokenService, tenant: Tenant,
                              token: str) -> dict[str, Any] | None:
    """The claims of a live access token of this tenant, else None."""
    ring = await service.ring(tenant)
    try:
        header, claims = ring.verify(token)
    except TokenError:
        return None
    if header.get("typ") != "at+jwt" or claims.get("iss") != tenant.issuer:
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= service.clock():
        return None
    record = await service.store(tenant).get(ACCESS, str(claims.get("jti")))
    if record is None or record["tenant"] != tenant.id:
        return None
    if await service.family_revoked(tenant, record.get("family")):
        return None
    return claims


def presented_token(request: AppRequest) -> str:
    """RFC 6750 §2.1 (header) or §2.2 (form body); exactly one."""
    header = request.headers.get("authorization", "")
    in_body = request.form.get("access_token") if request.method == "POST" else None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise BearerError(401, "invalid_request", "Use Authorization: Bearer <token>.")
        if in_body:
            raise BearerError(400, "invalid_request", "Send the token once.")
        return token.strip()
    if in_body:
        return in_body
    raise BearerError(401, None, "No access token.")
