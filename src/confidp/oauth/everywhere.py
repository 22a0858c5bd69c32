"""A person's sessions and refresh-token families in one tenant, found through the store's
per-subject indexes (``SESSIONS_OF``, ``FAMILIES_OF``, written when a session starts and when
a code issues a refresh token), for the account page and "sign out everywhere" (the page's
button, ``confidp sessions revoke``). Index entries whose record is gone are skipped and
dropped."""

from __future__ import annotations

from dataclasses import dataclass

from confidp.model import Tenant
from confidp.oauth import sessions as session_rules
from confidp.oauth.records import Family, FamilyRevoked, load
from confidp.oauth.records import Session as SessionRecord
from confidp.oauth.tokens import TokenService
from confidp.store.kinds import FAMILIES_OF, SESSION, SESSIONS_OF
from confidp.store.tenant import TenantStore


@dataclass(frozen=True, slots=True)
class SessionInfo:
    key: str
    created_at: float
    last_seen: float
    amr: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FamilyInfo:
    family: str
    client_id: str
    created_at: float


async def sessions_of(store: TenantStore, tenant: Tenant, subject: str,
                      now: float) -> list[SessionInfo]:
    found = []
    for key in await store.members(SESSIONS_OF, subject):
        record = await load(store, SessionRecord, key)
        if record is None or record.identity.subject != subject \
                or not session_rules.alive(record, tenant.lifetimes, now):
            await store.remove_member(SESSIONS_OF, subject, key)
            continue
        found.append(SessionInfo(key, record.created_at, record.last_seen,
                                 record.identity.amr))
    return sorted(found, key=lambda info: info.last_seen, reverse=True)


async def families_of(store: TenantStore, subject: str) -> list[FamilyInfo]:
    """The live refresh-token families (applications holding a refresh token)."""
    found = []
    for family in await store.members(FAMILIES_OF, subject):
        record = await load(store, Family, family)
        revoked = await load(store, FamilyRevoked, family)
        if record is None or revoked is not None or record.subject != subject \
                or record.current is None:
            if record is None or revoked is not None:
                await store.remove_member(FAMILIES_OF, subject, family)
            continue
        found.append(FamilyInfo(family, record.client_id, record.created_at))
    return sorted(found, key=lambda info: info.created_at, reverse=True)


async def sign_out_everywhere(tokens: TokenService, store: TenantStore, tenant: Tenant,
                              subject: str) -> tuple[int, int]:
    """End every session and revoke every refresh-token family of ``subject``: (sessions,
    families) ended."""
    sessions = await store.members(SESSIONS_OF, subject)
    for key in sessions:
        await store.delete(SESSION, key)
        await store.remove_member(SESSIONS_OF, subject, key)
    families = await store.members(FAMILIES_OF, subject)
    for family in families:
        await tokens.revoke_family(family, tenant)
        await store.remove_member(FAMILIES_OF, subject, family)
    return len(sessions), len(families)
