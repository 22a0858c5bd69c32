"""The account page ({issuer}/account): a signed-in person sees and removes their second
factors, sets up an authenticator app, makes new recovery codes, sees where they are signed
in and which applications hold a refresh token, and signs out everywhere. Themed, and it
works without JavaScript (WebAuthn's "add a passkey" button is the only script, in its slot).

Signing in to it reuses the session; without one, it is a sign-in like an application's
(the ``account`` finisher: confidp.web.signin.finish), under the tenant's own second-factor
rules. Changing factors (enrolling, removing, new recovery codes) needs a recent sign-in with
a factor: within ``second_factors.recent_authentication`` (default 10 minutes) of the
session's authentication, and with a second factor if the person has one (amr ``mfa``);
otherwise the person signs in again first (prompt=login). Signing out everywhere needs
no more than the session: it only takes access away. Every change is an audit line.

The forms carry a CSRF token derived from the session (HMAC under the server key), as the
sign-out confirmation does.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from dataclasses import replace

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.i18n import Message, lazy
from confidp.mfa import events, qr, totp
from confidp.mfa.cipher import EnrolmentUnreadable
from confidp.mfa.codes import MAX_CODE_LENGTH, claim_step, enrolled_totp, new_recovery_codes
from confidp.mfa.enrolments import change
from confidp.mfa.factors import TOTP, WEBAUTHN, Factors
from confidp.mfa.policy import FactorPolicy, policy_for
from confidp.model import Tenant
from confidp.oauth.authorize import AuthorizationRequest
from confidp.oauth.errors import FactorsUnreadable, FlowError
from confidp.oauth.everywhere import families_of, sessions_of, sign_out_everywhere
from confidp.registry import Snapshot
from confidp.store.kinds import TOTP_CANDIDATE
from confidp.throttle import count_attempt, refund
from confidp.web.cookies import clear_cookie, flow_cookie, read_cookie, session_cookie, set_cookie
from confidp.web.forms import form_value
from confidp.web.pages import page, redirect
from confidp.web.pending import new_pending
from confidp.web.sessions import Session, load_session
from confidp.web.signin.factor import passed_second_factor, too_many_attempts
from confidp.web.signin.finish import ACCOUNT_CLIENT_ID, ACCOUNT_FINISHER, ACCOUNT_PATH
from confidp.web.signin.steps import begin, proceed
from confidp.web.signin.totp import CANDIDATE_PURPOSE, WRONG_CODE

TOTP_PATH = ACCOUNT_PATH + "/totp"
CSRF_PURPOSE = b"account page csrf"
REMOVE_TOTP, REMOVE_PASSKEY = "remove-totp", "remove-passkey"
NEW_RECOVERY_CODES, SIGN_OUT_EVERYWHERE, REAUTHENTICATE = \
    "recovery-codes", "sign-out-everywhere", "reauthenticate"
FORM_EXPIRED = "This form has expired or was not sent from this site."


def csrf_token(request: AppRequest, tenant: Tenant, session: Session) -> str:
    mac = request.app.ctx.server_key.mac(CSRF_PURPOSE, tenant.id, session.key)
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _check_csrf(request: AppRequest, tenant: Tenant, session: Session) -> None:
    given = form_value(request, "csrf_token") or ""
    if not hmac.compare_digest(given.encode(), csrf_token(request, tenant, session).encode()):
        raise FlowError(FORM_EXPIRED, "Open your account page again.")


def recently_verified(session: Session, factors: Factors, policy: FactorPolicy,
                      now: float) -> bool:
    """The re-authentication rule for changing factors (see the module's docstring)."""
    recent = now - session.auth_time <= policy.recent_authentication
    return recent and (not factors.methods or passed_second_factor(session.identity))


def client_ip(request: AppRequest) -> str:
    return str(request.remote_addr or request.ip)


async def _factors(request: AppRequest, tenant: Tenant, subject: str) -> Factors:
    try:
        return await request.app.ctx.enrolments.load(tenant.id, subject)
    except EnrolmentUnreadable:
        raise FactorsUnreadable() from None


async def sign_in_to_account(request: AppRequest, tenant: Tenant, snapshot: Snapshot,
                             session: Session | None, *, again: bool) -> HTTPResponse:
    """A sign-in whose end is this page (``again``: a fresh one, prompt=login)."""
    auth_request = AuthorizationRequest(
        client_id=ACCOUNT_CLIENT_ID, redirect_uri=f"{tenant.issuer}{ACCOUNT_PATH}",
        scopes=("openid",), state="account", code_challenge=None, code_challenge_method=None,
        prompt=("login",) if again else ())
    binding = read_cookie(request, flow_cookie(tenant))
    new_binding = None
    if not binding or len(binding) > 100:
        binding = new_binding = secrets.token_urlsafe(32)
    pending = replace(new_pending(tenant, auth_request, request.app.ctx.clock(), binding),
                      finisher=ACCOUNT_FINISHER)
    response = await proceed(await begin(request, tenant, snapshot, pending, session),
                             303 if request.method == "POST" else 302)
    if new_binding:
        set_cookie(response, tenant, flow_cookie(tenant), new_binding)
    return response


def _when(moment: float | None) -> str:
    if moment is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moment))


