"""The enrolment store: durable, encrypted, compare-and-set. The same cases run on the
state-directory files (the default) and on the shared store (memory and a real Redis)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from confidp.mfa.cipher import (
    ENROLMENTS_DIR,
    KEY_FILE,
    EnrolmentCipher,
    EnrolmentKeyError,
    EnrolmentUnreadable,
    load_or_create_key,
)
from confidp.mfa.enrolments import Enrolments, change
from confidp.mfa.factors import (
    Factors,
    RecoveryCodes,
    TotpFactor,
    WebAuthnCredential,
)
from confidp.mfa.file_store import FileEnrolments
from confidp.mfa.store_backed import StoreEnrolments
from confidp.store import MemoryStore
from confidp.store.redis import RedisStore
from tests.support import RedisServer

CREDENTIAL = WebAuthnCredential(
    credential_id="Y3JlZA", public_key="cGs", sign_count=3, user_handle="aGFuZGxl",
    name="YubiKey", created_at=1.0, transports=("usb", "nfc"), discoverable=True)


@pytest.fixture(scope="module")
def redis(redis_binary: str) -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["files", "memory", "redis"])
async def enrolments(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Enrolments]:
    cipher = EnrolmentCipher(load_or_create_key(tmp_path))
    if request.param == "files":
        yield FileEnrolments(tmp_path, cipher)
    elif request.param == "memory":
        yield StoreEnrolments(MemoryStore(), cipher)
    else:
        server: RedisServer = request.getfixturevalue("redis")
        store = RedisStore(f"redis://127.0.0.1:{server.port}/0",
                           prefix=f"t{os.urandom(4).hex()}:")
        yield StoreEnrolments(store, cipher)
        await store.close()


async def test_a_person_without_a_record_has_no_factors(enrolments: Enrolments) -> None:
    factors = await enrolments.load("acme", "alice")
    assert factors == Factors("alice") and factors.empty and factors.version == 0


async def test_saved_factors_come_back_whole(enrolments: Enrolments) -> None:
    factors = Factors("alice", totp=TotpFactor("JBSWY3DPEHPK3PXP", 10.0), webauthn=(CREDENTIAL,),
                      user_handle="aGFuZGxl", recovery=RecoveryCodes(("d1", "d2"), 11.0))
    assert await enrolments.save("acme", factors)
    loaded = await enrolments.load("acme", "alice")
    assert loaded == replace(factors, version=1)
    assert loaded.methods == {"totp", "webauthn"}
    # another tenant, another subject: nothing
    assert (await enrolments.load("globex", "alice")).empty
    assert (await enrolments.load("acme", "bob")).empty


async def test_a_save_on_a_stale_version_is_refused(enrolments: Enrolments) -> None:
    base = await enrolments.load("acme", "alice")
    assert await enrolments.save("acme", base.with_totp(TotpFactor("AAAA", 1.0)))
    # a second writer that loaded the same version loses
    assert not await enrolments.save("acme", replace(base, webauthn=(CREDENTIAL,)))
    assert (await enrolments.load("acme", "alice")).totp == TotpFactor("AAAA", 1.0)


async def test_concurrent_changes_are_all_kept(enrolments: Enrolments) -> None:
    """Twenty requests each add one credential at the same moment: all twenty are there."""
    async def add(number: int) -> None:
        credential = replace(CREDENTIAL, credential_id=f"c{number}")
        await change(enrolments, "acme", "alice",
                     lambda f: replace(f, webauthn=(*f.webauthn, credential)))

    await asyncio.gather(*(add(n) for n in range(20)))
    stored = await enrolments.load("acme", "alice")
    assert sorted(c.credential_id for c in stored.webauthn) == sorted(f"c{n}" for n in range(20))
    assert stored.version == 20


async def test_a_code_used_twice_at_once_is_used_once(enrolments: Enrolments) -> None:
    """Taking a recovery code out is a compare-and-set: of two racing uses one wins."""
    await enrolments.save("acme", Factors("alice", recovery=RecoveryCodes(("d1", "d2"), 1.0)))

    def take(factors: Factors) -> Factors | None:
        assert factors.recovery is not None
        if "d1" not in factors.recovery.digests:
            return None
        left = tuple(d for d in factors.recovery.digests if d != "d1")
        return replace(factors, recovery=replace(factors.recovery, digests=left))

    results = await asyncio.gather(*(change(enrolments, "acme", "alice", take)
                                     for _ in range(10)))
    assert sum(result is not None for result in results) == 1
    recovery = (await enrolments.load("acme", "alice")).recovery
    assert recovery is not None and recovery.digests == ("d2",)


async def test_links(enrolments: Enrolments) -> None:
    assert await enrolments.linked("acme", "handle:x") is None
    await enrolments.link("acme", "handle:x", "alice")
    assert await enrolments.linked("acme", "handle:x") == "alice"
    assert await enrolments.linked("globex", "handle:x") is None
    await enrolments.link("acme", "handle:x", None)
    assert await enrolments.linked("acme", "handle:x") is None


async def test_another_key_cannot_read_and_fails_closed(tmp_path: Path) -> None:
    files = FileEnrolments(tmp_path, EnrolmentCipher(load_or_create_key(tmp_path)))
    await files.save("acme", Factors("alice", totp=TotpFactor("AAAA", 1.0)))
    other = FileEnrolments(tmp_path, EnrolmentCipher.ephemeral())
    with pytest.raises(EnrolmentUnreadable):
        await other.load("acme", "alice")
    with pytest.raises(EnrolmentUnreadable):  # nor is it overwritten
        await other.save("acme", Factors("alice"))


async def test_files_are_encrypted_and_bound_to_their_person(tmp_path: Path) -> None:
    files = FileEnrolments(tmp_path, EnrolmentCipher(load_or_create_key(tmp_path)))
    await files.save("acme", Factors("alice", totp=TotpFactor("JBSWY3DPEHPK3PXP", 1.0)))
    await files.save("acme", Factors("mallory"))
    directory = tmp_path / ENROLMENTS_DIR / "acme"
    records = sorted(directory.glob("*.enc"))
    assert len(records) == 2
    for path in records:
        assert b"JBSWY3DPEHPK3PXP" not in path.read_bytes()
        assert b"alice" not in path.read_bytes()
        assert oct(path.stat().st_mode & 0o777) == "0o600"
    # alice's record copied over mallory's does not open as mallory's
    import hashlib
    alice = directory / (hashlib.sha256(b"alice").hexdigest() + ".enc")
    mallory = directory / (hashlib.sha256(b"mallory").hexdigest() + ".enc")
    mallory.write_bytes(alice.read_bytes())
    with pytest.raises(EnrolmentUnreadable):
        await files.load("acme", "mallory")


def test_no_new_key_while_enrolments_exist(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    assert load_or_create_key(tmp_path) == key  # made once
    files = FileEnrolments(tmp_path, EnrolmentCipher(key))
    asyncio.run(files.save("acme", Factors("alice", totp=TotpFactor("AAAA", 1.0))))
    (tmp_path / KEY_FILE).unlink()
    with pytest.raises(EnrolmentKeyError, match="restore the key"):
        load_or_create_key(tmp_path)
    (tmp_path / KEY_FILE).write_bytes(b"short")
    with pytest.raises(EnrolmentKeyError, match="not an enrolment key"):
        load_or_create_key(tmp_path)


def _add_in_process(state: str, number: int) -> None:
    files = FileEnrolments(Path(state), EnrolmentCipher(load_or_create_key(Path(state))))
    credential = replace(CREDENTIAL, credential_id=f"p{number}")
    for _ in range(5):
        asyncio.run(change(files, "acme", "alice",
                           lambda f, c=credential: replace(f, webauthn=(*f.webauthn, c))))
        credential = replace(credential, credential_id=credential.credential_id + "+")


def test_processes_sharing_the_state_directory_lose_no_write(tmp_path: Path) -> None:
    """Replicas on one state volume: four processes, five changes each, all kept."""
    load_or_create_key(tmp_path)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_add_in_process, args=(str(tmp_path), n))
                 for n in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    files = FileEnrolments(tmp_path, EnrolmentCipher(load_or_create_key(tmp_path)))
    stored = asyncio.run(files.load("acme", "alice"))
    assert len(stored.webauthn) == 20 and stored.version == 20


async def test_without_a_key_that_can_be_made_nobody_has_factors_and_enrolling_fails(
        tmp_path: Path) -> None:
    """A read-only state made before second factors (no enrolment.key): the server serves,
    nobody can have enrolled, and an enrolment fails closed instead of being lost."""
    from confidp.app import _enrolments
    from confidp.settings import Settings

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    enrolments = _enrolments(Settings(state_dir=blocker / "state"), MemoryStore())
    assert (await enrolments.load("acme", "alice")).empty
    with pytest.raises(EnrolmentUnreadable, match="run confidp state init"):
        await change(enrolments, "acme", "alice",
                     lambda f: f.with_totp(TotpFactor("AAAA", 1.0)))
