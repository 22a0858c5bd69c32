"""Login sessions' lifetimes, as pure functions of ``now`` (the tenant file's
``lifetimes.session_idle`` and ``session_absolute``): a session ends when it was unused for
the idle lifetime or has lived the absolute one, whichever comes first, and the lifetimes of
the tenant's current version apply (a reload that shortens them applies at once).

A session in use is written again to extend its idle lifetime, but at most once a minute (and
at most four times per idle lifetime), so that a busy session costs no store write per
request."""

from __future__ import annotations

from dataclasses import replace

from confidp.identity.identity import Identity
from confidp.model import Lifetimes
from confidp.oauth.records import Session

TOUCH_AFTER = 60.0  # at most this many seconds between writes that extend an idle session


def new_session(tenant_id: str, identity: Identity, now: float) -> Session:
    return Session(tenant_id, identity, created_at=now, last_seen=now)


def alive(session: Session, lifetimes: Lifetimes, now: float) -> bool:
    return (now - session.created_at <= lifetimes.session_absolute
            and now - session.last_seen <= lifetimes.session_idle)


def needs_touch(session: Session, lifetimes: Lifetimes, now: float) -> bool:
    return now - session.last_seen > min(TOUCH_AFTER, lifetimes.session_idle / 4)


def touched(session: Session, now: float) -> Session:
    return replace(session, last_seen=now)


def ttl(session: Session, lifetimes: Lifetimes, now: float) -> float:
    """How long the store keeps ``session`` from ``now``: until it would end unused."""
    return min(lifetimes.session_idle,
               lifetimes.session_absolute - (now - session.created_at))
