"""The browser flow's state: sign-in requests waiting for a login (pending), sessions, consents
and codes, and the decision of what comes next (login, consent, or the code).

A sign-in request is not stored: /authorize seals it (confidp.sealing) into the login page's
URL, and only its use is recorded, so that it is used once. It is bound to the browser that
started it by a flow cookie: a login page opened in another browser (or forged by another site)
is refused. Cookies carry only random ids (a session's prefixed with its tenant id); the store
keys sessions by the id's SHA-256, so a copy of the store holds no usable cookie.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sanic import HTTPResponse, Request

from confidp.model import Application, Tenant, User
from confidp.oauth.authorize import (
    AuthorizationRequest,
    authorization_response_uri,
    error_response_uri,
    needs_consent,
    needs_login,
    revalidate,
)
from confidp.oauth.errors import (
    TENANT_MISMATCH,
    ConsentRequired,
    FlowError,
    InvalidRequest,
    LoginRequired,
    OAuthError,
    SignInExpired,
)
from confidp.oauth.tokens import digest
from confidp.sealing import Sealer
from confidp.store.base import Write
from confidp.store.kinds import CODE, CONSENT, PENDING_USED, SESSION
from confidp.store.tenant import TenantStore
from confidp.web.pages import redirect
from confidp.web.responses import COMPACT_JSON

_COOKIE_PART = re.compile(r"[A-Za-z0-9_.-]*")
_SESSION_ID = re.compile(r"([a-z0-9][a-z0-9_-]{0,62})\.[A-Za-z0-9_-]{43}")  # tenant.random
_SEALED_VERSION = 1
SIGN_IN_PURPOSE = b"confidp sign-in request"
# keeps a login URL under 8 KiB, the request line many proxies accept (nginx's default); a
# usual request seals to about 500 characters
MAX_SEALED_LENGTH = 6 * 1024
_TOUCH_AFTER = 60.0  # at most this many seconds between writes that extend an idle session


def session_cookie(tenant: Tenant) -> str:
    return f"confidp_session_{tenant.id}"


def flow_cookie(tenant: Tenant) -> str:
    return f"confidp_flow_{tenant.id}"


def read_cookie(request: Request, name: str) -> str | None:
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


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-in request. ``id`` is its sealed form, which the login and consent pages carry;
    None until /authorize seals it, which it does only when the browser must come back for a
    page. Nothing is stored until it is used: a used one is remembered until it expires."""

    id: str | None
    request: AuthorizationRequest
    created_at: float
    expires_at: float = 0.0
    csrf_token: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    id_digest: str
    subject: str
    username: str
    auth_time: float


def store_of(request: Request, tenant: Tenant) -> TenantStore:
    """The store, in ``tenant``'s namespace."""
    return TenantStore(request.app.ctx.store, tenant.id)


def seal_pending(sealer: Sealer, tenant: Tenant, auth_request: AuthorizationRequest,
                 created_at: float, binding: str) -> Pending:
    """The sign-in request sealed (confidp.sealing) with its tenant, lifetime, a digest of the
    browser's flow cookie and a CSRF token for its forms."""
    expires_at = created_at + tenant.lifetimes.login
    csrf = secrets.token_urlsafe(32)
    data = COMPACT_JSON.encode([_SEALED_VERSION, tenant.id, created_at, expires_at,
                                digest(binding), csrf, auth_request.to_fields()])
    sealed = sealer.seal(data.encode(), SIGN_IN_PURPOSE)
    if len(sealed) > MAX_SEALED_LENGTH:
        raise InvalidRequest("Malformed request parameters.", "The parameters are too long "
                             "together: keep state, nonce and login_hint to about 4 KB in all.")
    return Pending(sealed, auth_request, created_at, expires_at, csrf)


def sealer_of(request: Request) -> Sealer:
    sealer: Sealer = request.app.ctx.sealer
    return sealer


