"""What a tenant's second-factor policy says about passkeys, for one sign-in: whether they
may be used, whether they may replace the password, and whether user verification is
required. The policy itself is the tenant file's (confidp.mfa.policy); this is the one place
the passkey steps read it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confidp.model import Application, Tenant


@dataclass(frozen=True, slots=True)
class PasskeyPolicy:
    allowed: bool  # webauthn is among the methods this sign-in may use
    passwordless: bool  # a passkey may replace the password (always with user verification)
    user_verification: bool  # required of a passkey used as a second factor
    factor_required: bool  # this sign-in needs a second factor
    recent_authentication: float  # seconds: how recent a sign-in must be to add a passkey


def passkey_policy(tenant: Tenant, application: Application | None,
                   groups: Iterable[str] = ()) -> PasskeyPolicy:
    """The policy for a sign-in to ``application`` (None: the account page) by a member of
    ``groups``."""
    # until the tenant file's second_factors (confidp.mfa.policy) is merged: passkeys allowed,
    # passwordless on, nothing required
    return PasskeyPolicy(allowed=True, passwordless=True, user_verification=False,
                         factor_required=False, recent_authentication=600.0)