async def _page(request: AppRequest, tenant: Tenant, snapshot: Snapshot, session: Session,
                *, notice: Message | None = None, status: int = 200) -> HTTPResponse:
    ctx = request.app.ctx
    identity = session.identity
    factors = await _factors(request, tenant, identity.subject)
    policy = policy_for(tenant, None, identity.groups)
    store = ctx.tenant_store(tenant)
    now = ctx.clock()
    sessions = await sessions_of(store, tenant, identity.subject, now)
    families = await families_of(store, identity.subject)
    applications = [(tenant.application(f.client_id).name  # type: ignore[union-attr]
                     if tenant.application(f.client_id) else f.client_id, _when(f.created_at))
                    for f in families]
    return page(
        request, tenant, snapshot, "account.html", page_title="Your account", status=status,
        action=f"{tenant.issuer_path}{ACCOUNT_PATH}",
        totp_action=f"{tenant.issuer_path}{TOTP_PATH}",
        csrf_token=csrf_token(request, tenant, session), username=identity.username,
        person_name=identity.claims.get("name"), notice=notice,
        recent=recently_verified(session, factors, policy, now),
        totp=factors.totp, totp_created=_when(factors.totp.created_at if factors.totp else None),
        totp_used=_when(factors.totp.last_used_at if factors.totp else None),
        totp_allowed=TOTP in policy.methods, webauthn_allowed=WEBAUTHN in policy.methods,
        passkeys=[(c.credential_id, c.name, _when(c.created_at), _when(c.last_used_at))
                  for c in factors.webauthn],
        recovery_left=len(factors.recovery.digests) if factors.recovery else None,
        has_factor=bool(factors.methods), required=policy.required,
        sessions=[(info.key == session.key, _when(info.created_at), _when(info.last_seen),
                   passed_second_factor_amr(info.amr)) for info in sessions],
        applications=applications)


def passed_second_factor_amr(amr: tuple[str, ...]) -> bool:
    return "mfa" in amr


