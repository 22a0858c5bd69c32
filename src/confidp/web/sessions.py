"""Login sessions in the store: found from the browser's cookie, started at a login, ended at
sign-out. The lifetime rules are ``confidp.oauth.sessions``'; a session carries the
``Identity`` it was started for, which its identity source re-validates at each use (a local
user removed or disabled by a reload ends every session at once).

The cookie carries a random id prefixed with its tenant's id; the store keys sessions by the
id's SHA-256, so a copy of the store holds no usable cookie. A session presented to another
tenant is the seeds' tenant-context mismatch.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from confidp.context import AppRequest
from confidp.identity.identity import Identity
from confidp.model import Tenant
from confidp.oauth import sessions as rules
from confidp.oauth.errors import TENANT_MISMATCH, FlowError
from confidp.oauth.records import Session as SessionRecord
from confidp.oauth.records import load, save
from confidp.oauth.tokens import digest
from confidp.store.kinds import SESSION, SESSIONS_OF
from confidp.store.tenant import TenantStore
from confidp.web.cookies import read_cookie, session_cookie

_SESSION_ID = re.compile(r"([a-z0-9][a-z0-9_-]{0,62})\.[A-Za-z0-9_-]{43}")  # tenant.random


@dataclass(frozen=True, slots=True)
class Session:
    key: str  # its store key: the SHA-256 of the cookie's value
    identity: Identity

    @property
    def subject(self) -> str:
        return self.identity.subject

    @property
    def username(self) -> str:
        return self.identity.username

    @property
    def auth_time(self) -> float:
        return self.identity.auth_time


def presented_session(request: AppRequest, tenant: Tenant) -> tuple[str, str] | None:
    """The tenant the session id this browser presents names, and the id's store key; None
    when there is none, or the value is not shaped like a session id."""
    value = read_cookie(request, session_cookie(tenant))
    if not value:
        return None
    match = _SESSION_ID.fullmatch(value)
    return (match[1], digest(value)) if match else None


async def load_session(request: AppRequest, tenant: Tenant) -> Session | None:
    """The tenant's session of this browser, if valid now: within its idle and absolute
    lifetimes, and its identity still vouched for by its source. A session of another tenant
    (its id names the tenant) is the seed's tenant-context mismatch."""
    presented = presented_session(request, tenant)
    if presented is None:
        return None
    owner, key = presented
    ctx = request.app.ctx
    if owner != tenant.id:
        # a session of another tenant, if it is one (a made-up id is no session at all)
        if await TenantStore(ctx.store, owner).get(SESSION, key) is not None:
            raise FlowError(TENANT_MISMATCH, "The session presented belongs to another tenant.")
        return None
    store = ctx.tenant_store(tenant)
    record = await load(store, SessionRecord, key)
    if record is None:
        return None
    if record.tenant != tenant.id:
        raise FlowError(TENANT_MISMATCH, "The session presented belongs to another tenant.")
    now = ctx.clock()
    lifetimes = tenant.lifetimes
    # re-validated by its source: a local user by subject, as the token grants find them (a
    # new username is the same person)
    identity = await ctx.tokens.revalidate(tenant, record.identity) \
        if rules.alive(record, lifetimes, now) else None
    if identity is None:
        await store.delete(SESSION, key)
        return None
    if rules.needs_touch(record, lifetimes, now):
        await save(store, rules.touched(record, now), key, rules.ttl(record, lifetimes, now))
    return Session(key, identity)


async def start_session(request: AppRequest, tenant: Tenant,
                        identity: Identity) -> tuple[Session, str]:
    """A new session for ``identity``, and the cookie value that carries it; any previous
    session of this browser ends (a new id at every login: no session fixation)."""
    ctx = request.app.ctx
    store = ctx.tenant_store(tenant)
    previous = presented_session(request, tenant)
    if previous is not None and previous[0] == tenant.id:
        await store.delete(SESSION, previous[1])
    session_id = f"{tenant.id}.{secrets.token_urlsafe(32)}"  # names its tenant: see load_session
    now = ctx.clock()
    key = digest(session_id)
    record = rules.new_session(tenant.id, identity, now)
    # indexed first: a session is never stored without its person's index knowing it (the
    # account page, sign out everywhere); an index entry without a session is skipped there
    await store.add_member(SESSIONS_OF, identity.subject, key,
                           tenant.lifetimes.session_absolute)
    await save(store, record, key, rules.ttl(record, tenant.lifetimes, now))
    return Session(key, identity), session_id


async def stored_session(request: AppRequest, tenant: Tenant) -> Session | None:
    """The session of this tenant this browser presents, as stored (not re-validated): what
    sign-out ends."""
    presented = presented_session(request, tenant)
    if presented is None or presented[0] != tenant.id:
        return None
    record = await load(request.app.ctx.tenant_store(tenant), SessionRecord, presented[1])
    if record is None or record.tenant != tenant.id:
        return None
    return Session(presented[1], record.identity)


async def end_session(request: AppRequest, tenant: Tenant, session: Session) -> None:
    await request.app.ctx.tenant_store(tenant).delete(SESSION, session.key)
