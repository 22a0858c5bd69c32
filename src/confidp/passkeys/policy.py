"""What the tenant's second-factor policy (confidp.mfa.policy, the tenant file's
``second_factors``) says about passkeys for one sign-in: whether they may be used, whether
they may replace the password, and whether user verification is required. The one place the
passkey steps and the account page read it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confidp.mfa.factors import WEBAUTHN
from confidp.mfa.policy import REQUIRED, policy_for
from confidp.model import Application, Tenant


@dataclass(frozen=True, slots=True)
class PasskeyPolicy:
    allowed: bool  # webauthn is among the methods this sign-in may use
    passwordless: bool  # a passkey may replace the password (always with user verification)
    user_verification: bool  # required of a passkey used as a second factor


def passkey_policy(tenant: Tenant, application: Application | None,
                   groups: Iterable[str] = ()) -> PasskeyPolicy:
    """The policy for a sign-in to ``application`` (None: the account page) by a member of
    ``groups`` (none before the person is known: the login page)."""
    policy = policy_for(tenant, application, groups)
    return PasskeyPolicy(allowed=WEBAUTHN in policy.methods, passwordless=policy.passwordless,
                         user_verification=policy.user_verification == REQUIRED)
