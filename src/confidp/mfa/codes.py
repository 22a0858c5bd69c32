"""Checking a typed second-factor code (a TOTP code or a recovery code) against a person's
enrolment, with every rule that makes a code single use: the pure checks of
confidp.mfa.totp / confidp.mfa.recovery, the store's atomic ``claim`` of the TOTP time step,
and a compare-and-set on the enrolment (the step recorded as the last one used, or the
recovery code's digest taken out)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import Enum

from confidp.mfa import recovery, totp
from confidp.mfa.enrolments import Enrolments, change
from confidp.mfa.factors import Factors, RecoveryCodes, TotpFactor
from confidp.server_key import ServerKey
from confidp.store.kinds import TOTP_USED
from confidp.store.tenant import TenantStore

USED_MARKER_LIFETIME = (2 * totp.SKEW_STEPS + 2) * totp.STEP_SECONDS  # outlives its window
MAX_CODE_LENGTH = 64


class Used(Enum):
    TOTP = "totp"
    RECOVERY = "recovery"


@dataclass(frozen=True, slots=True)
class Checked:
    used: Used
    factors: Factors  # as saved after the use
    left: int = 0  # recovery codes left


def used_key(subject: str, secret: str, step: int) -> str:
    """The marker of one step of one secret (a new secret's codes are not the old one's)."""
    return f"{subject}\x1f{hashlib.sha256(secret.encode()).hexdigest()[:32]}\x1f{step}"


async def claim_step(store: TenantStore, subject: str, secret: str, step: int) -> bool:
    """Mark the time step used; False when a code of it was used already."""
    return await store.claim(TOTP_USED, used_key(subject, secret, step), {},
                             USED_MARKER_LIFETIME)


async def check_totp(store: TenantStore, enrolments: Enrolments, tenant_id: str,
                     secret: str, subject: str, code: str, now: float) -> Factors | None:
    """``code`` is the current code of the person's enrolled ``secret``, used for the first
    time: the enrolment as saved with the step recorded; else None."""
    step = totp.matching_step(secret, totp.normalized(code), now)
    if step is None or not await claim_step(store, subject, secret, step):
        return None

    def record(factors: Factors) -> Factors | None:
        current = factors.totp
        if current is None or current.secret != secret or step <= current.last_step:
            return None  # removed meanwhile, replaced, or a later code already used
        return factors.with_totp(replace(current, last_step=step, last_used_at=now))
    return await change(enrolments, tenant_id, subject, record)


async def check_recovery(key: ServerKey, enrolments: Enrolments, tenant_id: str,
                         subject: str, code: str) -> Factors | None:
    """``code`` is one of the person's unused recovery codes: taken out (atomically)."""
    def take(factors: Factors) -> Factors | None:
        codes = factors.recovery
        if codes is None:
            return None
        found = recovery.matching_digest(key, tenant_id, subject, code, codes.digests)
        if found is None:
            return None
        return replace(factors, recovery=replace(
            codes, digests=tuple(d for d in codes.digests if d != found)))
    return await change(enrolments, tenant_id, subject, take)


async def check_code(store: TenantStore, enrolments: Enrolments, key: ServerKey,
                     factors: Factors, tenant_id: str, code: str, now: float,
                     *, totp_allowed: bool) -> Checked | None:
    """A typed code: six digits are a TOTP code, anything else a recovery code."""
    code = code.strip()[:MAX_CODE_LENGTH]
    if totp.normalized(code).isdigit():
        if factors.totp is None or not totp_allowed:
            return None
        saved = await check_totp(store, enrolments, tenant_id, factors.totp.secret,
                                 factors.subject, code, now)
        return Checked(Used.TOTP, saved) if saved is not None else None
    saved = await check_recovery(key, enrolments, tenant_id, factors.subject, code)
    if saved is None:
        return None
    left = len(saved.recovery.digests) if saved.recovery else 0
    return Checked(Used.RECOVERY, saved, left)


def new_recovery_codes(key: ServerKey, tenant_id: str, subject: str,
                       now: float) -> tuple[tuple[str, ...], RecoveryCodes]:
    """Fresh codes (to show once) and what is kept of them."""
    codes = recovery.new_codes()
    return codes, RecoveryCodes(tuple(recovery.code_digest(key, tenant_id, subject, code)
                                      for code in codes), now)


def enrolled_totp(secret: str, step: int, now: float) -> TotpFactor:
    """The TOTP factor once its first code (of ``step``) was checked."""
    return TotpFactor(secret, created_at=now, last_used_at=now, last_step=step)
