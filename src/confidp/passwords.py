"""Password (and client secret) verification with argon2id, off the event loop.

argon2-cffi releases the GIL while hashing, so verifications run in parallel on a small
bounded pool: a login storm queues instead of stalling the event loop or allocating argon2's
memory (64 MiB per hash by default) without bound. An unknown user is verified against a dummy
hash made with the same parameters, so both take the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from confidp import tracing
from confidp.model import ClientSecret
from confidp.store.deadline import paused

_HASHER = PasswordHasher()


def _lower_priority() -> None:
    """Run this hashing thread at a lower CPU priority (Linux nice is per thread), so the event
    loop keeps answering other requests quickly while logins queue."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class PasswordVerifier:
    def __init__(self, workers: int | None = None) -> None:
        # One core fewer than the machine has: hashing must not take the core the event loop
        # needs, or a login storm stalls every other request.
        default = max(1, (os.cpu_count() or 2) - 1)
        self._pool = ThreadPoolExecutor(max_workers=workers or default,
                                        thread_name_prefix="confidp-argon2",
                                        initializer=_lower_priority)
        self._dummy = _HASHER.hash(secrets.token_urlsafe(24))

    async def verify(self, hashed: str | None, password: str) -> bool:
        """True when ``password`` matches ``hashed``; with ``hashed`` None (no such user) the
        same work is done against a dummy hash and the answer is False."""
        loop = asyncio.get_running_loop()
        # queued behind other logins: not the store's time (store.deadline)
        with paused(), tracing.span("password.verify"):
            matched = await loop.run_in_executor(self._pool, _verify, hashed or self._dummy,
                                                 password)
        return matched and hashed is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ClientSecretChecker:
    """Client secrets, checked so that argon2 does not dominate a token request: after a
    secret verified against its argon2 hash once, this process remembers an HMAC of it (under
    a random per-process key) for that hash, and later requests compare HMACs in constant
    time. A changed hash in the tenant file is a new entry. Env and file secrets are compared
    directly in constant time."""

    _MAX_ENTRIES = 10_000

    def __init__(self, passwords: PasswordVerifier) -> None:
        self._passwords = passwords
        self._key = secrets.token_bytes(32)
        self._verified: dict[tuple[str, str, str], bytes] = {}

    def _mac(self, value: str) -> bytes:
        return hmac.new(self._key, value.encode(), hashlib.sha256).digest()

    async def check(self, tenant_id: str, client_id: str, secret: ClientSecret | None,
                    presented: str) -> bool:
        if secret is None or not presented:
            return False
        if secret.kind != "hash":
            return hmac.compare_digest(self._mac(presented), self._mac(secret.value.reveal()))
        entry = (tenant_id, client_id, secret.value.reveal())
        known = self._verified.get(entry)
        if known is not None:
            return hmac.compare_digest(self._mac(presented), known)
        if not await self._passwords.verify(secret.value.reveal(), presented):
            return False
        if len(self._verified) >= self._MAX_ENTRIES:
            self._verified.clear()
        self._verified[entry] = self._mac(presented)
        return True
