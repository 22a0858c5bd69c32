"""Enrolments in the shared store (with ``--store redis://...``): replicas share them as they
share sessions, in each tenant's namespace (``confidp:<tenant>:enrolment:<sha256(subject)>``
in Redis; the tenant's hash tag with a Redis Cluster).

A record is ``{"version": n, "sealed": <base64url of the confidp.mfa.cipher-sealed
factors>}``. The compare-and-set is the store's own atomic ``claim``: saving version n+1
claims the marker ``<sha256(subject)>:<n+1>`` and, only if this call created it, writes the
record in the same atomic step, so of two saves based on version n exactly one wins. Markers
live an hour (a change takes milliseconds between its load and its save); records are kept
"for ever" (a century: the store interface has no unbounded lifetime).

Backup: the records are Redis keys (``confidp:*:enrolment:*``; include them in Redis
persistence/backups, RDB or AOF) and need ``<state>/enrolment.key`` to be read.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from confidp.mfa.cipher import EnrolmentCipher, EnrolmentUnreadable
from confidp.mfa.factors import Factors
from confidp.store.base import Store
from confidp.store.kinds import ENROLMENT, ENROLMENT_LINK, ENROLMENT_VERSION
from confidp.store.tenant import TenantStore

FOR_EVER = 100 * 365 * 86400.0  # seconds a record is kept
MARKER_LIFETIME = 3600.0
_LINK_SUBJECT = "\0link\0"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StoreEnrolments:
    def __init__(self, store: Store, cipher: EnrolmentCipher) -> None:
        self._store = store
        self._cipher = cipher

    def _tenant(self, tenant_id: str) -> TenantStore:
        return TenantStore(self._store, tenant_id)

    async def load(self, tenant_id: str, subject: str) -> Factors:
        record = await self._tenant(tenant_id).get(ENROLMENT, _digest(subject))
        if record is None:
            return Factors(subject)
        try:
            plain = self._cipher.open(tenant_id, subject, _unb64(str(record["sealed"])))
            return Factors.from_json(json.loads(plain), int(record["version"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise EnrolmentUnreadable(f"the enrolment record of tenant {tenant_id} is not "
                                      f"valid: {exc}") from None

    async def save(self, tenant_id: str, factors: Factors) -> bool:
        key = _digest(factors.subject)
        version = factors.version + 1
        sealed = self._cipher.seal(tenant_id, factors.subject,
                                   json.dumps(factors.to_json(),
                                              separators=(",", ":")).encode())
        record: dict[str, Any] = {"version": version, "sealed": _b64(sealed)}
        return await self._tenant(tenant_id).claim(
            ENROLMENT_VERSION, f"{key}:{version}", {}, MARKER_LIFETIME,
            [(ENROLMENT, key, record, FOR_EVER)])

    async def link(self, tenant_id: str, name: str, subject: str | None) -> None:
        store = self._tenant(tenant_id)
        if subject is None:
            await store.delete(ENROLMENT_LINK, _digest(name))
            return
        sealed = self._cipher.seal(tenant_id, _LINK_SUBJECT + name, subject.encode())
        await store.put(ENROLMENT_LINK, _digest(name), {"sealed": _b64(sealed)}, FOR_EVER)

    async def linked(self, tenant_id: str, name: str) -> str | None:
        record = await self._tenant(tenant_id).get(ENROLMENT_LINK, _digest(name))
        if record is None:
            return None
        return self._cipher.open(tenant_id, _LINK_SUBJECT + name,
                                 _unb64(str(record["sealed"]))).decode()
