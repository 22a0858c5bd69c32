"""Passkeys in the enrolment store (confidp.passkeys.enrolled), on the default file-backed
store: the user handle and credential links, duplicates, the counter's compare-and-set, and
a restart (a new store over the same state directory) keeping everything."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from confidp.mfa.cipher import EnrolmentCipher, load_or_create_key
from confidp.mfa.file_store import FileEnrolments
from confidp.passkeys.credentials import MAX_PASSKEYS, PasskeyCredential
from confidp.passkeys.enrolled import EnrolledPasskeys


def _store(state: Path, tenant: str = "acme") -> EnrolledPasskeys:
    return EnrolledPasskeys(FileEnrolments(state, EnrolmentCipher(load_or_create_key(state))),
                            tenant)


def _credential(subject: str, handle: bytes, count: int = 1) -> PasskeyCredential:
    return PasskeyCredential(os.urandom(32), subject, b"\xa5\x01\x02", count, ("internal",),
                             handle, "Laptop", 1000.0, backup_eligible=True)


async def test_the_user_handle_is_random_stable_and_leads_back(tmp_path: Path) -> None:
    store = _store(tmp_path)
    handle = await store.user_handle("alice-sub")
    assert len(handle) == 32 and b"alice" not in handle
    assert await store.user_handle("alice-sub") == handle
    assert await store.user_handle("bob-sub") != handle
    assert await store.subject_of(handle) == "alice-sub"
    assert await store.subject_of(os.urandom(32)) is None
    # another tenant's store does not know it
    assert await _store(tmp_path, "globex").subject_of(handle) is None


async def test_a_credential_is_kept_whole_across_a_restart(tmp_path: Path) -> None:
    store = _store(tmp_path)
    credential = _credential("alice-sub", await store.user_handle("alice-sub"))
    assert await store.add_passkey(credential)
    restarted = _store(tmp_path)
    assert await restarted.passkeys("alice-sub") == [credential]
    assert await restarted.subject_of(credential.user_handle) == "alice-sub"


async def test_a_credential_id_is_registered_once_in_a_tenant(tmp_path: Path) -> None:
    store = _store(tmp_path)
    credential = _credential("alice-sub", await store.user_handle("alice-sub"))
    assert await store.add_passkey(credential)
    assert not await store.add_passkey(credential)  # again
    stolen = PasskeyCredential(credential.credential_id, "bob-sub", b"\xa5", 0, (),
                               await store.user_handle("bob-sub"), "Mine", 2000.0)
    assert not await store.add_passkey(stolen)  # by someone else
    assert await store.passkeys("bob-sub") == []
    for _ in range(MAX_PASSKEYS - 1):
        assert await store.add_passkey(_credential("alice-sub", credential.user_handle))
    assert not await store.add_passkey(_credential("alice-sub", credential.user_handle))


async def test_two_uses_with_the_same_counter_record_one(tmp_path: Path) -> None:
    store = _store(tmp_path)
    credential = _credential("alice-sub", await store.user_handle("alice-sub"), count=5)
    assert await store.add_passkey(credential)
    results = await asyncio.gather(*(store.passkey_used(credential, 6 + n, 3000.0 + n)
                                     for n in range(4)))
    assert sorted(results) == [False, False, False, True]
    [stored] = await store.passkeys("alice-sub")
    assert stored.sign_count in (6, 7, 8, 9) and stored.last_used_at is not None
    # a use that read the counter before the last one is refused
    assert not await store.passkey_used(credential, 20, 4000.0)
    assert await store.passkey_used(stored, 20, 4000.0)
