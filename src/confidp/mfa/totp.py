"""Time-based one-time passwords (RFC 6238, with pyotp): SHA-1, 6 digits, 30-second steps,
the parameters every authenticator app supports (Google Authenticator ignores others).

A code is accepted for its own step and one step either side (``SKEW_STEPS``: RFC 6238 §5.2
"at most one time step" of network delay, and a phone's clock up to 30 s off), so a code is
good for 60 to 90 seconds. ``matching_step`` answers which step a code belongs to: the caller
marks that step used (the store's atomic ``claim``), so a code is accepted once (RFC 6238
§5.2: "the verifier MUST NOT accept the second attempt of the same OTP"), and any code of an
earlier step than one already used is refused as well (the enrolment's ``last_step``).
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

import pyotp

DIGITS = 6
STEP_SECONDS = 30
SKEW_STEPS = 1
SECRET_BYTES = 20  # RFC 4226 §4: 160 bits, the HMAC-SHA-1 block's recommended key length


def new_secret() -> str:
    """A random secret, base32 (RFC 4648 §6), as the otpauth URI carries it."""
    return pyotp.random_base32(length=32)  # 32 base32 characters = 160 bits


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def step_at(now: float) -> int:
    return int(now // STEP_SECONDS)


def code_at(secret: str, now: float) -> str:
    """The code for ``now`` (tests and the enrolment check use pyotp's own)."""
    return _totp(secret).generate_otp(step_at(now))


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step ``code`` is the code of, among the steps accepted at ``now``; None when
    it is none of them. Every candidate is compared, in constant time."""
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = _totp(secret)
    current = step_at(now)
    found = None
    for step in range(current - SKEW_STEPS, current + SKEW_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
            found = step
    return found


def provisioning_uri(secret: str, issuer_name: str, account: str) -> str:
    """The ``otpauth://totp/`` URI of Google Authenticator's Key Uri Format: the label is
    "issuer:account", and the issuer parameter repeats the issuer."""
    label = quote(f"{issuer_name}:{account}", safe="")
    return (f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer_name, safe='')}"
            f"&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}")


def normalized(code: str) -> str:
    """What a person typed, without the spaces and dashes apps show in codes."""
    return "".join(code.split()).replace("-", "")
