"""Recovery codes: ten single-use codes shown once when a person enrols their first factor
(and again whenever they make new ones), for when the authenticator is lost.

A code is 10 characters of the RFC 4648 base32 alphabet shown as ``xxxxx-xxxxx`` (50 random
bits). Only a digest is kept: HMAC-SHA-256 under a key derived from the server key for this
purpose, over the tenant, the subject and the code. Why not argon2: the codes are random with
50 bits of entropy, so a slow hash adds nothing against guessing the code itself, while a
keyed MAC makes a copy of the enrolments useless without the server key (beside which it is
checked in microseconds, ten times per attempt, without a thread pool). Guessing online is
limited by the login throttle (5 failures per window by default).

Using a code takes its digest out of the enrolment with a compare-and-set
(confidp.mfa.enrolments.change): of two uses of one code at once, exactly one passes.
"""

from __future__ import annotations

import hmac
import secrets

from confidp.server_key import ServerKey

COUNT = 10
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_LENGTH = 10
PURPOSE = b"recovery code"


def new_codes() -> tuple[str, ...]:
    codes = ("".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH)) for _ in range(COUNT))
    return tuple(f"{code[:5]}-{code[5:]}" for code in codes)


def canonical(text: str) -> str | None:
    """A typed code without spaces, dashes or case; None when it cannot be one."""
    code = "".join(text.split()).replace("-", "").lower()
    if len(code) != _LENGTH or any(char not in _ALPHABET for char in code):
        return None
    return code


def code_digest(key: ServerKey, tenant_id: str, subject: str, code: str) -> str:
    canon = canonical(code)
    if canon is None:
        raise ValueError("not a recovery code")
    return key.mac(PURPOSE, tenant_id, subject, canon).hex()


def matching_digest(key: ServerKey, tenant_id: str, subject: str, text: str,
                    digests: tuple[str, ...]) -> str | None:
    """The stored digest ``text`` is the code of, compared in constant time; else None."""
    if canonical(text) is None:
        return None
    wanted = code_digest(key, tenant_id, subject, text).encode()
    found = None
    for stored in digests:
        if hmac.compare_digest(stored.encode(), wanted):
            found = stored
    return found
