"""Why a WebAuthn response was refused. Raised fresh each time; the sign-in steps and the
account page turn ``reason`` into the message a person reads, and log ``detail``."""

from __future__ import annotations

from enum import Enum


class Reason(Enum):
    MALFORMED = "malformed"  # not a credential a browser made
    CHALLENGE = "challenge"  # not this sign-in's challenge, expired, or used already
    UNKNOWN_CREDENTIAL = "unknown_credential"  # not registered in this tenant (for this person)
    USER_VERIFICATION = "user_verification"  # the policy requires UV and there was none
    SIGN_COUNT = "sign_count"  # the counter did not increase: a cloned authenticator?
    INVALID = "invalid"  # a check of WebAuthn L2 §7.1/§7.2 failed (signature, origin, RP ID)
    UNAVAILABLE = "unavailable"  # this tenant cannot use WebAuthn (its issuer is an IP address)


class PasskeyRefused(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
