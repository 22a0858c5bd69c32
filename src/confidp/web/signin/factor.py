"""What the second-factor steps share (Stage.FACTOR; confidp.mfa.policy says who needs one):
the identity being signed in, the person's factors, and whether this sign-in demands a factor.

A sign-in demands a second factor when the identity has not passed one yet (``mfa`` not in
its amr) and: the policy requires one for this application and the person's groups, or the
request demands one (``acr_values``, step-up: confidp.oauth.acr), or the person enrolled a
factor of an allowed method (once enrolled, always asked). Which step answers the demand:
the code step (TOTP, or a recovery code), WebAuthn's, the TOTP enrolment when the person
has no usable factor, and, last, the guard that refuses the sign-in when none of them could
(confidp.web.signin.factor_guard): a demand is never left unanswered.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import cast

from confidp import audit
from confidp.i18n import Message, lazy_plural
from confidp.identity.identity import Identity
from confidp.mfa.cipher import EnrolmentUnreadable
from confidp.mfa.factors import Factors
from confidp.mfa.policy import FactorPolicy, policy_for
from confidp.oauth.acr import AMR_MULTIPLE_FACTORS, demands_second_factor
from confidp.oauth.errors import FactorsUnreadable, InteractionRequired, OAuthError
from confidp.web.signin.steps import SignIn, Stage

log = logging.getLogger("confidp.mfa")


@dataclass(frozen=True, slots=True)
class Demand:
    """A sign-in that needs a second factor, and what the person can answer it with."""

    identity: Identity
    policy: FactorPolicy
    factors: Factors

    @property
    def usable(self) -> frozenset[str]:
        """The person's enrolled methods this sign-in allows."""
        return self.factors.methods & self.policy.methods


class FactorStep:
    """What the second-factor steps share: they run in the factor stage, are needed while
    their ``_demand`` stands, and refuse ``prompt=none`` with ``unmet``."""

    stage = Stage.FACTOR
    unmet = "A second factor is required."

    async def _demand(self, sign_in: SignIn) -> Demand | None:
        raise NotImplementedError

    async def needed(self, sign_in: SignIn) -> bool:
        return await self._demand(sign_in) is not None

    def interaction_required(self) -> OAuthError:
        return InteractionRequired(self.unmet)


def signing_identity(sign_in: SignIn) -> Identity | None:
    """Who this sign-in is for: the identity an authentication step of this sign-in just
    established (a new login, even over an older session), else the session's."""
    return sign_in.pending.identity or sign_in.identity


def passed_second_factor(identity: Identity) -> bool:
    return AMR_MULTIPLE_FACTORS in identity.amr


async def load_factors(sign_in: SignIn, subject: str) -> Factors:
    """The person's factors; a record that cannot be read fails the sign-in (closed)."""
    try:
        return await sign_in.request.app.ctx.enrolments.load(sign_in.tenant.id, subject)
    except EnrolmentUnreadable as exc:
        log.error("tenant %s: the enrolments of a person cannot be read: %s",
                  sign_in.tenant.id, exc)
        raise FactorsUnreadable() from None


async def factor_demand(sign_in: SignIn) -> Demand | None:
    """The demand for a second factor in this sign-in, or None when there is none. Worked
    out once per ``SignIn``: the three factor steps and the guard each ask, and each asking
    read the person's enrolments again (a file read in a thread with the memory store, a
    round trip with Redis). A step that changes the enrolments passes, and passing makes a
    new ``SignIn``, so nothing asks this one again after a change."""
    identity = signing_identity(sign_in)
    if identity is None or passed_second_factor(identity):
        return None
    key = f"factor demand {identity.subject}"
    if key in sign_in.memo:
        return cast(Demand | None, sign_in.memo[key])
    policy = policy_for(sign_in.tenant, sign_in.application, identity.groups)
    factors = await load_factors(sign_in, identity.subject)
    found = Demand(identity, policy, factors)
    demand = found if (policy.required or found.usable or demands_second_factor(
        sign_in.pending.request.acr_values)) else None
    sign_in.memo[key] = demand
    return demand


def client_ip(sign_in: SignIn) -> str:
    request = sign_in.request
    return str(request.remote_addr or request.ip)


def locked_out(sign_in: SignIn, username: str, retry_after: float) -> None:
    """The throttle refused a code: audited as the login form's refusals are."""
    audit.emit(sign_in.request, audit.SIGNIN_LOCKED_OUT, tenant=sign_in.tenant,
               client_id=sign_in.application.client_id, reason=audit.THROTTLED,
               username=username, retry_after=max(1, math.ceil(retry_after)))


def too_many_attempts(retry_after: float) -> tuple[Message, dict[str, str]]:
    """The 429 answer's message and Retry-After, as the login form says it."""
    wait = max(1, math.ceil(retry_after))
    minutes = max(1, math.ceil(wait / 60))
    return lazy_plural("Too many failed sign-in attempts. Try again in %(num)d minute.",
                       "Too many failed sign-in attempts. Try again in %(num)d minutes.",
                       minutes), {"Retry-After": str(wait)}
