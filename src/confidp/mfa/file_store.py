"""Enrolments as files in the state directory (the default, with the memory store):

    <state>/enrolments/<tenant>/<sha256(subject)>.enc        one person's factors
    <state>/enrolments/<tenant>/links/<sha256(name)>.enc     a lookup (user handle -> subject)
    <state>/enrolments/<tenant>/.lock                        serialises writers

Each file is ``confidp.mfa.cipher``-sealed JSON. A write is a complete temporary file,
fsync'd, renamed over the old one, then the directory fsync'd: a crash leaves the old record
or the new one, never a part. Writers take an exclusive ``flock`` on the tenant's lock file
(threads of this process and other processes sharing the volume alike), read the stored
version, and write only if it is still the one the change was based on (compare-and-set).
Readers take no lock: a rename is atomic. File work runs in a thread, off the event loop.

Backup: copy ``enrolment.key`` and the ``enrolments/`` directory together (the records are
useless without the key, and the key without the records restores nothing).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
from pathlib import Path

from confidp.files import replace as replace_file
from confidp.mfa.cipher import ENROLMENTS_DIR, EnrolmentCipher, EnrolmentUnreadable
from confidp.mfa.factors import Factors

_LINKS = "links"
_LINK_SUBJECT = "\0link\0"  # the associated data's subject part for a link named <name>


def _name(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest() + ".enc"


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class FileEnrolments:
    def __init__(self, state_dir: Path, cipher: EnrolmentCipher) -> None:
        self._root = state_dir / ENROLMENTS_DIR
        self._cipher = cipher

    def _tenant_dir(self, tenant_id: str) -> Path:
        return self._root / tenant_id

    def _read(self, tenant_id: str, subject: str) -> Factors:
        path = self._tenant_dir(tenant_id) / _name(subject)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError:
            return Factors(subject)
        try:
            data = json.loads(self._cipher.open(tenant_id, subject, sealed))
            return Factors.from_json(data["factors"], int(data["version"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise EnrolmentUnreadable(f"the enrolment record {path} is not valid: "
                                      f"{exc}") from None

    def _locked_dir(self, tenant_id: str) -> tuple[Path, int]:
        directory = self._tenant_dir(tenant_id)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return directory, descriptor

    def _save(self, tenant_id: str, factors: Factors) -> bool:
        directory, lock = self._locked_dir(tenant_id)
        try:
            if self._read(tenant_id, factors.subject).version != factors.version:
                return False
            record = {"version": factors.version + 1, "factors": factors.to_json()}
            sealed = self._cipher.seal(tenant_id, factors.subject,
                                       json.dumps(record, separators=(",", ":")).encode())
            replace_file(directory / _name(factors.subject), sealed)
            _fsync_dir(directory)
            return True
        finally:
            os.close(lock)  # and with it the lock

    def _link(self, tenant_id: str, name: str, subject: str | None) -> None:
        directory, lock = self._locked_dir(tenant_id)
        try:
            links = directory / _LINKS
            links.mkdir(mode=0o700, exist_ok=True)
            path = links / _name(name)
            if subject is None:
                path.unlink(missing_ok=True)
            else:
                replace_file(path, self._cipher.seal(tenant_id, _LINK_SUBJECT + name,
                                                     subject.encode()))
            _fsync_dir(links)
        finally:
            os.close(lock)

    def _linked(self, tenant_id: str, name: str) -> str | None:
        try:
            sealed = (self._tenant_dir(tenant_id) / _LINKS / _name(name)).read_bytes()
        except FileNotFoundError:
            return None
        return self._cipher.open(tenant_id, _LINK_SUBJECT + name, sealed).decode()

    async def load(self, tenant_id: str, subject: str) -> Factors:
        return await asyncio.to_thread(self._read, tenant_id, subject)

    async def save(self, tenant_id: str, factors: Factors) -> bool:
        return await asyncio.to_thread(self._save, tenant_id, factors)

    async def link(self, tenant_id: str, name: str, subject: str | None) -> None:
        await asyncio.to_thread(self._link, tenant_id, name, subject)

    async def linked(self, tenant_id: str, name: str) -> str | None:
        return await asyncio.to_thread(self._linked, tenant_id, name)
