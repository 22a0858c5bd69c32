"""Enrolments are encrypted at rest: AES-256-GCM (NIST SP 800-38D, ``cryptography``'s
AESGCM) under the enrolment key, ``<state>/enrolment.key`` (32 random bytes, mode 0600),
kept beside the signing and sealing keys and shared by replicas the same way. A fresh 96-bit
nonce per write; the tenant and subject are the associated data, so a record copied to
another person's file, or another tenant's, does not open.

The key is made once (``confidp state init``, or the first ``serve``). If it is lost, the
enrolments it sealed cannot be read: sign-in then fails closed for the people who have one
("cannot be read" errors), never passes without the factor. For that reason a server refuses
to make a new key while enrolments exist (``EnrolmentKeyError``): restore the key from the
backup instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from confidp.files import create_once

KEY_FILE = "enrolment.key"
ENROLMENTS_DIR = "enrolments"  # the file-backed enrolments (confidp.mfa.file_store)
_KEY_BYTES = 32
_NONCE_BYTES = 12
_MAGIC = b"CFE1"  # format 1: magic, nonce, AES-GCM ciphertext and tag


class EnrolmentKeyError(Exception):
    """The enrolment key is not usable (a bad file, or missing while enrolments exist)."""


class EnrolmentUnreadable(Exception):
    """A stored enrolment does not open with the key (another key, or damaged): the person's
    factors are unknown, so their sign-in must fail, not pass without a factor."""


def _has_enrolments(state_dir: Path) -> bool:
    root = state_dir / ENROLMENTS_DIR
    return root.is_dir() and any(path.suffix == ".enc" for path in root.rglob("*.enc"))


def load_or_create_key(state_dir: Path, *, create: bool = True) -> bytes:
    """The enrolment key, made when there is none yet and no enrolment was stored."""
    path = state_dir / KEY_FILE
    if not path.exists():
        if not create:
            raise EnrolmentKeyError(f"{path} does not exist")
        if _has_enrolments(state_dir):
            raise EnrolmentKeyError(
                f"{path} is missing but {state_dir / ENROLMENTS_DIR} holds enrolments sealed "
                "with it: restore the key from your backup (a new key could not open them)")
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        create_once(path, os.urandom(_KEY_BYTES))  # another process may be first: its key
    data = path.read_bytes()
    if len(data) != _KEY_BYTES:
        raise EnrolmentKeyError(f"{path} is not an enrolment key file ({len(data)} bytes, "
                                f"not {_KEY_BYTES})")
    return data


def _associated(tenant_id: str, subject: str) -> bytes:
    tenant, person = tenant_id.encode(), subject.encode()
    return b"confidp enrolment\0" + len(tenant).to_bytes(4, "big") + tenant + person


class EnrolmentCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError(f"an enrolment key is {_KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    @classmethod
    def ephemeral(cls) -> EnrolmentCipher:
        """A key of this process only (tests)."""
        return cls(AESGCM.generate_key(bit_length=256))

    def seal(self, tenant_id: str, subject: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _MAGIC + nonce + self._aead.encrypt(nonce, plaintext,
                                                   _associated(tenant_id, subject))

    def open(self, tenant_id: str, subject: str, sealed: bytes) -> bytes:
        if not sealed.startswith(_MAGIC) or len(sealed) < len(_MAGIC) + _NONCE_BYTES + 16:
            raise EnrolmentUnreadable("not an enrolment record")
        nonce = sealed[len(_MAGIC):len(_MAGIC) + _NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[len(_MAGIC) + _NONCE_BYTES:],
                                      _associated(tenant_id, subject))
        except InvalidTag:
            raise EnrolmentUnreadable("the enrolment record does not open with the "
                                      "enrolment key (another key, or damaged)") from None
