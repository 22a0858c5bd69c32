"""{issuer}/account/passkeys: a signed-in person's passkeys, and "Add a passkey" (WebAuthn L2
§7.1 registration, through confidp.passkeys).

Adding one needs the browser's session of the tenant and a recent sign-in (the policy's
``recent_authentication``; with a second factor if the person has one), a CSRF token bound to
the session, and a response to a challenge bound to that session and person, used once. The
credential is registered only if no one in the tenant has its id yet (§7.1 step 22). Every
addition is an audit event (confidp.mfa.events).
"""

from __future__ import annotations

import hmac

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.i18n import Message, lazy
from confidp.mfa import events
from confidp.mfa.factors import WEBAUTHN
from confidp.model import Tenant
from confidp.oauth.acr import AMR_MULTIPLE_FACTORS
from confidp.passkeys import ceremonies, challenges
from confidp.passkeys.credentials import MAX_NAME, MAX_PASSKEYS, PasskeyCredential
from confidp.passkeys.errors import PasskeyRefused, Reason
from confidp.passkeys.policy import PasskeyPolicy, passkey_policy
from confidp.registry import Snapshot
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

PATH = "/account/passkeys"
CSRF_PURPOSE = b"passkeys csrf"
DUPLICATE = lazy("This passkey is registered already.")
TOO_MANY = lazy("You have as many passkeys as you can have. Remove one first.")
NOT_RECENT = lazy("To add a passkey, sign in again first.")
EXPIRED_FORM = lazy("This form has expired. Try again.")


def _csrf(request: AppRequest, tenant: Tenant, session: Session) -> str:
    return request.app.ctx.server_key.mac(CSRF_PURPOSE, tenant.id, session.key).hex()


def _policy(tenant: Tenant, session: Session) -> PasskeyPolicy:
    return passkey_policy(tenant, None, session.identity.groups)


async def _recent(request: AppRequest, tenant: Tenant, session: Session,
                  policy: PasskeyPolicy) -> bool:
    """Signed in recently enough to add a factor (re-authentication: the policy's
    ``recent_authentication``), and with a second factor if the person has one."""
    if request.app.ctx.clock() - session.auth_time > policy.recent_authentication:
        return False
    if AMR_MULTIPLE_FACTORS in session.identity.amr:
        return True
    factors = await request.app.ctx.enrolments.load(tenant.id, session.subject)
    return not factors.methods


async def _page(request: AppRequest, tenant: Tenant, snapshot: Snapshot,
                session: Session | None, *, status: int = 200, error: Message | None = None,
                added: bool = False) -> HTTPResponse:
    if session is None:
        return page(request, tenant, snapshot, "passkeys.html", page_title="Passkeys",
                    status=401, signed_in=False)
    policy = _policy(tenant, session)
    store = passkey_store(request, tenant)
    passkeys = await store.passkeys(session.subject)
    offer = None
    recent = await _recent(request, tenant, session, policy)
    if policy.allowed and recent:
        name = session.identity.claims.get("name")
        offer = creation_offer(
            request, tenant, f"{tenant.issuer_path}{PATH}", bound_to=session.key,
            subject=session.subject, user_handle=await store.user_handle(session.subject),
            username=session.username,
            display_name=name if isinstance(name, str) else session.username,
            existing=passkeys, user_verification=policy.passwordless or policy.user_verification,
            discoverable=policy.passwordless)
    return page(request, tenant, snapshot, "passkeys.html", page_title="Passkeys",
                status=status, scripts=offer is not None, signed_in=True,
                username=session.username, passkeys=passkeys, passkey=offer, allowed=policy.allowed,
                recent=recent, csrf_token=_csrf(request, tenant, session), error=error,
                added=added, max_name=MAX_NAME)


async def show(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    return await _page(request, tenant, snapshot, await load_session(request, tenant),
                       added=request.args.get("added") == "1")


async def add(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    """The registration ceremony's response (WebAuthn L2 §7.1)."""
    session = await load_session(request, tenant)
    if session is None:
        return await _page(request, tenant, snapshot, None)
    token = form_value(request, "csrf_token") or ""
    if not hmac.compare_digest(token.encode(), _csrf(request, tenant, session).encode()):
        return await _page(request, tenant, snapshot, session, status=403, error=EXPIRED_FORM)
    policy = _policy(tenant, session)
    if not policy.allowed or not await _recent(request, tenant, session, policy):
        return await _page(request, tenant, snapshot, session, status=403, error=NOT_RECENT)
    name = " ".join((form_value(request, "name") or "").split())[:MAX_NAME] or "Passkey"
    store = passkey_store(request, tenant)
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
        return await _page(request, tenant, snapshot, session, status=400,
                           error=refused_message(refused))
    now = request.app.ctx.clock()
    credential = PasskeyCredential(
        registered.credential_id, session.subject, registered.public_key,
        registered.sign_count, registered.transports,
        await store.user_handle(session.subject), name, now,
        backup_eligible=registered.backup_eligible)
    if len(await store.passkeys(session.subject)) >= MAX_PASSKEYS:
        return await _page(request, tenant, snapshot, session, status=400, error=TOO_MANY)
    if not await store.add_passkey(credential):
        return await _page(request, tenant, snapshot, session, status=400, error=DUPLICATE)
    events.emit(events.FACTOR_ENROLLED, tenant=tenant.id, subject=session.subject,
                method=WEBAUTHN, amr=credential.amr, ip=str(request.remote_addr or request.ip))
    return redirect(f"{tenant.issuer_path}{PATH}?added=1", 303)

