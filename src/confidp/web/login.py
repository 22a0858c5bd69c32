"""GET and POST {issuer}/login: the themed login form for a pending sign-in request. The
password is checked only after the attempt was counted by the login throttle
(confidp.throttle)."""

from __future__ import annotations

import math

from sanic import HTTPResponse, Request

from confidp.i18n import Message, lazy, lazy_plural
from confidp.model import Tenant
from confidp.oauth.authorize import revalidate
from confidp.registry import Snapshot
from confidp.throttle import count_attempt, refund
from confidp.web.flow import (
    Pending,
    check_csrf,
    load_pending,
    load_session,
    proceed,
    session_cookie,
    set_cookie,
    start_session,
    store_of,
)
from confidp.web.pages import page

FAILED = lazy("The username or password is incorrect.")
INCOMPLETE = lazy("Enter your username and password.")
MAX_USERNAME = 128
MAX_PASSWORD = 1024


def client_ip(request: Request) -> str:
    return str(request.remote_addr or request.ip)


def _login_page(request: Request, tenant: Tenant, snapshot: Snapshot, pending: Pending, *,
                status: int = 200, error: Message | None = None, username: str = "",
                headers: dict[str, str] | None = None) -> HTTPResponse:
    application = revalidate(pending.request, tenant)
    return page(request, tenant, snapshot, "login.html", page_title="Sign in", status=status,
                form_targets=[pending.request.redirect_uri], headers=headers,
                action=f"{tenant.issuer_path}/login", request_id=pending.id,
                csrf_token=pending.csrf_token, application_name=application.name,
                error=error, username=username or pending.request.login_hint or "")


async def login_form(request: Request, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    pending = await load_pending(request, tenant, request.args.get("request"))
    session = await load_session(request, tenant)
    if session is not None and "login" not in pending.request.prompt \
            and pending.request.max_age is None:
        return await proceed(request, tenant, pending, session, 302)
    return _login_page(request, tenant, snapshot, pending)


async def login_submit(request: Request, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    form = request.form
    pending = await load_pending(request, tenant, form.get("request"))
    check_csrf(pending, form.get("csrf_token"))
    revalidate(pending.request, tenant)
    username = (form.get("username") or "").strip()[:MAX_USERNAME]
    password = form.get("password") or ""
    if not username or not password or len(password) > MAX_PASSWORD:
        return _login_page(request, tenant, snapshot, pending, status=400, username=username,
                           error=INCOMPLETE)
    store = store_of(request, tenant)
    attempt = await count_attempt(store, tenant.login_throttle, username, client_ip(request))
    if attempt.retry_after is not None:
        wait = max(1, math.ceil(attempt.retry_after))
        minutes = max(1, math.ceil(wait / 60))
        return _login_page(request, tenant, snapshot, pending, status=429, username=username,
                           error=lazy_plural(
                               "Too many failed sign-in attempts. Try again in %(num)d minute.",
                               "Too many failed sign-in attempts. Try again in %(num)d "
                               "minutes.", minutes),
                           headers={"Retry-After": str(wait)})
    user = tenant.user(username)
    verified = await request.app.ctx.passwords.verify(
        user.password_hash.reveal() if user else None, password)
    if not verified or user is None or user.disabled:  # the attempt stays counted
        return _login_page(request, tenant, snapshot, pending, status=401, username=username,
                           error=FAILED)
    await refund(store, attempt)
    session, session_id = await start_session(request, tenant, user)
    response = await proceed(request, tenant, pending, session, 303)
    set_cookie(response, tenant, session_cookie(tenant), session_id)
    return response
