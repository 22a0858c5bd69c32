"""The login throttle (the tenant file's ``login_throttle``): failed password checks are
counted per username and per client IP, each in a window that starts at the first failure,
and over either limit a login is refused without checking the password (RFC 6749 §10.10,
OWASP's "Blocking Brute Force Attacks").

An attempt is counted before its password is checked, atomically (``Store.hit`` gives each of
concurrent attempts its own count), and refused when that count is over a limit: so however
many guesses arrive at once, no more than the limit are ever checked in a window, on one
process or many sharing Redis. A refused attempt takes its counts back, so an attacker's
refused guesses for other usernames do not lock out a user. A successful login takes back
its own count too (``Store.refund``): it is not a failure, and it is never blocked by itself
(with a limit of 5 after 4 failures, the fifth attempt is checked and, if right, signs in);
the failures before it still count, so a success does not give a guesser a fresh allowance.
"""

from __future__ import annotations

from dataclasses import dataclass

from confidp.model import LoginThrottle
from confidp.store.kinds import THROTTLE
from confidp.store.tenant import TenantStore


@dataclass(frozen=True, slots=True)
class Attempt:
    """A login attempt as counted: ``retry_after`` is None when its password may be checked,
    else the seconds until the limit it is over ends."""

    keys: tuple[str, ...]
    retry_after: float | None = None


def throttle_keys(username: str, ip: str) -> tuple[str, str]:
    """The counters of a username (case-folded, as usernames are matched) and of an IP, in the
    tenant's namespace."""
    return f"user\x1f{username.casefold()}", f"ip\x1f{ip}"


async def count_attempt(store: TenantStore, limits: LoginThrottle, username: str,
                        ip: str) -> Attempt:
    """Count the attempt in its user's and its IP's window before its password is checked; an
    attempt over either limit is refused and counted in neither."""
    counted: list[str] = []
    for key, limit in zip(throttle_keys(username, ip),
                          (limits.max_failures_per_user, limits.max_failures_per_ip),
                          strict=True):
        count, left = await store.hit(THROTTLE, key, limits.window)
        counted.append(key)
        if count > limit:
            await refund(store, Attempt(tuple(counted)))
            return Attempt((), retry_after=left)
    return Attempt(tuple(counted))


async def refund(store: TenantStore, attempt: Attempt) -> None:
    """Take back an attempt's counts: it was refused, or its password was right."""
    for key in attempt.keys:
        await store.refund(THROTTLE, key)
