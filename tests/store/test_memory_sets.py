"""The memory store's member sets (a person's sessions and refresh-token families): expiry and
renewal per member, and bounded bookkeeping however often one person signs in. The behaviour
every store shares is in test_contract.py."""

from __future__ import annotations

from confidp.store import MemoryStore
from confidp.store.memory import _COMPACT_SLACK
from tests.support import Clock


async def test_members_expire_one_by_one_and_renewal_moves_the_expiry() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    for second in range(10):
        clock.now = float(second)
        await store.add_member("families_of", "alice", f"f{second}", ttl=10)
    clock.now = 10.5  # f0 expired at 10
    await store.add_member("families_of", "alice", "f1", ttl=100)  # renewed: lives on
    assert sorted(await store.members("families_of", "alice")) == sorted(
        f"f{n}" for n in range(1, 10))
    clock.now = 15.5  # f2..f5 expired; f1 was renewed to 110.5
    await store.add_member("families_of", "alice", "new", ttl=1)
    assert sorted(await store.members("families_of", "alice")) == [
        "f1", "f6", "f7", "f8", "f9", "new"]
    await store.add_member("families_of", "alice", "f1", ttl=0.1)  # renewed shorter
    clock.now = 16.0
    await store.add_member("families_of", "alice", "other", ttl=100)
    assert "f1" not in await store.members("families_of", "alice")


async def test_one_person_signing_in_many_times_keeps_the_bookkeeping_bounded() -> None:
    """Every sign-in adds a family to the person's set; renewals and expiries leave stale
    entries behind, which are compacted away."""
    clock = Clock()
    store = MemoryStore(clock=clock)
    for n in range(20_000):
        clock.now = n * 0.01
        await store.add_member("families_of", "alice", f"f{n % 50}", ttl=60)  # renewed
    live = await store.members("families_of", "alice")
    assert len(live) == 50
    expiries = store._member_expiries[("families_of", "alice")]
    assert len(expiries) <= 2 * len(live) + _COMPACT_SLACK + 1
    clock.now += 61
    await store.add_member("families_of", "bob", "b", ttl=1)
    clock.now += 2
    await store.add_member("families_of", "carol", "c", ttl=1)
    assert await store.members("families_of", "alice") == []
    assert ("families_of", "alice") not in store._member_expiries  # the set is gone