async def load_pending(request: Request, tenant: Tenant, pending_id: str | None) -> Pending:
    """The sign-in request a login or consent page carries, if it was sealed by this server,
    for this tenant, in this browser, is within its lifetime (the shorter of the lifetime it
    was given and the tenant's current one) and was not used yet."""
    if not pending_id or len(pending_id) > MAX_SEALED_LENGTH:
        raise SignInExpired()
    data = sealer_of(request).unseal(pending_id, SIGN_IN_PURPOSE)
    if data is None:
        raise SignInExpired()
    try:
        version, tenant_id, created_at, expires_at, binding_digest, csrf, fields = \
            json.loads(data)
        auth_request = AuthorizationRequest.from_fields(fields)
    except (ValueError, TypeError):  # sealed by this key, so only by another confidp version
        raise SignInExpired() from None
    if version != _SEALED_VERSION:
        raise SignInExpired()
    if tenant_id != tenant.id:
        raise FlowError(TENANT_MISMATCH, "This sign-in request was started for another "
                        "tenant. Go back to the application and sign in again.")
    # this tenant's own request from here on: its pages (and an error page's way back to the
    # application) follow it (confidp.web.locale, confidp.web.way_back)
    request.ctx.sign_in_request = auth_request
    if time.time() >= min(expires_at, created_at + tenant.lifetimes.login):
        raise SignInExpired()
    binding = read_cookie(request, flow_cookie(tenant)) or ""
    if not hmac.compare_digest(digest(binding), binding_digest):
        raise FlowError("This sign-in request was started in another browser.",
                        "Go back to the application and sign in again. If this keeps "
                        "happening, allow cookies for this site.")
    if await store_of(request, tenant).get(PENDING_USED, digest(pending_id)) is not None:
        raise SignInExpired()
    return Pending(pending_id, auth_request, created_at, expires_at, csrf)


async def use_pending(store: TenantStore, tenant: Tenant, pending: Pending,
                      writes: Sequence[Write] = ()) -> bool:
    """Marks a sign-in request used and makes ``writes``, in one atomic step: True for the one
    caller that did."""
    if pending.id is None:  # never sealed, so never seen before: nothing to mark
        if writes:
            await store.put_many(writes)
        return True
    return await store.claim(PENDING_USED, digest(pending.id), {"tenant": tenant.id},
                             max(1.0, pending.expires_at - time.time()), writes)


def check_csrf(pending: Pending, token: str | None) -> None:
    if not token or not hmac.compare_digest(token.encode(), pending.csrf_token.encode()):
        raise FlowError("This form has expired.", "Go back to the application and sign in "
                        "again.")


def presented_session(request: Request, tenant: Tenant) -> tuple[str, str] | None:
    """The tenant the session id this browser presents names, and the id's store key; None
    when there is none, or the value is not shaped like a session id."""
    value = read_cookie(request, session_cookie(tenant))
    if not value:
        return None
    match = _SESSION_ID.fullmatch(value)
    return (match[1], digest(value)) if match else None


async def load_session(request: Request, tenant: Tenant) -> Session | None:
    """The tenant's session of this browser, if valid now: within its idle and absolute
    lifetimes, and its user (by subject) still in the tenant file and not disabled. A session
    of another tenant (its id names the tenant) is the seed's tenant-context mismatch."""
    presented = presented_session(request, tenant)
    if presented is None:
        return None
    owner, key = presented
    if owner != tenant.id:
        # a session of another tenant, if it is one (a made-up id is no session at all)
        other = TenantStore(request.app.ctx.store, owner)
        if await other.get(SESSION, key) is not None:
            raise FlowError(TENANT_MISMATCH, "The session presented belongs to another tenant.")
        return None
    store = store_of(request, tenant)
    record = await store.get(SESSION, key)
    if record is None:
        return None
    if record["tenant"] != tenant.id:
        raise FlowError(TENANT_MISMATCH, "The session presented belongs to another tenant.")
    now = time.time()
    lifetimes = tenant.lifetimes
    age = now - record["created_at"]
    # the user by subject, as the token grants find them: a new username is the same person
    user = tenant.active_user(record["subject"])
    if age > lifetimes.session_absolute or now - record["last_seen"] > lifetimes.session_idle \
            or user is None:
        await store.delete(SESSION, key)
        return None
    if now - record["last_seen"] > min(_TOUCH_AFTER, lifetimes.session_idle / 4):
        record["last_seen"] = now
        await store.put(SESSION, key, record,
                        min(lifetimes.session_idle, lifetimes.session_absolute - age))
    return Session(key, user.subject, user.username, record["auth_time"])


async def start_session(request: Request, tenant: Tenant, user: User) -> tuple[Session, str]:
    """A new session for a fresh login, and the cookie value that carries it; any previous
    session of this browser ends (a new id at every login: no session fixation)."""
    store = store_of(request, tenant)
    previous = presented_session(request, tenant)
    if previous is not None and previous[0] == tenant.id:
        await store.delete(SESSION, previous[1])
    session_id = f"{tenant.id}.{secrets.token_urlsafe(32)}"  # names its tenant: see load_session
    now = time.time()
    key = digest(session_id)
    await store.put(SESSION, key, {
        "tenant": tenant.id, "subject": user.subject, "username": user.username,
        "auth_time": now, "created_at": now, "last_seen": now},
        min(tenant.lifetimes.session_idle, tenant.lifetimes.session_absolute))
    return Session(key, user.subject, user.username, now), session_id


