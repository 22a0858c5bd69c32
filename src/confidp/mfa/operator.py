"""What an operator does for a person who lost their device or whose account is part of an
incident (``confidp mfa reset``, ``confidp sessions revoke``): the same functions run inside
the server (its operations listener, with the memory store) or in the CLI itself (with
Redis, the shared state is reached directly)."""

from __future__ import annotations

from confidp import audit
from confidp.mfa import events
from confidp.mfa.enrolments import Enrolments, change
from confidp.mfa.factors import Factors
from confidp.model import Tenant
from confidp.oauth.everywhere import sign_out_everywhere
from confidp.oauth.tokens import TokenService
from confidp.store.tenant import TenantStore


class UnknownPerson(Exception):
    """No such tenant or user."""


def subject_of(tenant: Tenant, username: str, *, is_subject: bool = False) -> str:
    """The subject of a user of the tenant file (or ``username`` itself, taken as a subject:
    people of another identity source)."""
    if is_subject:
        return username
    user = tenant.user(username)
    if user is None:
        raise UnknownPerson(f"tenant {tenant.id} has no user {username!r} (for a person of "
                            "another identity source, give their subject with --subject)")
    return user.subject


async def reset_factors(source: audit.Source, enrolments: Enrolments, tenant: Tenant,
                        subject: str) -> bool:
    """Remove every factor and recovery code of the person: True when there was any."""
    def clear(factors: Factors) -> Factors | None:
        return None if factors.empty else factors.cleared()
    removed = await change(enrolments, tenant.id, subject, clear) is not None
    events.emit(source, events.FACTORS_RESET, tenant=tenant.id, subject=subject, by="operator",
                removed=int(removed))
    return removed


async def revoke_sessions(source: audit.Source, tokens: TokenService, store: TenantStore,
                          tenant: Tenant, subject: str) -> tuple[int, int]:
    ended, revoked = await sign_out_everywhere(tokens, store, tenant, subject)
    events.emit(source, events.SESSIONS_REVOKED, tenant=tenant.id, subject=subject, by="operator",
                sessions=ended, families=revoked)
    return ended, revoked
