"""Password (and client secret) verification with argon2id, off the event loop.

argon2-cffi releases the GIL while hashing, so verifications run in parallel on a small
bounded pool: a login storm queues instead of stalling the event loop or allocating argon2's
memory (64 MiB per hash by default) without bound. An unknown user is verified against a dummy
hash made with the same parameters, so both take the same time.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class PasswordVerifier:
    def __init__(self, workers: int | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2,
                                        thread_name_prefix="confidp-argon2")
        self._dummy = _HASHER.hash(secrets.token_urlsafe(24))

    async def verify(self, hashed: str | None, password: str) -> bool:
        """True when ``password`` matches ``hashed``; with ``hashed`` None (no such user) the
        same work is done against a dummy hash and the answer is False."""
        loop = asyncio.get_running_loop()
        matched = await loop.run_in_executor(self._pool, _verify, hashed or self._dummy,
                                             password)
        return matched and hashed is not None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
