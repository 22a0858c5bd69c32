"""The password step ({issuer}/login): identify and authenticate in one themed form, against
the tenant's password sources (``confidp.identity.sources.PasswordSource``; the tenant file's
users are the ``local`` one). The password is checked only after the attempt was counted by
the login throttle (confidp.throttle). Needed when no session is there, or OpenID Connect's
``prompt=login`` or ``max_age`` ask for a fresh login (Core §3.1.2.1)."""

from __future__ import annotations

import logging
import math

from sanic import HTTPResponse

from confidp import audit
from confidp.i18n import Message, lazy, lazy_plural
from confidp.identity.sources import SourceContext, SourceUnavailable
from confidp.oauth.errors import FlowError, LoginRequired, OAuthError
from confidp.passkeys.policy import passkey_policy
from confidp.throttle import count_attempt, refund
from confidp.web.forms import form_value
from confidp.web.pages import page
from confidp.web.passkey_offer import PASSKEY_SIGN_IN_PATH, Offer, request_offer
from confidp.web.signin.accepted import (
    accepts_passwords,
    callback_sources,
    needs_authentication,
)
from confidp.web.signin.password_choice import SOURCE_FIELD, choices, chosen_source
from confidp.web.signin.steps import Outcome, Passed, SignIn, Stage

FAILED = lazy("The username or password is incorrect.")
UNAVAILABLE = lazy("The sign-in service is temporarily unavailable. Try again shortly.")
INCOMPLETE = lazy("Enter your username and password.")
log = logging.getLogger("confidp.signin")
MAX_USERNAME = 128
MAX_PASSWORD = 1024


def client_ip(sign_in: SignIn) -> str:
    request = sign_in.request
    return str(request.remote_addr or request.ip)


class PasswordStep:
    name = "password"
    stage = Stage.AUTHENTICATE
    path = "/login"

    async def needed(self, sign_in: SignIn) -> bool:
        """The login page: its form when the application accepts a password source, and a
        button per upstream connector it accepts (confidp.web.signin.upstream); not when a
        passkey signed the person in instead (confidp.web.signin.passkey)."""
        if sign_in.pending.identity is not None:
            return False
        return needs_authentication(sign_in)

    def interaction_required(self) -> OAuthError:
        return LoginRequired("The user is not signed in.")

    async def show(self, sign_in: SignIn) -> HTTPResponse:
        return login_page(sign_in)

    async def submit(self, sign_in: SignIn) -> Outcome:
        if not accepts_passwords(sign_in):
            raise FlowError("This sign-in method is not available.",
                            "Go back to the application and sign in again.")
        username = (form_value(sign_in.request, "username") or "").strip()[:MAX_USERNAME]
        password = form_value(sign_in.request, "password") or ""
        source = chosen_source(sign_in, form_value(sign_in.request, SOURCE_FIELD))
        if not username or not password or len(password) > MAX_PASSWORD or source is None:
            return login_page(sign_in, status=400, username=username, error=INCOMPLETE)
        attempt = await count_attempt(sign_in.store, sign_in.tenant.login_throttle, username,
                                      client_ip(sign_in))
        if attempt.retry_after is not None:
            wait = max(1, math.ceil(attempt.retry_after))
            audit.emit(sign_in.request, audit.SIGNIN_LOCKED_OUT, tenant=sign_in.tenant,
                       client_id=sign_in.application.client_id, reason=audit.THROTTLED,
                       username=username, retry_after=wait)
            minutes = max(1, math.ceil(wait / 60))
            return login_page(sign_in, status=429, username=username,
                              error=lazy_plural(
                                  "Too many failed sign-in attempts. Try again in %(num)d "
                                  "minute.",
                                  "Too many failed sign-in attempts. Try again in %(num)d "
                                  "minutes.", minutes),
                              headers={"Retry-After": str(wait)})
        context = SourceContext(sign_in.tenant, sign_in.request.app.ctx.passwords, sign_in.now)
        try:
            identity = await source.authenticate(username, password, context)
        except SourceUnavailable as exc:  # not a wrong password: not counted
            await refund(sign_in.store, attempt)
            log.warning("sign-in at %s: identity source %s unavailable: %s",
                        sign_in.tenant.id, exc.source, exc.reason)
            audit.emit(sign_in.request, audit.SIGNIN_FAILED, tenant=sign_in.tenant,
                       client_id=sign_in.application.client_id, connector=exc.source,
                       reason=audit.UPSTREAM_ERROR, username=username)
            return login_page(sign_in, status=exc.status, username=username,
                              error=UNAVAILABLE, headers=exc.headers())
        if identity is None:  # the attempt stays counted
            refused_by, reason = refusal(context)
            audit.emit(sign_in.request, audit.SIGNIN_FAILED, tenant=sign_in.tenant,
                       client_id=sign_in.application.client_id, connector=refused_by,
                       reason=reason, username=username)
            return login_page(sign_in, status=401, username=username, error=FAILED)
        await refund(sign_in.store, attempt)
        return Passed(identity)  # signin.succeeded: written by the driver (steps.advance)



def login_page(sign_in: SignIn, *, status: int = 200, error: Message | None = None,
               username: str = "", headers: dict[str, str] | None = None,
               passkey_error: Message | None = None) -> HTTPResponse:
    """The login page: the password form when the application accepts a password source
    (with the choice of source when it accepts several), a button per upstream connector it
    accepts, and "Sign in with a passkey" where the policy allows passwordless sign-in."""
    pending = sign_in.pending
    passkey = passwordless_offer(sign_in)
    return page(sign_in.request, sign_in.tenant, sign_in.snapshot, "login.html",
                page_title="Sign in", status=status, scripts=passkey is not None,
                form_targets=[pending.request.redirect_uri], headers=headers,
                action=f"{sign_in.tenant.issuer_path}{PasswordStep.path}",
                request_id=pending.sealed, csrf_token=pending.csrf_token,
                application_name=sign_in.application.name, error=error,
                username=username or pending.request.login_hint or "",
                passkey=passkey, passkey_error=passkey_error,
                password_form=accepts_passwords(sign_in),
                password_sources=choices(sign_in),
                chosen_source=form_value(sign_in.request, SOURCE_FIELD)
                or pending.request.connector or "",
                connectors=[{"id": source.id, "name": source.display_name}
                            for source in callback_sources(sign_in)],
                upstream_action=f"{sign_in.tenant.issuer_path}/upstream")


def passwordless_offer(sign_in: SignIn) -> Offer | None:
    """The passkey form of the login page: a challenge bound to this sign-in, user
    verification required, no credentials listed (the authenticator offers its discoverable
    ones)."""
    if not passkey_policy(sign_in.tenant, sign_in.application).passwordless:
        return None
    return request_offer(sign_in.request, sign_in.tenant,
                         f"{sign_in.tenant.issuer_path}{PASSKEY_SIGN_IN_PATH}",
                         bound_to=sign_in.pending.used_key, user_verification=True)


def refusal(context: SourceContext) -> tuple[str | None, str]:
    """Which source refused, and why (the one the form chose: a ``confidp.audit`` reason it
    gave with ``context.refuse``)."""
    known = [(source, reason) for source, reason in context.refusals
             if reason != audit.UNKNOWN_USER]
    if known or context.refusals:
        return (known or context.refusals)[0]
    return None, audit.WRONG_PASSWORD
