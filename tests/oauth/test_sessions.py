"""Session lifetime rules as pure functions of now (confidp.oauth.sessions)."""

from __future__ import annotations

import dataclasses

from confidp.identity.identity import Identity
from confidp.oauth import sessions
from tests.oauth.test_claims_and_client_auth import ACME

LIFETIMES = dataclasses.replace(ACME.lifetimes, session_idle=100, session_absolute=300)
ALICE = Identity("alice", "local", "alice", auth_time=1000.0)


def test_idle_and_absolute_lifetimes() -> None:
    session = sessions.new_session("acme", ALICE, 1000.0)
    assert sessions.alive(session, LIFETIMES, 1100.0)
    assert not sessions.alive(session, LIFETIMES, 1100.5)  # idle too long
    used = sessions.touched(session, 1090.0)
    assert sessions.alive(used, LIFETIMES, 1190.0)
    late = sessions.touched(session, 1290.0)
    assert sessions.alive(late, LIFETIMES, 1300.0)
    assert not sessions.alive(late, LIFETIMES, 1300.5)  # however recently used


def test_touch_at_most_once_a_minute_and_a_quarter_of_the_idle_lifetime() -> None:
    session = sessions.new_session("acme", ALICE, 1000.0)
    assert not sessions.needs_touch(session, LIFETIMES, 1025.0)  # 100 s idle: every 25 s
    assert sessions.needs_touch(session, LIFETIMES, 1025.5)
    long_idle = dataclasses.replace(LIFETIMES, session_idle=8 * 3600, session_absolute=86400)
    assert not sessions.needs_touch(session, long_idle, 1060.0)
    assert sessions.needs_touch(session, long_idle, 1060.5)


def test_the_store_keeps_a_session_until_it_would_end_unused() -> None:
    session = sessions.new_session("acme", ALICE, 1000.0)
    assert sessions.ttl(session, LIFETIMES, 1000.0) == 100
    assert sessions.ttl(session, LIFETIMES, 1250.0) == 50  # the absolute end is nearer
