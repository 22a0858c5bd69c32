"""The TOTP steps (RFC 6238): the code page ({issuer}/factor/code), where a person types
their authenticator app's code or one of their recovery codes, and the enrolment page
({issuer}/factor/totp/enrol), where a person who must use a second factor and has none sets
up an authenticator app: a QR code (SVG made on the server), the otpauth:// URI and the
secret as text, and the first code to prove it works.

Wrong codes are counted by the login throttle (the username's and the IP's windows, as wrong
passwords are). A code passes once (confidp.mfa.codes). A sign-in that passes here has amr
``otp`` and ``mfa`` and acr 2fa (confidp.oauth.acr).
"""

from __future__ import annotations

from dataclasses import replace

from sanic import HTTPResponse

from confidp.i18n import Message, lazy
from confidp.identity.identity import Identity
from confidp.mfa import events, qr, totp
from confidp.mfa.codes import (
    MAX_CODE_LENGTH,
    Used,
    check_code,
    claim_step,
    enrolled_totp,
    new_recovery_codes,
)
from confidp.mfa.enrolments import change
from confidp.mfa.factors import TOTP, WEBAUTHN, Factors
from confidp.oauth.acr import ACR_2FA, AMR_OTP, with_second_factor
from confidp.store.kinds import TOTP_CANDIDATE
from confidp.throttle import count_attempt, refund
from confidp.web.forms import form_value
from confidp.web.pages import page
from confidp.web.signin.factor import (
    Demand,
    FactorStep,
    client_ip,
    factor_demand,
    locked_out,
    too_many_attempts,
)
from confidp.web.signin.recovery_codes import keep_to_show
from confidp.web.signin.steps import Outcome, Passed, SignIn

WRONG_CODE = lazy("The code is incorrect or was already used.")
NO_CODE = lazy("Enter the code.")
CODE_METHOD = "code"  # ?method=code: a recovery code instead of a security key
CANDIDATE_PURPOSE = b"confidp totp secret to confirm"


def second_factor_identity(identity: Identity) -> Identity:
    """``identity`` after a one-time password passed as its second factor."""
    return replace(identity, amr=with_second_factor(identity.amr, AMR_OTP), acr=ACR_2FA)


def asks_for_code(sign_in: SignIn) -> bool:
    request = sign_in.request
    return (request.args.get("method") or form_value(request, "method")) == CODE_METHOD


class CodeStep(FactorStep):
    """A TOTP code or a recovery code, as the second factor."""

    name = "otp"
    path = "/factor/code"

    async def _demand(self, sign_in: SignIn) -> Demand | None:
        demand = await factor_demand(sign_in)
        if demand is None:
            return None
        if TOTP in demand.usable:
            return demand
        has_codes = demand.factors.recovery is not None and bool(demand.factors.recovery.digests)
        if has_codes and demand.usable and (WEBAUTHN not in demand.usable
                                            or asks_for_code(sign_in)):
            return demand
        return None

    async def show(self, sign_in: SignIn) -> HTTPResponse:
        demand = await self._demand(sign_in)
        return self._page(sign_in, demand)

    async def submit(self, sign_in: SignIn) -> Outcome:
        demand = await self._demand(sign_in)
        if demand is None:  # the factor went away meanwhile (an operator's reset)
            return self._page(sign_in, demand, status=400, error=NO_CODE)
        code = (form_value(sign_in.request, "code") or "").strip()[:MAX_CODE_LENGTH]
        if not code:
            return self._page(sign_in, demand, status=400, error=NO_CODE)
        identity = demand.identity
        ctx = sign_in.request.app.ctx
        attempt = await count_attempt(sign_in.store, sign_in.tenant.login_throttle,
                                      identity.username, client_ip(sign_in))
        if attempt.retry_after is not None:
            locked_out(sign_in, identity.username, attempt.retry_after)
            message, headers = too_many_attempts(attempt.retry_after)
            return self._page(sign_in, demand, status=429, error=message, headers=headers)
        checked = await check_code(sign_in.store, ctx.enrolments, ctx.server_key,
                                   demand.factors, sign_in.tenant.id, code, sign_in.now,
                                   totp_allowed=TOTP in demand.usable)
        if checked is None:
            events.emit(sign_in.request, events.FACTOR_FAILED, tenant=sign_in.tenant.id,
                        subject=identity.subject, method=TOTP, username=identity.username,
                        client_id=sign_in.application.client_id)
            return self._page(sign_in, demand, status=401, error=WRONG_CODE)
        await refund(sign_in.store, attempt)
        if checked.used is Used.RECOVERY:
            events.emit(sign_in.request, events.RECOVERY_CODE_USED, tenant=sign_in.tenant.id,
                        subject=identity.subject, left=checked.left)
        return Passed(second_factor_identity(identity))

    def _page(self, sign_in: SignIn, demand: Demand | None, *, status: int = 200,
              error: Message | None = None,
              headers: dict[str, str] | None = None) -> HTTPResponse:
        pending = sign_in.pending
        usable = demand.usable if demand else frozenset()
        return page(sign_in.request, sign_in.tenant, sign_in.snapshot, "factor_code.html",
                    page_title="Enter your code", status=status, headers=headers,
                    action=f"{sign_in.tenant.issuer_path}{self.path}",
                    request_id=pending.sealed, csrf_token=pending.csrf_token,
                    application_name=sign_in.application.name, error=error,
                    totp=TOTP in usable, method=CODE_METHOD if asks_for_code(sign_in) else "")