async def account(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """GET: the page (signing in first when needed); POST: one of its forms."""
    session = await load_session(request, tenant)
    if session is None:
        if request.method == "POST":
            raise FlowError(FORM_EXPIRED, "Open your account page again.")
        return await sign_in_to_account(request, tenant, snapshot, None, again=False)
    if request.method == "GET":
        return await _page(request, tenant, snapshot, session)
    _check_csrf(request, tenant, session)
    action = form_value(request, "action")
    ctx = request.app.ctx
    identity = session.identity
    if action == SIGN_OUT_EVERYWHERE:
        ended, revoked = await sign_out_everywhere(ctx.tokens, ctx.tenant_store(tenant), tenant,
                                                   identity.subject)
        events.emit(request, events.SESSIONS_REVOKED, tenant=tenant.id, subject=identity.subject,
                    sessions=ended, families=revoked, by="person")
        response = page(request, tenant, snapshot, "logged_out.html", page_title="Signed out")
        clear_cookie(response, tenant, session_cookie(tenant))
        return response
    if action == REAUTHENTICATE:
        return await sign_in_to_account(request, tenant, snapshot, session, again=True)
    factors = await _factors(request, tenant, identity.subject)
    policy = policy_for(tenant, None, identity.groups)
    if action not in (REMOVE_TOTP, REMOVE_PASSKEY, NEW_RECOVERY_CODES):
        return await _page(request, tenant, snapshot, session, status=400,
                           notice=lazy("Choose one of the buttons."))
    if not recently_verified(session, factors, policy, ctx.clock()):
        return await sign_in_to_account(request, tenant, snapshot, session, again=True)
    if action == NEW_RECOVERY_CODES:
        return await _new_recovery_codes(request, tenant, snapshot, session)
    return await _remove(request, tenant, snapshot, session, action)


async def _remove(request: AppRequest, tenant: Tenant, snapshot: Snapshot, session: Session,
                  action: str) -> HTTPResponse:
    subject = session.subject
    credential_id = form_value(request, "credential") or ""

    def remove(factors: Factors) -> Factors | None:
        if action == REMOVE_TOTP:
            if factors.totp is None:
                return None
            changed = factors.with_totp(None)
        else:
            if factors.credential(credential_id) is None:
                return None
            changed = replace(factors, webauthn=tuple(
                c for c in factors.webauthn if c.credential_id != credential_id))
        return changed if changed.methods else replace(changed, recovery=None)
    saved = await change(request.app.ctx.enrolments, tenant.id, subject, remove)
    if saved is None:
        return await _page(request, tenant, snapshot, session, status=409,
                           notice=lazy("That factor was already removed."))
    events.emit(request, events.FACTOR_REMOVED, tenant=tenant.id, subject=subject,
                method=TOTP if action == REMOVE_TOTP else WEBAUTHN, by="person",
                ip=client_ip(request))
    return await _page(request, tenant, snapshot, session,
                       notice=lazy("The factor was removed."))


async def _new_recovery_codes(request: AppRequest, tenant: Tenant, snapshot: Snapshot,
                              session: Session) -> HTTPResponse:
    ctx = request.app.ctx
    subject = session.subject
    codes, kept = new_recovery_codes(ctx.server_key, tenant.id, subject, ctx.clock())

    def renew(factors: Factors) -> Factors | None:
        return replace(factors, recovery=kept) if factors.methods else None
    if await change(ctx.enrolments, tenant.id, subject, renew) is None:
        return await _page(request, tenant, snapshot, session, status=409, notice=lazy(
            "Set up a second factor first: recovery codes stand in for one."))
    events.emit(request, events.RECOVERY_CODES_CREATED, tenant=tenant.id, subject=subject,
                ip=client_ip(request))
    return _codes_page(request, tenant, snapshot, codes)


def _codes_page(request: AppRequest, tenant: Tenant, snapshot: Snapshot,
                codes: tuple[str, ...]) -> HTTPResponse:
    return page(request, tenant, snapshot, "recovery_codes.html",
                page_title="Save your recovery codes", codes=codes,
                continue_url=f"{tenant.issuer_path}{ACCOUNT_PATH}")


async def totp_setup(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """{issuer}/account/totp: an authenticator app added from the account page."""
    session = await load_session(request, tenant)
    if session is None:
        return await sign_in_to_account(request, tenant, snapshot, None, again=False)
    ctx = request.app.ctx
    factors = await _factors(request, tenant, session.subject)
    policy = policy_for(tenant, None, session.identity.groups)
    if factors.totp is not None or TOTP not in policy.methods:
        return redirect(f"{tenant.issuer_path}{ACCOUNT_PATH}", 303)
    if request.method == "POST":
        _check_csrf(request, tenant, session)
    if not recently_verified(session, factors, policy, ctx.clock()):
        return await sign_in_to_account(request, tenant, snapshot, session, again=True)
    store = ctx.tenant_store(tenant)
    secret = await _candidate(request, tenant, session)
    if request.method == "GET":
        return _totp_page(request, tenant, snapshot, session, secret)
    code = totp.normalized((form_value(request, "code") or "")[:MAX_CODE_LENGTH])
    attempt = await count_attempt(store, tenant.login_throttle, session.username,
                                  client_ip(request))
    if attempt.retry_after is not None:
        message, headers = too_many_attempts(attempt.retry_after)
        return _totp_page(request, tenant, snapshot, session, secret, status=429,
                          error=message, headers=headers)
    now = ctx.clock()
    step = totp.matching_step(secret, code, now)
    if step is None or not await claim_step(store, session.subject, secret, step):
        events.emit(request, events.FACTOR_FAILED, tenant=tenant.id, subject=session.subject,
                    method=TOTP, stage="enrol")
        return _totp_page(request, tenant, snapshot, session, secret, status=401,
                          error=WRONG_CODE)
    await refund(store, attempt)
    codes, kept = new_recovery_codes(ctx.server_key, tenant.id, session.subject, now)

    def enrol(current: Factors) -> Factors | None:
        if current.totp is not None:
            return None
        return replace(current, totp=enrolled_totp(secret, step, now),
                       recovery=current.recovery or kept)
    saved = await change(ctx.enrolments, tenant.id, session.subject, enrol)
    await store.delete(TOTP_CANDIDATE, _candidate_key(session))
    if saved is None:
        return redirect(f"{tenant.issuer_path}{ACCOUNT_PATH}", 303)
    events.emit(request, events.FACTOR_ENROLLED, tenant=tenant.id, subject=session.subject,
                method=TOTP, by="person")
    if saved.recovery is kept:
        events.emit(request, events.RECOVERY_CODES_CREATED, tenant=tenant.id,
                    subject=session.subject)
        return _codes_page(request, tenant, snapshot, codes)
    return redirect(f"{tenant.issuer_path}{ACCOUNT_PATH}", 303)


def _candidate_key(session: Session) -> str:
    return f"account\x1f{session.key}"


async def _candidate(request: AppRequest, tenant: Tenant, session: Session) -> str:
    ctx = request.app.ctx
    store = ctx.tenant_store(tenant)
    key = _candidate_key(session)
    for _ in range(2):
        record = await store.get(TOTP_CANDIDATE, key)
        if record is not None:
            secret = ctx.sealer.unseal(str(record.get("sealed", "")), CANDIDATE_PURPOSE)
            if secret is not None:
                return secret.decode()
        text = totp.new_secret()
        sealed = ctx.sealer.seal(text.encode(), CANDIDATE_PURPOSE)
        if await store.claim(TOTP_CANDIDATE, key, {"sealed": sealed},
                             float(tenant.lifetimes.login)):
            return text
    raise RuntimeError("the TOTP secret of this setup could not be kept")


def _totp_page(request: AppRequest, tenant: Tenant, snapshot: Snapshot, session: Session,
               secret: str, *, status: int = 200, error: Message | None = None,
               headers: dict[str, str] | None = None) -> HTTPResponse:
    uri = totp.provisioning_uri(secret, tenant.display_name, session.username)
    return page(request, tenant, snapshot, "totp_enrol.html",
                page_title="Set up your authenticator app", status=status, headers=headers,
                action=f"{tenant.issuer_path}{TOTP_PATH}", request_id="",
                csrf_token=csrf_token(request, tenant, session), from_account=True,
                application_name=tenant.display_name, error=error,
                qr_code=qr.svg_data_uri(uri), otpauth_uri=uri,
                secret_groups=[secret[i:i + 4] for i in range(0, len(secret), 4)])
