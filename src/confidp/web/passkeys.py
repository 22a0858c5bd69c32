"""{issuer}/account/passkeys: "Add a passkey" from the account page (confidp.web.account links
here from its slot), WebAuthn L2 §7.1 registration through confidp.passkeys.

The account page's rules apply: without a session the person signs in to the account first;
adding a factor needs a recent sign-in with a factor (``account.recently_verified``: within
``second_factors.recent_authentication``, and with a second factor if the person has one),
else they sign in again first; the form carries the account page's CSRF token. The response
must answer a challenge bound to this session and person, used once, and the credential is
registered only if no one in the tenant has its id yet (§7.1 step 22). Every addition is an
audit event (confidp.mfa.events); then the account page lists the new passkey.
"""

from __future__ import annotations

import hmac

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.i18n import Message, lazy
from confidp.mfa import events
from confidp.mfa.factors import WEBAUTHN
from confidp.mfa.policy import policy_for
from confidp.model import Tenant
from confidp.oauth.errors import FlowError
from confidp.passkeys import ceremonies, challenges
from confidp.passkeys.credentials import MAX_NAME, MAX_PASSKEYS, PasskeyCredential
from confidp.passkeys.errors import PasskeyRefused, Reason
from confidp.passkeys.policy import passkey_policy
from confidp.registry import Snapshot
from confidp.web.account import (
    FORM_EXPIRED,
    csrf_token,
    recently_verified,
    sign_in_to_account,
)
from confidp.web.forms import form_value
from confidp.web.pages import page, redirect
from confidp.web.passkey_offer import (
    CREDENTIAL_FIELD,
    creation_offer,
    log_refused,
    passkey_store,
    refused_message,
    rp_of,
    ticket_of,
)
from confidp.web.sessions import Session, load_session
from confidp.web.signin.finish import ACCOUNT_PATH

PATH = ACCOUNT_PATH + "/passkeys"
DEFAULT_NAME = "Passkey"
DUPLICATE = lazy("This passkey is registered already.")
TOO_MANY = lazy("You have as many passkeys as you can have. Remove one first.")


async def _page(request: AppRequest, tenant: Tenant, snapshot: Snapshot, session: Session,
                *, status: int = 200, error: Message | None = None) -> HTTPResponse:
    policy = passkey_policy(tenant, None, session.identity.groups)
    store = passkey_store(request, tenant)
    passkeys = await store.passkeys(session.subject)
    name = session.identity.claims.get("name")
    offer = None
    if len(passkeys) < MAX_PASSKEYS:
        offer = creation_offer(
            request, tenant, f"{tenant.issuer_path}{PATH}", bound_to=session.key,
            subject=session.subject, user_handle=await store.user_handle(session.subject),
            username=session.username,
            display_name=name if isinstance(name, str) else session.username,
            existing=passkeys, user_verification=policy.passwordless or policy.user_verification,
            discoverable=policy.passwordless)
    return page(request, tenant, snapshot, "passkeys.html", page_title="Add a passkey",
                status=status, scripts=offer is not None, username=session.username,
                passkeys=passkeys, passkey=offer, csrf_token=csrf_token(request, tenant, session),
                error=error or (None if offer or len(passkeys) < MAX_PASSKEYS else TOO_MANY),
                max_name=MAX_NAME, account_url=f"{tenant.issuer_path}{ACCOUNT_PATH}")


async def add(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """GET: the page with the registration options; POST: the browser's response (WebAuthn
    L2 §7.1)."""
    session = await load_session(request, tenant)
    if session is None:
        return await sign_in_to_account(request, tenant, snapshot, None, again=False)
    ctx = request.app.ctx
    policy = policy_for(tenant, None, session.identity.groups)
    if WEBAUTHN not in policy.methods:
        return redirect(f"{tenant.issuer_path}{ACCOUNT_PATH}", 303)
    if request.method == "POST":
        given = form_value(request, "csrf_token") or ""
        if not hmac.compare_digest(given.encode(),
                                   csrf_token(request, tenant, session).encode()):
            raise FlowError(FORM_EXPIRED, "Open your account page again.")
    factors = await ctx.enrolments.load(tenant.id, session.subject)
    if not recently_verified(session, factors, policy, ctx.clock()):
        return await sign_in_to_account(request, tenant, snapshot, session, again=True)
    if request.method == "GET":
        return await _page(request, tenant, snapshot, session)
    return await _register(request, tenant, snapshot, session)


async def _register(request: AppRequest, tenant: Tenant, snapshot: Snapshot,
                    session: Session) -> HTTPResponse:
    name = " ".join((form_value(request, "name") or "").split())[:MAX_NAME] or DEFAULT_NAME
    store = passkey_store(request, tenant)
    policy = passkey_policy(tenant, None, session.identity.groups)
    try:
        registration = ceremonies.parse_registration(form_value(request, CREDENTIAL_FIELD))
        ticket = await ticket_of(request, tenant, registration.challenge,
                                 ceremony=challenges.CREATE, bound_to=session.key)
        if ticket.subject != session.subject:
            raise PasskeyRefused(Reason.CHALLENGE, "the challenge was for another person")
        registered = ceremonies.verify_registration(
            rp_of(tenant), registration,
            user_verification=ticket.user_verification or policy.passwordless)
    except PasskeyRefused as refused:
        log_refused(tenant, "registration", refused, session.username)
        events.emit(request, events.FACTOR_FAILED, tenant=tenant.id, subject=session.subject,
                    method=WEBAUTHN, username=session.username)
        return await _page(request, tenant, snapshot, session, status=400,
                           error=refused_message(refused))
    credential = PasskeyCredential(
        registered.credential_id, session.subject, registered.public_key,
        registered.sign_count, registered.transports,
        await store.user_handle(session.subject), name, request.app.ctx.clock(),
        backup_eligible=registered.backup_eligible)
    if len(await store.passkeys(session.subject)) >= MAX_PASSKEYS:
        return await _page(request, tenant, snapshot, session, status=400, error=TOO_MANY)
    if not await store.add_passkey(credential):
        return await _page(request, tenant, snapshot, session, status=400, error=DUPLICATE)
    events.emit(request, events.FACTOR_ENROLLED, tenant=tenant.id, subject=session.subject,
                method=WEBAUTHN)
    return redirect(f"{tenant.issuer_path}{ACCOUNT_PATH}", 303)
