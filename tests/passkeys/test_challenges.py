"""WebAuthn challenges (confidp.passkeys.challenges): sealed tickets bound to one ceremony,
tenant and sign-in, short-lived, used once."""

from __future__ import annotations

import asyncio
import os

import pytest

from confidp.passkeys import challenges
from confidp.passkeys.challenges import CHALLENGE_LIFETIME, CREATE, GET, Ticket
from confidp.passkeys.errors import PasskeyRefused, Reason
from confidp.sealing import Sealer
from confidp.store import MemoryStore
from confidp.store.tenant import TenantStore

SEALER = Sealer([os.urandom(32)])
TICKET = Ticket(GET, "acme", "sign-in-key", 1000.0, True)


def test_a_challenge_carries_its_ticket_and_is_unpredictable() -> None:
    challenge = challenges.issue(SEALER, TICKET)
    assert len(challenge) >= 16  # WebAuthn L2 §13.4.3
    assert challenges.read(SEALER, challenge) == TICKET
    assert challenges.issue(SEALER, TICKET) != challenge


def test_a_challenge_of_another_key_or_tampered_with_is_not_read() -> None:
    challenge = challenges.issue(SEALER, TICKET)
    assert challenges.read(Sealer([os.urandom(32)]), challenge) is None
    tampered = bytes([challenge[0] ^ 1]) + challenge[1:]
    assert challenges.read(SEALER, tampered) is None
    assert challenges.read(SEALER, os.urandom(64)) is None
    # sealed by this server for another purpose (a sign-in request): not a challenge
    other = SEALER.seal(b'[1,"get","acme","sign-in-key",1000.0,true,""]', b"something else")
    assert challenges.read(SEALER, challenges.from_b64url(other)) is None


def _check(ticket: Ticket, **overrides: object) -> Ticket:
    arguments: dict = {"ceremony": GET, "tenant_id": "acme", "bound_to": "sign-in-key",
                       "now": 1010.0, **overrides}
    return challenges.check(ticket, **arguments)


def test_the_ticket_is_checked_against_the_ceremony_tenant_sign_in_and_time() -> None:
    assert _check(TICKET) == TICKET
    assert _check(TICKET, now=1000.0 + CHALLENGE_LIFETIME - 0.001) == TICKET
    for overrides in ({"ceremony": CREATE}, {"tenant_id": "globex"},
                      {"bound_to": "another-sign-in"}, {"now": 1000.0 + CHALLENGE_LIFETIME},
                      {"now": 999.0}):
        with pytest.raises(PasskeyRefused) as refused:
            _check(TICKET, **overrides)
        assert refused.value.reason is Reason.CHALLENGE, overrides
    with pytest.raises(PasskeyRefused):
        _check(None)  # type: ignore[arg-type]


async def test_a_challenge_is_used_once_even_by_racing_requests() -> None:
    store = TenantStore(MemoryStore(), "acme")
    challenge = challenges.issue(SEALER, TICKET)

    async def use() -> bool:
        try:
            await challenges.use(store, challenge)
        except PasskeyRefused as refused:
            assert refused.reason is Reason.CHALLENGE
            return False
        return True

    assert sorted(await asyncio.gather(*(use() for _ in range(8)))) == [False] * 7 + [True]
    assert not await use()
    # another tenant's namespace is another challenge space, but the ticket names its tenant
    await challenges.use(TenantStore(MemoryStore(), "globex"), challenge)
