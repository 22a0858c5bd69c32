"""Access tokens presented to confidp itself (userinfo), per RFC 6750; whether one is live is
``confidp.oauth.liveness``'s to say."""

from __future__ import annotations

from confidp.context import AppRequest
from confidp.model import Tenant
from confidp.oauth.bearer import MalformedBearerRequest, NoBearerToken, TokenSentTwice
from confidp.web.forms import form_value


def presented_token(request: AppRequest, tenant: Tenant) -> str:
    """RFC 6750 §2.1 (header) or §2.2 (form body); exactly one."""
    header: str = request.headers.get("authorization", "")
    in_body = form_value(request, "access_token") if request.method == "POST" else None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MalformedBearerRequest(tenant.issuer, "Use Authorization: Bearer <token>.")
        if in_body:
            raise TokenSentTwice(tenant.issuer)
        return token.strip()
    if in_body:
        return in_body
    raise NoBearerToken(tenant.issuer)
