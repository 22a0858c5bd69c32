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
Deleting it (and restarting) ends the sign-ins in progress, nothing else.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from confidp.files import create_once

KEY_FILE = "sealing.key"
_KEY_BYTES = 32
_NONCE_BYTES = 12


class SealingKeyError(Exception):
    """The key file exists but is not a key confidp wrote."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_key(state_dir: Path) -> bytes:
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_once(path, os.urandom(_KEY_BYTES))  # another process may be first: its key
    key = path.read_bytes()
    if len(key) != _KEY_BYTES:
        raise SealingKeyError(f"{path} is not a {_KEY_BYTES}-byte key; remove it and confidp "
                              "makes a new one (sign-ins in progress then start over)")
    return key


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCMSIV(key)

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> Sealer:
        return cls(load_or_create_key(state_dir))

    def seal(self, data: bytes, purpose: bytes) -> str:
        """URL-safe text carrying ``data``; ``purpose`` (authenticated, not included) keeps a
        value sealed for one use from being accepted for another."""
        nonce = os.urandom(_NONCE_BYTES)
        return _b64encode(nonce + self._aead.encrypt(nonce, data, purpose))

    def unseal(self, text: str, purpose: bytes) -> bytes | None:
        """The data, or None for anything this key did not seal for ``purpose``."""
        try:
            raw = _b64decode(text)
        except (binascii.Error, ValueError):
            return None
        if len(raw) <= _NONCE_BYTES or _b64encode(raw) != text:  # one spelling per value
            return None
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose)
        except InvalidTag:
            return None
