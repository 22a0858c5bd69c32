"""confidp's cookies: a tenant's session cookie and its flow cookie (which binds a sign-in
request to the browser that started it). They carry only random values; names come from
tenant ids."""

from __future__ import annotations

import re

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.model import Tenant

_COOKIE_PART = re.compile(r"[A-Za-z0-9_.-]*")


def session_cookie(tenant: Tenant) -> str:
    return f"confidp_session_{tenant.id}"


def flow_cookie(tenant: Tenant) -> str:
    return f"confidp_flow_{tenant.id}"


def read_cookie(request: AppRequest, name: str) -> str | None:
    """One of confidp's cookies, by its exact name (Sanic's lookup would also answer with a
    ``__Host-`` or ``__Secure-`` cookie of that name); nothing to parse without a Cookie
    header, as on a browser's first visit."""
    if "cookie" not in request.headers:
        return None
    values = dict.get(request.cookies, name)  # name -> every value sent, most specific first
    return values[0] if values else None


def set_cookie(response: HTTPResponse, tenant: Tenant, name: str, value: str,
               max_age: int | None = None) -> None:
    """HttpOnly, SameSite=Lax, scoped to the issuer's path, Secure when the issuer is https.
    Written directly (RFC 6265 §4.1): names come from tenant ids and values are random
    base64url, and the issuer path is unreserved characters only (config rules), so nothing
    needs quoting; anything else is refused rather than sent."""
    if not _COOKIE_PART.fullmatch(name) or not _COOKIE_PART.fullmatch(value):
        raise ValueError(f"not a cookie confidp writes: {name!r}")
    response.headers.add("Set-Cookie", f"{name}={value}; Path={tenant.issuer_path or '/'}"
                         f"{'' if max_age is None else f'; Max-Age={max_age}'}; SameSite=Lax"
                         f"{'; Secure' if tenant.secure else ''}; HttpOnly")


def clear_cookie(response: HTTPResponse, tenant: Tenant, name: str) -> None:
    set_cookie(response, tenant, name, "", max_age=0)
