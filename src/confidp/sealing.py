"""Sealed values: data the server hands to a browser and must get back unchanged and unread.

A sign-in request waiting for a login travels in the login page's URL sealed, instead of
being written to the store at /authorize (as Ory Hydra 2 does with its login challenges): an
anonymous request to /authorize then costs no store write, with Redis no network round trip,
and a flood of them fills no memory. Sealing is AES-256-GCM-SIV (RFC 8452) from
``cryptography``: authenticated, and misuse-resistant for the random 96-bit nonces used
here, so one long-lived key stays safe far beyond AES-GCM's 2^32-message limit.

The key is 32 random bytes in ``<state>/sealing.key`` (mode 0600), shared like the signing
keys by every worker and replica through the state directory. It is created once, by linking
a complete temporary file into place, so processes starting together end with the same key.

``confidp sealing-key rotate`` puts a new key first in the file and keeps the one before it
after it, for unsealing only: sign-ins begun before the rotation still finish. Servers read
the file again when it changed, checking at most once a second, and at once when a value does
not open with the keys they have (so a replica that rotated first is never ahead of the
others). A second rotation drops the oldest key. Deleting the file (and restarting) ends the
sign-ins in progress, nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from confidp.files import create_once, replace

log = logging.getLogger("confidp.sealing")
KEY_FILE = "sealing.key"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_KEPT = 2  # the key that seals, and the one before it (opens only)
_RECHECK_SECONDS = 1.0


class SealingKeyError(Exception):
    """The key file exists but is not a key file confidp wrote."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(key: bytes) -> str:
    """A name for a key that gives nothing of it away, to compare replicas' keys."""
    return hashlib.sha256(b"confidp sealing key " + key).hexdigest()[:16]


def _parse(data: bytes, path: Path) -> list[bytes]:
    if not data or len(data) % _KEY_BYTES or len(data) > _KEPT * _KEY_BYTES:
        raise SealingKeyError(f"{path} is not a sealing key file ({len(data)} bytes, not 1 or "
                              f"{_KEPT} keys of {_KEY_BYTES}); remove it and confidp makes a "
                              "new one (sign-ins in progress then start over)")
    return [data[i:i + _KEY_BYTES] for i in range(0, len(data), _KEY_BYTES)]


def load_or_create_keys(state_dir: Path) -> list[bytes]:
    """The keys, the one that seals first; made when there is no key file yet."""
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_once(path, os.urandom(_KEY_BYTES))  # another process may be first: its key
    return _parse(path.read_bytes(), path)


def rotate(state_dir: Path) -> list[bytes]:
    """A new key that seals from now on; the one that sealed until now is kept to open what
    it sealed, older ones are dropped. Returns the keys, the new one first."""
    keys = [os.urandom(_KEY_BYTES), load_or_create_keys(state_dir)[0]]
    replace(state_dir / KEY_FILE, b"".join(keys))
    return keys


class Sealer:
    def __init__(self, keys: Sequence[bytes], path: Path | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``keys`` as ``load_or_create_keys`` gives them; with ``path``, the file they came
        from is followed for rotations."""
        self._path = path
        self._clock = clock
        self._checked_at = clock()
        # unknown: the file may have changed since ``keys`` were read from it, so the first
        # look reads it again (and finds the same keys, as a rule)
        self._version: tuple[int, int, int] | None = None
        self._use(keys)

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> Sealer:
        return cls(load_or_create_keys(state_dir), state_dir / KEY_FILE)

    def _use(self, keys: Sequence[bytes]) -> None:
        self._sealing = AESGCMSIV(keys[0])
        self._opening = [AESGCMSIV(key) for key in keys]
        self.fingerprints = [fingerprint(key) for key in keys]

    def _file_version(self) -> tuple[int, int, int] | None:
        if self._path is None:
            return None
        try:
            info = os.stat(self._path)
        except OSError:
            return None
        return info.st_ino, info.st_mtime_ns, info.st_size

    def _follow(self, at_once: bool = False) -> bool:
        """Reads the key file again if it changed since (looking at most once a second
        unless ``at_once``); True when the keys changed. A damaged file is reported and the
        keys in use are kept."""
        now = self._clock()
        if self._path is None or (not at_once and now - self._checked_at < _RECHECK_SECONDS):
            return False
        self._checked_at = now
        version = self._file_version()
        if version is None or version == self._version:
            return False
        self._version = version
        try:
            keys = _parse(self._path.read_bytes(), self._path)
        except (OSError, SealingKeyError) as exc:
            log.error("sealing key not changed: %s", exc)
            return False
        if [fingerprint(key) for key in keys] == self.fingerprints:
            return False
        self._use(keys)
        log.info("sealing key changed: sealing with %s", self.fingerprints[0])
        return True

    def seal(self, data: bytes, purpose: bytes) -> str:
        """URL-safe text carrying ``data``; ``purpose`` (authenticated, not included) keeps a
        value sealed for one use from being accepted for another."""
        self._follow()
        nonce = os.urandom(_NONCE_BYTES)
        return _b64encode(nonce + self._sealing.encrypt(nonce, data, purpose))

    def unseal(self, text: str, purpose: bytes) -> bytes | None:
        """The data, or None for anything these keys did not seal for ``purpose``."""
        try:
            raw = _b64decode(text)
        except (binascii.Error, ValueError):
            return None
        if len(raw) <= _NONCE_BYTES or _b64encode(raw) != text:  # one spelling per value
            return None
        self._follow()
        data = self._open(raw, purpose)
        if data is None and self._follow(at_once=True):  # sealed with a key new to us?
            data = self._open(raw, purpose)
        return data

    def _open(self, raw: bytes, purpose: bytes) -> bytes | None:
        for aead in self._opening:
            try:
                return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose)
            except InvalidTag:
                continue
        return None
