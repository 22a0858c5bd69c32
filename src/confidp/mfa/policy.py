"""Who needs which second factor (the tenant file's ``second_factors``, an application's
``second_factor``, and the rules of the person's groups), as a pure function: read from the
current snapshot at each sign-in, so an edit applies to the next one (hot reload).

Combining, like Authelia's policies add up and Dex's per-client ``mfaChain`` narrows:
- required: the tenant, the application or any of the person's groups requires a factor;
- methods: the tenant's, narrowed by the application's and by each matching group's;
- passwordless: the application's setting, else the tenant's; only with webauthn allowed;
- user verification: the tenant's, and always "required" for passwordless sign-in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confidp.mfa.factors import WEBAUTHN
from confidp.model import Application, Tenant

REQUIRED = "required"


@dataclass(frozen=True, slots=True)
class FactorPolicy:
    methods: frozenset[str]  # may be empty: a rule allowed no method at all
    required: bool
    passwordless: bool
    user_verification: str  # WebAuthn: required | preferred | discouraged
    recent_authentication: int  # seconds (the account page's re-authentication)


def policy_for(tenant: Tenant, application: Application | None,
               groups: Iterable[str] = ()) -> FactorPolicy:
    """The rule for a sign-in to ``application`` (None: the account page, the tenant's own)
    by a member of ``groups`` (none yet: before the person is identified)."""
    tenant_rule = tenant.second_factors
    methods = set(tenant_rule.methods)
    required = tenant_rule.required
    passwordless = tenant_rule.passwordless
    rule = application.second_factor if application is not None else None
    if rule is not None:
        required = required or rule.required
        if rule.methods is not None:
            methods &= rule.methods
        if rule.passwordless is not None:
            passwordless = rule.passwordless
    for group in groups:
        group_rule = tenant_rule.groups.get(group)
        if group_rule is None:
            continue
        required = required or group_rule.required
        if group_rule.methods is not None:
            methods &= group_rule.methods
    passwordless = passwordless and WEBAUTHN in methods
    return FactorPolicy(frozenset(methods), required, passwordless,
                        REQUIRED if passwordless else tenant_rule.user_verification,
                        tenant_rule.recent_authentication)
