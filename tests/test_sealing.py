"""Sealed values (the sign-in request a login page carries) and the key that seals them."""

from __future__ import annotations

import stat
import string
from pathlib import Path

import pytest

from confidp.sealing import (
    KEY_FILE,
    Sealer,
    SealingKeyError,
    _b64decode,
    load_or_create_keys,
    rotate,
)
from tests.support import Clock, results_from_processes

PURPOSE = b"confidp sign-in request"


def test_round_trip_and_every_nonce_fresh(tmp_path: Path) -> None:
    sealer = Sealer.from_state_dir(tmp_path)
    first, second = sealer.seal(b"data", PURPOSE), sealer.seal(b"data", PURPOSE)
    assert first != second  # a new random nonce each time
    assert sealer.unseal(first, PURPOSE) == sealer.unseal(second, PURPOSE) == b"data"
    assert first.isascii() and "=" not in first and "+" not in first and "/" not in first


def test_anything_not_sealed_by_this_key_for_this_purpose_is_refused(tmp_path: Path) -> None:
    sealer = Sealer.from_state_dir(tmp_path / "a")
    sealed = sealer.seal(b'{"tenant":"acme"}', PURPOSE)
    assert sealer.unseal(sealed, b"another purpose") is None
    assert Sealer.from_state_dir(tmp_path / "b").unseal(sealed, PURPOSE) is None
    for i in range(len(sealed)):  # one character changed anywhere
        changed = sealed[:i] + ("A" if sealed[i] != "A" else "B") + sealed[i + 1:]
        assert sealer.unseal(changed, PURPOSE) is None, i
    for garbage in ("", "nope", "é", "A" * 16, "A" * 39, sealed[:-1], sealed + "A", "%%%"):
        assert sealer.unseal(garbage, PURPOSE) is None, garbage


def test_key_file_mode_0600_and_kept(tmp_path: Path) -> None:
    [key] = load_or_create_keys(tmp_path / "state")
    path = tmp_path / "state" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) == 32
    assert load_or_create_keys(tmp_path / "state") == [key]
    assert [p.name for p in (tmp_path / "state").iterdir()] == [KEY_FILE]  # no temp file left


def test_a_damaged_key_file_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"short")
    with pytest.raises(SealingKeyError, match="remove it"):
        load_or_create_keys(tmp_path)
    assert (tmp_path / KEY_FILE).read_bytes() == b"short"
    (tmp_path / KEY_FILE).write_bytes(b"k" * 32 * 3)  # more keys than confidp keeps
    with pytest.raises(SealingKeyError, match="remove it"):
        load_or_create_keys(tmp_path)


def _key_of(state: str) -> bytes:
    return load_or_create_keys(Path(state))[0]


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    results = results_from_processes(_key_of, str(tmp_path))
    assert len(results) == 4
    keys = set(results)
    assert len(keys) == 1
    assert keys == {(tmp_path / KEY_FILE).read_bytes()}


def test_one_spelling_per_sealed_value(tmp_path: Path) -> None:
    """base64 leaves low bits of the last character unused: a character that differs only
    there, or added padding, decodes to the same bytes and must still be refused."""
    sealer = Sealer.from_state_dir(tmp_path)
    alphabet = string.ascii_letters + string.digits + "-_"
    tried = 0
    for size in range(1, 8):
        sealed = sealer.seal(b"x" * size, PURPOSE)
        if len(sealed) % 4 == 0:
            continue
        assert sealer.unseal(sealed + "=" * (-len(sealed) % 4), PURPOSE) is None
        for other in alphabet:
            respelled = sealed[:-1] + other
            if other != sealed[-1] and _b64decode(respelled) == _b64decode(sealed):
                tried += 1
                assert sealer.unseal(respelled, PURPOSE) is None
    assert tried > 0


def test_a_server_follows_a_rotation_within_a_second(tmp_path: Path) -> None:
    clock = Clock()
    keys = load_or_create_keys(tmp_path)
    sealer = Sealer(keys, tmp_path / KEY_FILE, clock=clock)
    old_only = Sealer(keys)
    new_keys = rotate(tmp_path)
    assert (tmp_path / KEY_FILE).read_bytes() == new_keys[0] + keys[0]
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]
    new_only = Sealer(new_keys[:1])
    assert old_only.unseal(sealer.seal(b"x", PURPOSE), PURPOSE) == b"x"  # not looked yet
    clock.now += 1.0
    sealed = sealer.seal(b"y", PURPOSE)
    assert new_only.unseal(sealed, PURPOSE) == b"y"
    assert old_only.unseal(sealed, PURPOSE) is None


def test_sign_ins_in_progress_survive_one_rotation_not_two(tmp_path: Path) -> None:
    sealer = Sealer(load_or_create_keys(tmp_path), tmp_path / KEY_FILE, clock=Clock())
    before = sealer.seal(b"before", PURPOSE)
    rotate(tmp_path)
    replica = Sealer.from_state_dir(tmp_path)  # started after the rotation
    after = replica.seal(b"after", PURPOSE)
    # the clock stands still: only the look at once, when a value does not open, explains this
    assert sealer.unseal(after, PURPOSE) == b"after"
    assert replica.unseal(before, PURPOSE) == b"before"  # the previous key still opens
    rotate(tmp_path)
    third = Sealer.from_state_dir(tmp_path)
    assert third.unseal(before, PURPOSE) is None  # two rotations: the first key is gone
    assert third.unseal(after, PURPOSE) == b"after"
    assert len(third.fingerprints) == 2


def test_a_key_file_damaged_while_serving_keeps_the_keys_in_use(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    sealer = Sealer(load_or_create_keys(tmp_path), tmp_path / KEY_FILE, clock=clock)
    sealed = sealer.seal(b"x", PURPOSE)
    (tmp_path / KEY_FILE).write_bytes(b"broken")
    clock.now += 2
    assert sealer.unseal(sealed, PURPOSE) == b"x"
    assert sealer.unseal(sealer.seal(b"y", PURPOSE), PURPOSE) == b"y"
    assert "sealing key not changed" in caplog.text