def consent_key(subject: str, client_id: str) -> str:
    return f"{subject}\x1f{client_id}"


async def granted_scopes(store: TenantStore, subject: str,
                         client_id: str) -> list[str]:
    record = await store.get(CONSENT, consent_key(subject, client_id))
    return list(record["scopes"]) if record else []


async def remember_consent(store: TenantStore, tenant: Tenant, subject: str, client_id: str,
                           scopes: tuple[str, ...]) -> None:
    granted = await granted_scopes(store, subject, client_id)
    await store.put(CONSENT, consent_key(subject, client_id),
                    {"scopes": sorted(set(granted) | set(scopes))},
                    tenant.lifetimes.refresh_token_absolute)


def login_path(tenant: Tenant, pending_id: str) -> str:
    return f"{tenant.issuer_path}/login?request={quote(pending_id)}"


def consent_path(tenant: Tenant, pending_id: str) -> str:
    return f"{tenant.issuer_path}/consent?request={quote(pending_id)}"


async def proceed(request: Request, tenant: Tenant, pending: Pending, session: Session | None,
                  status: int, binding: str | None = None) -> HTTPResponse:
    """What comes next for a valid sign-in request: the login page, the consent page, or the
    code. Re-checks the request against the current tenant first. A request not yet sealed
    is sealed (bound to ``binding``) only when the browser must come back for a page."""
    application = revalidate(pending.request, tenant)
    auth_request = pending.request
    store = store_of(request, tenant)

    def sealed_id() -> str:
        if pending.id is not None:
            return pending.id
        assert binding is not None
        return seal_pending(sealer_of(request), tenant, auth_request, pending.created_at,
                            binding).id or ""

    if session is None or needs_login(session.auth_time, pending.created_at, auth_request,
                                      time.time()):
        if "none" in auth_request.prompt:
            return await finish_with_error(request, tenant, pending, LoginRequired(
                "The user is not signed in."), status)
        return redirect(login_path(tenant, sealed_id()), status)
    granted = await granted_scopes(store, session.subject, application.client_id)
    if needs_consent(application, granted, auth_request):
        if "none" in auth_request.prompt:
            return await finish_with_error(request, tenant, pending, ConsentRequired(
                "The user has not consented to the requested scopes."), status)
        return redirect(consent_path(tenant, sealed_id()), status)
    return await issue_code(request, tenant, application, pending, session, status)


async def finish_with_error(request: Request, tenant: Tenant, pending: Pending,
                            error: OAuthError, status: int) -> HTTPResponse:
    """Back to the (verified) redirect URI with an error, state and iss (RFC 6749 §4.1.2.1,
    RFC 9207)."""
    assert error.redirectable
    await use_pending(store_of(request, tenant), tenant, pending)
    return redirect(error_response_uri(pending.request.redirect_uri, error,
                                       pending.request.state, tenant.issuer), status)


async def issue_code(request: Request, tenant: Tenant, application: Application,
                     pending: Pending, session: Session, status: int) -> HTTPResponse:
    """RFC 6749 §4.1.2: a 256-bit, single-use, short-lived code bound to everything the token
    endpoint must check. The sign-in request is used up in the step that stores the code, so a
    double submit cannot issue two codes, and a store lost before that step uses up nothing."""
    code = secrets.token_urlsafe(32)
    auth_request = pending.request
    record = {
        "tenant": tenant.id, "client_id": application.client_id,
        "redirect_uri": auth_request.redirect_uri,
        "code_challenge": auth_request.code_challenge,
        "code_challenge_method": auth_request.code_challenge_method,
        "scopes": list(auth_request.scopes), "nonce": auth_request.nonce,
        "subject": session.subject, "username": session.username,
        "auth_time": session.auth_time, "session": session.id_digest,
        "issued_at": time.time()}
    if not await use_pending(store_of(request, tenant), tenant, pending, [
            (CODE, digest(code), record, tenant.lifetimes.authorization_code)]):
        raise SignInExpired()
    return redirect(authorization_response_uri(auth_request.redirect_uri, {
        "code": code, "state": auth_request.state, "iss": tenant.issuer}), status)