class TotpEnrolStep(FactorStep):
    """Setting up an authenticator app, when a factor is demanded and the person has none
    this sign-in allows."""

    name = "totp-enrol"
    path = "/factor/totp/enrol"
    unmet = "A second factor must be set up."

    async def _demand(self, sign_in: SignIn) -> Demand | None:
        demand = await factor_demand(sign_in)
        if demand is None or demand.usable or TOTP not in demand.policy.methods:
            return None
        return demand

    async def _secret(self, sign_in: SignIn) -> str:
        """The secret offered in this sign-in: the same on every view of its page."""
        key = sign_in.pending.used_key
        sealer = sign_in.request.app.ctx.sealer
        ttl = max(1.0, sign_in.pending.expires_at - sign_in.now)
        for _ in range(2):
            record = await sign_in.store.get(TOTP_CANDIDATE, key)
            if record is not None:
                secret = sealer.unseal(str(record.get("sealed", "")), CANDIDATE_PURPOSE)
                if secret is not None:
                    return secret.decode()
            secret_text = totp.new_secret()
            sealed = sealer.seal(secret_text.encode(), CANDIDATE_PURPOSE)
            if await sign_in.store.claim(TOTP_CANDIDATE, key, {"sealed": sealed}, ttl):
                return secret_text
        raise RuntimeError("the TOTP secret of this sign-in could not be kept")

    async def show(self, sign_in: SignIn) -> HTTPResponse:
        return await self._page(sign_in)

    async def submit(self, sign_in: SignIn) -> Outcome:
        demand = await self._demand(sign_in)
        if demand is None:
            return await self._page(sign_in, status=400, error=NO_CODE)
        code = totp.normalized((form_value(sign_in.request, "code") or "")[:MAX_CODE_LENGTH])
        if not code:
            return await self._page(sign_in, status=400, error=NO_CODE)
        identity = demand.identity
        tenant = sign_in.tenant
        ctx = sign_in.request.app.ctx
        attempt = await count_attempt(sign_in.store, tenant.login_throttle, identity.username,
                                      client_ip(sign_in))
        if attempt.retry_after is not None:
            locked_out(sign_in, identity.username, attempt.retry_after)
            message, headers = too_many_attempts(attempt.retry_after)
            return await self._page(sign_in, status=429, error=message, headers=headers)
        secret = await self._secret(sign_in)
        now = sign_in.now
        step = totp.matching_step(secret, code, now)
        if step is None or not await claim_step(sign_in.store, identity.subject, secret,
                                                step):
            events.emit(sign_in.request, events.FACTOR_FAILED, tenant=tenant.id,
                        subject=identity.subject, method=TOTP, username=identity.username,
                        client_id=sign_in.application.client_id)
            return await self._page(sign_in, status=401, error=WRONG_CODE)
        await refund(sign_in.store, attempt)
        codes, kept = new_recovery_codes(ctx.server_key, tenant.id, identity.subject, now)

        def enrol(factors: Factors) -> Factors | None:
            if factors.totp is not None:
                return None  # enrolled meanwhile (another tab): keep that one
            return replace(factors, totp=enrolled_totp(secret, step, now),
                           recovery=factors.recovery or kept)
        saved = await change(ctx.enrolments, tenant.id, identity.subject, enrol)
        if saved is None:
            return await self._page(sign_in, status=409, error=lazy(
                "An authenticator app was set up for your account meanwhile. Go back to the "
                "application and sign in again."))
        await sign_in.store.delete(TOTP_CANDIDATE, sign_in.pending.used_key)
        events.emit(sign_in.request, events.FACTOR_ENROLLED, tenant=tenant.id,
                    subject=identity.subject, method=TOTP,
                    client_id=sign_in.application.client_id)
        if saved.recovery is kept:
            events.emit(sign_in.request, events.RECOVERY_CODES_CREATED, tenant=tenant.id,
                        subject=identity.subject)
            await keep_to_show(sign_in.request, sign_in.store, sign_in.pending.used_key,
                               codes, sign_in.pending.expires_at - now)
        return Passed(second_factor_identity(identity))

    async def _page(self, sign_in: SignIn, *, status: int = 200,
                    error: Message | None = None,
                    headers: dict[str, str] | None = None) -> HTTPResponse:
        identity = sign_in.pending.identity or sign_in.identity
        account = identity.username if identity else ""
        secret = await self._secret(sign_in)
        uri = totp.provisioning_uri(secret, sign_in.tenant.display_name, account)
        pending = sign_in.pending
        return page(sign_in.request, sign_in.tenant, sign_in.snapshot, "totp_enrol.html",
                    page_title="Set up your authenticator app", status=status,
                    headers=headers, action=f"{sign_in.tenant.issuer_path}{self.path}",
                    request_id=pending.sealed, csrf_token=pending.csrf_token,
                    application_name=sign_in.application.name, error=error,
                    qr_code=qr.svg_data_uri(uri), otpauth_uri=uri,
                    secret_groups=[secret[i:i + 4] for i in range(0, len(secret), 4)])
