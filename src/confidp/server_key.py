"""The server key: values that must be the same when computed again, and unpredictable to
anyone without the key, are HMAC-SHA256 (RFC 2104, Python's ``hmac``) under a key derived for
their one purpose with HKDF-SHA256 (RFC 5869, from ``cryptography``) from one random key.

Its uses: the successor of a refresh token (confidp.oauth.grants.refresh_token), derived from
the token presented so that a retry gets the same one back, and the CSRF token of the sign-out
confirmation page (confidp.web.logout), bound to the browser's session, and the
authentication of the tenant cache file (confidp.tenant_cache).

The key is 32 random bytes in ``<state>/server.key`` (mode 0600), beside ``sealing.key`` and
shared by every worker and replica the same way, through the state directory: it is created
once, by linking a complete temporary file into place, so processes starting together end with
the same key. Deleting it (and restarting) loses little: a refresh retried across the change
is refused without revoking anything, and an open sign-out page must be opened again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from confidp.files import create_once

KEY_FILE = "server.key"
_KEY_BYTES = 32


class ServerKeyError(Exception):
    """The key file exists but is not a key file confidp wrote."""


def load_or_create(state_dir: Path) -> bytes:
    """The key; made when there is no key file yet."""
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_once(path, os.urandom(_KEY_BYTES))  # another process may be first: its key
    data = path.read_bytes()
    if len(data) != _KEY_BYTES:
        raise ServerKeyError(f"{path} is not a server key file ({len(data)} bytes, not "
                             f"{_KEY_BYTES}); remove it and confidp makes a new one")
    return data


class ServerKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError(f"a server key is {_KEY_BYTES} bytes")
        self._key = key
        self._derived: dict[bytes, bytes] = {}

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> ServerKey:
        return cls(load_or_create(state_dir))

    @classmethod
    def ephemeral(cls) -> ServerKey:
        """A key of this process only (tests, and tools that keep nothing)."""
        return cls(os.urandom(_KEY_BYTES))

    def _purpose_key(self, purpose: bytes) -> bytes:
        derived = self._derived.get(purpose)
        if derived is None:
            derived = HKDF(algorithm=SHA256(), length=32, salt=None,
                           info=b"confidp " + purpose).derive(self._key)
            self._derived[purpose] = derived
        return derived

    def mac_bytes(self, purpose: bytes, *parts: bytes | memoryview) -> bytes:
        """HMAC-SHA256 of ``parts`` under the key derived for ``purpose``, each part after its
        length (4 bytes), so that no other parts spell the same message: the same parts give
        the same 32 bytes; another purpose or other parts, unrelated ones."""
        mac = hmac.new(self._purpose_key(purpose), digestmod=hashlib.sha256)
        for part in parts:
            mac.update(len(part).to_bytes(4, "big"))
            mac.update(part)
        return mac.digest()

    def verify_bytes(self, purpose: bytes, label: bytes, data: bytes | memoryview,
                     mac: bytes) -> bool:
        """Whether ``mac`` is ``mac_bytes(purpose, label, data)``, compared in constant time."""
        return hmac.compare_digest(self.mac_bytes(purpose, label, data), mac)

    def mac(self, purpose: bytes, *parts: str) -> bytes:
        """``mac_bytes`` of text parts (UTF-8)."""
        return self.mac_bytes(purpose, *(part.encode() for part in parts))
