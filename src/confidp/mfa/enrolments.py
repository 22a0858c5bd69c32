"""Where people's second factors live (issue 13 item 4): durable runtime state, kept apart
from the tenant file's policy.

- With the default memory store: a file per person in the state directory
  (``<state>/enrolments/<tenant>/<sha256(subject)>.enc``, confidp.mfa.file_store), written
  atomically (temporary file, fsync, rename, fsync of the directory) under a lock, so a
  restart keeps every enrolment and replicas sharing the state volume share them.
- With Redis (``--store redis://...``): in Redis, in the tenant's namespace like every other
  record (confidp.mfa.store_backed), so replicas share them as they share sessions.

Either way the records are encrypted with the enrolment key (confidp.mfa.cipher).

Every change is a compare-and-set on the record's version (``save`` succeeds only if nobody
saved since the ``load``); ``change`` retries a lost race on fresh data, so two requests
changing one person's factors at once both take effect, or the second sees the first's.

``link``/``linked`` keep small lookups beside the records (a WebAuthn user handle -> its
subject, for passkey sign-in without a username).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from confidp.mfa.factors import Factors

if TYPE_CHECKING:
    from confidp.store.base import Store

ATTEMPTS = 40  # compare-and-set rounds before a change gives up (each one lost to another)
_BACKOFF = 0.002  # seconds, times the round, jittered: racing changes spread out


class EnrolmentConflict(Exception):
    """A change lost its compare-and-set every time (heavy contention on one person)."""


class Enrolments(Protocol):
    async def load(self, tenant_id: str, subject: str) -> Factors:
        """The person's factors (an empty ``Factors`` of version 0 when none were stored).
        Raises ``EnrolmentUnreadable`` when a record exists but cannot be opened."""

    async def save(self, tenant_id: str, factors: Factors) -> bool:
        """Store ``factors`` as version ``factors.version + 1`` only if the stored version is
        still ``factors.version``: of concurrent saves of one version, exactly one wins."""

    async def link(self, tenant_id: str, name: str, subject: str | None) -> None:
        """Remember (or, with None, forget) that ``name`` leads to ``subject``."""

    async def linked(self, tenant_id: str, name: str) -> str | None: ...


async def change(enrolments: Enrolments, tenant_id: str, subject: str,
                 edit: Callable[[Factors], Factors | None]) -> Factors | None:
    """Apply ``edit`` to the person's current factors and save, again on fresh data if another
    change won meanwhile. ``edit`` returns None for "nothing to change" (then so does this);
    else the factors as saved (their new version)."""
    for attempt in range(ATTEMPTS):
        if attempt:
            await asyncio.sleep(random.uniform(0, _BACKOFF * attempt))
        current = await enrolments.load(tenant_id, subject)
        edited = edit(current)
        if edited is None:
            return None
        edited = replace(edited, subject=subject, version=current.version)
        if await enrolments.save(tenant_id, edited):
            return replace(edited, version=current.version + 1)
    raise EnrolmentConflict(f"the factors of {subject!r} changed {ATTEMPTS} times while "
                            "this change was made; try again")


def open_enrolments(store_url: str, store: Store, state_dir: Path) -> Enrolments:
    """Files in ``state_dir`` with the memory store; the shared store with Redis."""
    from confidp.mfa.cipher import EnrolmentCipher, load_or_create_key

    cipher = EnrolmentCipher(load_or_create_key(state_dir))
    if store_url == "memory":
        from confidp.mfa.file_store import FileEnrolments

        return FileEnrolments(state_dir, cipher)
    from confidp.mfa.store_backed import StoreEnrolments

    return StoreEnrolments(store, cipher)
