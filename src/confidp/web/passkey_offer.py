"""What the pages that use a passkey need: the tenant's registered credentials (the switch
point to the enrolment store), the options a page hands ``webauthn.js`` (with a challenge
bound to the sign-in or session: confidp.passkeys.challenges), and the message a person reads
when a passkey was refused."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from confidp.context import AppRequest
from confidp.i18n import Message, lazy
from confidp.model import Tenant
from confidp.passkeys import ceremonies, challenges
from confidp.passkeys.challenges import Ceremony, Ticket
from confidp.passkeys.credentials import PasskeyCredential, PasskeyStore
from confidp.passkeys.enrolled import EnrolledPasskeys
from confidp.passkeys.errors import PasskeyRefused, Reason
from confidp.passkeys.relying_party import RelyingParty, relying_party

log = logging.getLogger("confidp.passkeys")
PASSKEY_SIGN_IN_PATH = "/login/passkey"  # confidp.web.signin.passkey.PasskeySignInStep
SCRIPT = "webauthn.js"  # the theme's static file that runs the ceremonies (default_theme)
CREDENTIAL_FIELD = "credential"  # the form field webauthn.js fills with the response (JSON)

_MESSAGES = {
    Reason.MALFORMED: lazy("Your browser did not send a passkey. Try again, or use another "
                           "way to sign in."),
    Reason.CHALLENGE: lazy("This passkey prompt has expired or was used already. Try again."),
    Reason.UNKNOWN_CREDENTIAL: lazy("This passkey is not registered for an account here."),
    Reason.USER_VERIFICATION: lazy("Your passkey did not verify that it is you. Try again and "
                                   "unlock it with your PIN, fingerprint or face."),
    Reason.SIGN_COUNT: lazy("This passkey could not be verified. Try again, or use another "
                            "way to sign in."),
    Reason.INVALID: lazy("This passkey could not be verified. Try again, or use another way "
                         "to sign in."),
    Reason.UNAVAILABLE: lazy("Passkeys cannot be used on this site."),
}


def refused_message(refused: PasskeyRefused) -> Message:
    return _MESSAGES[refused.reason]


def passkey_store(request: AppRequest, tenant: Tenant) -> PasskeyStore:
    """The tenant's registered credentials (in the enrolment store)."""
    return EnrolledPasskeys(request.app.ctx.enrolments, tenant.id)


def rp_of(tenant: Tenant) -> RelyingParty:
    rp = relying_party(tenant)
    if rp is None:
        raise PasskeyRefused(Reason.UNAVAILABLE, f"the issuer {tenant.issuer} has no RP ID")
    return rp


@dataclass(frozen=True, slots=True)
class Offer:
    """A page's passkey form: where it posts, and the options (JSON) for webauthn.js."""

    action: str
    options: str


def request_offer(request: AppRequest, tenant: Tenant, action: str, *, bound_to: str,
                  allowed: Sequence[PasskeyCredential] = (),
                  user_verification: bool) -> Offer | None:
    """An authentication ceremony's form (WebAuthn L2 §5.5); None where WebAuthn cannot run
    (an issuer on an IP address)."""
    rp = relying_party(tenant)
    if rp is None:
        return None
    challenge = _challenge(request, tenant, challenges.GET, bound_to, user_verification)
    return Offer(action, json.dumps(ceremonies.authentication_options(
        rp, challenge=challenge, allowed=allowed, user_verification=user_verification)))


def creation_offer(request: AppRequest, tenant: Tenant, action: str, *, bound_to: str,
                   subject: str, user_handle: bytes, username: str, display_name: str,
                   existing: Sequence[PasskeyCredential], user_verification: bool,
                   discoverable: bool) -> Offer | None:
    """A registration ceremony's form (WebAuthn L2 §5.4)."""
    rp = relying_party(tenant)
    if rp is None:
        return None
    challenge = _challenge(request, tenant, challenges.CREATE, bound_to, user_verification,
                           subject)
    return Offer(action, json.dumps(ceremonies.registration_options(
        rp, challenge=challenge, user_handle=user_handle, username=username,
        display_name=display_name, existing=existing, user_verification=user_verification,
        discoverable=discoverable)))


def _challenge(request: AppRequest, tenant: Tenant, ceremony: Ceremony, bound_to: str,
               user_verification: bool, subject: str = "") -> bytes:
    ctx = request.app.ctx
    return challenges.issue(ctx.sealer, Ticket(ceremony, tenant.id, bound_to, ctx.clock(),
                                               user_verification, subject))


async def ticket_of(request: AppRequest, tenant: Tenant, challenge: bytes, *,
                    ceremony: Ceremony, bound_to: str) -> Ticket:
    """The ticket of a response's challenge, checked (confidp.passkeys.challenges.check) and
    used up before anything else is looked at: a response sent again is refused as a replay,
    whatever else it would fail on."""
    ctx = request.app.ctx
    ticket = challenges.check(challenges.read(ctx.sealer, challenge), ceremony=ceremony,
                              tenant_id=tenant.id, bound_to=bound_to, now=ctx.clock())
    await challenges.use(ctx.tenant_store(tenant), challenge)
    return ticket


def log_refused(tenant: Tenant, what: str, refused: PasskeyRefused, who: str = "") -> None:
    """One line (the detail quoted: it may carry what the browser sent, newlines included)."""
    log.info("passkey %s refused in tenant %s%s: %s %r", what, tenant.id,
             f" for {who!r}" if who else "", refused.reason.value, refused.detail)
