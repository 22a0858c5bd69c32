"""Passkeys in the sign-in (WebAuthn L2 §7.2, through confidp.passkeys):

- ``PasskeySignInStep`` ({issuer}/login/passkey): "Sign in with a passkey" on the login page,
  without a username or password. The authenticator offers its discoverable credentials for
  the tenant's RP ID; the response names the person by its user handle, and the credential
  must be one that person registered in this tenant (one of another tenant on the same host
  is unknown here). User verification is always required, so the passkey is two factors
  in one (possession, and the PIN or biometric that unlocked it): amr ``hwk``/``swk`` and
  ``mfa``. Only where the policy allows passwordless sign-in, and for the tenant file's users.
- ``PasskeyFactorStep`` ({issuer}/factor/passkey): a passkey or security key after the
  password, for a person who registered one when the policy asks for a second factor (or
  they enrolled one): amr gains ``hwk``/``swk`` and ``mfa``. User verification as the policy
  says.

Each response's challenge must be this sign-in's (bound to its random key) and young, and is
used up first (a replay is refused as one); the signature counter is checked and stored by
compare and set.
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from sanic import HTTPResponse

from confidp.identity.local import identity_of
from confidp.mfa import events
from confidp.mfa.factors import TOTP, WEBAUTHN, WebAuthnCredential
from confidp.oauth.errors import LoginRequired, OAuthError, SignInExpired
from confidp.passkeys import ceremonies, challenges
from confidp.passkeys.credentials import PasskeyCredential, PasskeyStore, with_passkey
from confidp.passkeys.enrolled import credential_of
from confidp.passkeys.errors import PasskeyRefused, Reason
from confidp.passkeys.policy import passkey_policy
from confidp.web.forms import form_value
from confidp.web.pages import page
from confidp.web.passkey_offer import (
    CREDENTIAL_FIELD,
    PASSKEY_SIGN_IN_PATH,
    log_refused,
    passkey_store,
    refused_message,
    request_offer,
    rp_of,
    ticket_of,
)
from confidp.web.signin.factor import Demand, FactorStep, factor_demand
from confidp.web.signin.password import login_page
from confidp.web.signin.steps import Outcome, Passed, SignIn, Stage
from confidp.web.signin.totp import CODE_METHOD, CodeStep, asks_for_code


async def _verified(sign_in: SignIn, credential: PasskeyCredential,
                    assertion: ceremonies.Assertion, store: PasskeyStore, *,
                    user_verification: bool) -> None:
    """The assertion checked against ``credential`` and the new counter stored:
    ``PasskeyRefused`` otherwise."""
    rp = rp_of(sign_in.tenant)
    result = ceremonies.verify_assertion(rp, assertion, credential,
                                         user_verification=user_verification)
    if not await store.passkey_used(credential, result.sign_count, sign_in.now):
        raise PasskeyRefused(Reason.SIGN_COUNT, "another use of this credential came first")


def _credential(credentials: list[PasskeyCredential],
                credential_id: bytes) -> PasskeyCredential:
    found = next((c for c in credentials
                  if hmac.compare_digest(c.credential_id, credential_id)), None)
    if found is None:
        raise PasskeyRefused(Reason.UNKNOWN_CREDENTIAL, "not registered for this person")
    return found


class PasskeySignInStep:
    """Passwordless sign-in. Never a page the driver sends anyone to: it is a form on the
    login page (confidp.web.signin.password), so ``needed`` is always False."""

    name = "passkey"
    stage = Stage.AUTHENTICATE
    path = PASSKEY_SIGN_IN_PATH

    async def needed(self, sign_in: SignIn) -> bool:
        return False

    def interaction_required(self) -> OAuthError:
        return LoginRequired("The user is not signed in.")

    async def show(self, sign_in: SignIn) -> HTTPResponse:  # pragma: no cover - never needed
        return login_page(sign_in)

    async def submit(self, sign_in: SignIn) -> Outcome:
        tenant = sign_in.tenant
        try:
            if not passkey_policy(tenant, sign_in.application).passwordless:
                raise PasskeyRefused(Reason.UNAVAILABLE, "passwordless sign-in is off")
            assertion = ceremonies.parse_assertion(
                form_value(sign_in.request, CREDENTIAL_FIELD))
            await ticket_of(sign_in.request, tenant, assertion.challenge, ceremony=challenges.GET,
                      bound_to=sign_in.pending.used_key)
            store = passkey_store(sign_in.request, tenant)
            handle = assertion.user_handle
            subject = await store.subject_of(handle) if handle else None
            user = tenant.active_user(subject) if subject is not None else None
            if subject is None or user is None:
                raise PasskeyRefused(Reason.UNKNOWN_CREDENTIAL, "no person of this tenant has "
                                     "this user handle")
            credential = _credential(await store.passkeys(subject), assertion.credential_id)
            await _verified(sign_in, credential, assertion, store, user_verification=True)
        except PasskeyRefused as refused:
            log_refused(tenant, "sign-in", refused)
            return login_page(sign_in, status=401, passkey_error=refused_message(refused))
        return Passed(with_passkey(identity_of(user, amr=(), auth_time=sign_in.now),
                                   credential))


class PasskeyFactorStep(FactorStep):
    """A passkey or security key as the second factor, when this sign-in demands one
    (confidp.web.signin.factor) and the person registered one the policy allows. Its page
    links to the code step (TOTP or a recovery code) when the person has one of those."""

    name = "webauthn"
    path = "/factor/passkey"

    async def _demand(self, sign_in: SignIn) -> Demand | None:
        demand = await factor_demand(sign_in)
        if demand is None or WEBAUTHN not in demand.usable or asks_for_code(sign_in):
            return None
        return demand

    async def show(self, sign_in: SignIn) -> HTTPResponse:
        demand = await self._demand(sign_in)
        assert demand is not None  # shown only when needed
        return self._page(sign_in, demand)

    def _page(self, sign_in: SignIn, demand: Demand, *, status: int = 200,
              refused: PasskeyRefused | None = None) -> HTTPResponse:
        pending, tenant = sign_in.pending, sign_in.tenant
        credentials = [_credential_of(demand, c) for c in demand.factors.webauthn]
        offer = request_offer(sign_in.request, tenant, f"{tenant.issuer_path}{self.path}",
                              bound_to=pending.used_key, allowed=credentials,
                              user_verification=self._user_verification(sign_in, demand))
        recovery = demand.factors.recovery
        other = TOTP in demand.usable or (recovery is not None and bool(recovery.digests))
        return page(sign_in.request, tenant, sign_in.snapshot, "passkey_factor.html",
                    page_title="Use your passkey", status=status, scripts=offer is not None,
                    form_targets=[pending.request.redirect_uri], request_id=pending.sealed,
                    csrf_token=pending.csrf_token, application_name=sign_in.application.name,
                    passkey=offer, error=refused_message(refused) if refused else None,
                    code_url=(f"{tenant.issuer_path}{CodeStep.path}?request="
                              f"{quote(pending.sealed or '')}&method={CODE_METHOD}")
                    if other else None)

    def _user_verification(self, sign_in: SignIn, demand: Demand) -> bool:
        return passkey_policy(sign_in.tenant, sign_in.application,
                              demand.identity.groups).user_verification

    async def submit(self, sign_in: SignIn) -> Outcome:
        demand = await self._demand(sign_in)
        if demand is None:  # the passkey went away meanwhile (removed, an operator's reset)
            raise SignInExpired()
        identity, tenant = demand.identity, sign_in.tenant
        try:
            assertion = ceremonies.parse_assertion(
                form_value(sign_in.request, CREDENTIAL_FIELD))
            ticket = await ticket_of(sign_in.request, tenant, assertion.challenge,
                                     ceremony=challenges.GET,
                                     bound_to=sign_in.pending.used_key)
            store = passkey_store(sign_in.request, tenant)
            credential = _credential(await store.passkeys(identity.subject),
                                     assertion.credential_id)
            # the options' requirement, or the policy's now if it was tightened meanwhile
            await _verified(sign_in, credential, assertion, store,
                            user_verification=ticket.user_verification
                            or self._user_verification(sign_in, demand))
        except PasskeyRefused as refused:
            log_refused(tenant, "second factor", refused, identity.username)
            events.emit(sign_in.request, events.FACTOR_FAILED, tenant=tenant.id,
                        subject=identity.subject, method=WEBAUTHN,
                        client_id=sign_in.application.client_id, username=identity.username)
            return self._page(sign_in, demand, status=401, refused=refused)
        return Passed(with_passkey(identity, credential))


def _credential_of(demand: Demand, stored: WebAuthnCredential) -> PasskeyCredential:
    return credential_of(demand.identity.subject, stored)
