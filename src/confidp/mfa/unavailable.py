"""Enrolments when there is no enrolment key and none can be made: a read-only state
directory prepared before second factors existed (a Kubernetes Secret packed without
``enrolment.key``). Without the key nobody can ever have enrolled, so every person has no
factor; enrolling fails with a clear error (``confidp state init`` makes the key: pack it
with the others)."""

from __future__ import annotations

from confidp.mfa.cipher import EnrolmentUnreadable
from confidp.mfa.factors import Factors


class NoEnrolments:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def load(self, tenant_id: str, subject: str) -> Factors:
        return Factors(subject)

    async def save(self, tenant_id: str, factors: Factors) -> bool:
        raise EnrolmentUnreadable(self.reason)

    async def link(self, tenant_id: str, name: str, subject: str | None) -> None:
        raise EnrolmentUnreadable(self.reason)

    async def linked(self, tenant_id: str, name: str) -> str | None:
        return None
