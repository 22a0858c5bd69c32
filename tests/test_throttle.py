"""The login throttle's rule, without HTTP: attempts are counted before the password is
checked, so concurrent guesses never get more checks than the limit."""

from __future__ import annotations

import asyncio

from confidp.model import LoginThrottle
from confidp.store import MemoryStore
from confidp.store.kinds import THROTTLE
from confidp.store.tenant import TenantStore
from confidp.throttle import count_attempt, refund, throttle_keys
from tests.support import Clock

LIMITS = LoginThrottle(max_failures_per_user=5, max_failures_per_ip=20, window=900)


async def guesses(store: TenantStore, usernames: list[str], right: str | None = None) -> int:
    """Every username guessed at once (each check yields to the others, as the password hash
    does); how many passwords were checked."""
    checked = 0

    async def guess(username: str) -> None:
        nonlocal checked
        attempt = await count_attempt(store, LIMITS, username, "192.0.2.1")
        if attempt.retry_after is not None:
            return
        checked += 1
        await asyncio.sleep(0.01)  # the password check
        if username == right:
            await refund(store, attempt)
    await asyncio.gather(*(guess(name) for name in usernames))
    return checked


async def test_concurrent_guesses_for_one_user_check_at_most_the_limit() -> None:
    store = TenantStore(MemoryStore(), "acme")
    assert await guesses(store, ["alice"] * 60) == 5
    assert await guesses(store, ["Alice"] * 10) == 0  # usernames match case-insensitively
    user, ip = throttle_keys("alice", "192.0.2.1")
    assert (await store.count(THROTTLE, user))[0] == 5  # refused attempts are not counted
    assert (await store.count(THROTTLE, ip))[0] == 5


async def test_concurrent_guesses_from_one_ip_check_at_most_the_limit() -> None:
    store = TenantStore(MemoryStore(), "acme")
    assert await guesses(store, [f"user{n}" for n in range(60)]) == 20
    # refused guesses for other usernames did not count against those users
    user, _ = throttle_keys("user59", "192.0.2.1")
    assert (await store.count(THROTTLE, user))[0] in (0, 1)


async def test_a_success_is_not_blocked_by_its_own_attempt_and_refunds_it() -> None:
    clock = Clock()
    store = TenantStore(MemoryStore(clock), "acme")
    assert await guesses(store, ["alice"] * 4) == 4
    assert await guesses(store, ["alice"], right="alice") == 1  # the fifth: checked, signs in
    user, _ = throttle_keys("alice", "192.0.2.1")
    assert (await store.count(THROTTLE, user))[0] == 4  # the failures before it still count
    assert await guesses(store, ["alice"] * 3) == 1
    refused = await count_attempt(store, LIMITS, "alice", "192.0.2.1")
    assert refused.retry_after == 900 and refused.keys == ()
    clock.now += 900  # the window ends
    assert await guesses(store, ["alice"] * 3) == 3
