"""Password and client-secret checks: argon2 off the event loop, equal work for unknown users,
and argon2 done once per client secret (issue: a secret check must not dominate /token)."""

from __future__ import annotations

import time

from argon2 import PasswordHasher

from confidp.model import ClientSecret, Secret
from confidp.passwords import ClientSecretChecker, PasswordVerifier

HASH = PasswordHasher().hash("s3cret")


class CountingVerifier(PasswordVerifier):
    """The real verifier, counting how often argon2 runs."""

    def __init__(self) -> None:
        super().__init__(workers=1)
        self.calls = 0

    async def verify(self, hashed: str | None, password: str) -> bool:
        self.calls += 1
        return await super().verify(hashed, password)


async def test_password_verification_and_unknown_user() -> None:
    verifier = PasswordVerifier(workers=1)
    assert await verifier.verify(HASH, "s3cret")
    assert not await verifier.verify(HASH, "wrong")
    assert not await verifier.verify("not-a-hash", "s3cret")
    started = time.perf_counter()
    assert not await verifier.verify(None, "s3cret")  # unknown user: the dummy hash
    assert time.perf_counter() - started > 0.005  # real argon2 work was done
    verifier.close()


async def test_argon2_runs_once_per_client_secret() -> None:
    verifier = CountingVerifier()
    checker = ClientSecretChecker(verifier)
    secret = ClientSecret("hash", Secret(HASH), "hash")
    assert not await checker.check("t", "billing", secret, "wrong")
    assert verifier.calls == 1
    assert await checker.check("t", "billing", secret, "s3cret")
    assert verifier.calls == 2
    started = time.perf_counter()
    for _ in range(100):
        assert await checker.check("t", "billing", secret, "s3cret")
    assert not await checker.check("t", "billing", secret, "wrong")
    assert verifier.calls == 2  # later checks compare an HMAC, not argon2
    assert time.perf_counter() - started < 0.5
    rotated = ClientSecret("hash", Secret(PasswordHasher().hash("new")), "hash")
    assert not await checker.check("t", "billing", rotated, "s3cret")
    assert await checker.check("t", "billing", rotated, "new")
    assert verifier.calls == 4  # a changed hash is verified with argon2 again
    verifier.close()


async def test_env_and_file_secrets_compare_directly() -> None:
    verifier = CountingVerifier()
    checker = ClientSecretChecker(verifier)
    secret = ClientSecret("env", Secret("plain-value"), "env X")
    assert await checker.check("t", "api", secret, "plain-value")
    assert not await checker.check("t", "api", secret, "plain-valuE")
    assert not await checker.check("t", "api", None, "plain-value")
    assert not await checker.check("t", "api", secret, "")
    assert verifier.calls == 0
    verifier.close()


async def test_waiting_for_the_hashing_pool_does_not_use_up_the_store_deadline() -> None:
    """A login storm queues password checks; the request's store deadline (3 s for all its
    store calls, confidp.store.deadline) must not run out while a request waits there, or a
    right password ends in a 503 when its throttle count is taken back, and that count then
    stays as a failure (five of them lock the user out with 429s)."""
    import threading

    from confidp.store.deadline import seconds_left, store_deadline

    verifier = PasswordVerifier(workers=1)
    busy = threading.Event()
    verifier._pool.submit(busy.wait, 10)  # another login holds the only hashing thread
    threading.Timer(0.3, busy.set).start()
    try:
        with store_deadline(0.2):
            assert await verifier.verify(HASH, "s3cret")
            left = seconds_left()
            assert left is not None and 0.1 < left <= 0.2, left
    finally:
        busy.set()
        verifier.close()
