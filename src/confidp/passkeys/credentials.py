"""A passkey or security key a person registered (WebAuthn L2 §7.1 step 26: the credential
record), and the interface the ceremonies need from the enrolment store that keeps them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from confidp.identity.identity import Identity
from confidp.oauth.acr import (
    ACR_2FA,
    AMR_HARDWARE_KEY,
    AMR_SOFTWARE_KEY,
    with_second_factor,
)

MAX_PASSKEYS = 20  # per person: what the account page and the options list at most
MAX_NAME = 64


@dataclass(frozen=True, slots=True)
class PasskeyCredential:
    credential_id: bytes  # the credential's id, as the authenticator made it (§4 "Credential ID")
    subject: str  # whose
    public_key: bytes  # COSE_Key (RFC 9052 §7), as registered
    sign_count: int  # the last signature counter seen (§6.1.1); 0: the authenticator has none
    transports: tuple[str, ...]  # hints for the browser (§5.8.4)
    user_handle: bytes  # the user.id it was registered with (§5.4.3)
    name: str  # the person's name for it ("Laptop", "YubiKey")
    created_at: float
    last_used_at: float | None = None
    backup_eligible: bool = False  # may be synced to other devices (a "multi-device" passkey)

    @property
    def amr(self) -> str:
        """RFC 8176 §2: a credential that may be backed up (a synced passkey: the BE flag,
        WebAuthn L2 §6.1) lives in software the person's account syncs: ``swk``; one bound to
        its device (a security key, a device-bound platform credential): ``hwk``."""
        return AMR_SOFTWARE_KEY if self.backup_eligible else AMR_HARDWARE_KEY

    def used(self, sign_count: int, now: float) -> PasskeyCredential:
        return replace(self, sign_count=sign_count, last_used_at=now)


def with_passkey(identity: Identity, credential: PasskeyCredential) -> Identity:
    """``identity`` after ``credential`` signed a challenge with user verification, or after
    the password: amr gains hwk/swk and ``mfa``, acr is two-factor (confidp.oauth.acr)."""
    return replace(identity, amr=with_second_factor(identity.amr, credential.amr), acr=ACR_2FA)


class PasskeyStore(Protocol):
    """One tenant's registered credentials, per person (the enrolment store keeps them
    durably: confidp.mfa.enrolments)."""

    async def passkeys(self, subject: str) -> list[PasskeyCredential]:
        """The credentials ``subject`` registered, oldest first."""

    async def user_handle(self, subject: str) -> bytes:
        """The person's WebAuthn user handle (§5.4.3 ``user.id``: random, no personal data),
        made on first use; the same for all of their credentials."""

    async def subject_of(self, user_handle: bytes) -> str | None:
        """Whose user handle this is, in this tenant (a passwordless sign-in names only it)."""

    async def add_passkey(self, credential: PasskeyCredential) -> bool:
        """Registers ``credential``: False when its id is registered already in this tenant
        (WebAuthn L2 §7.1 step 22), or the person has ``MAX_PASSKEYS``."""

    async def passkey_used(self, credential: PasskeyCredential, sign_count: int,
                           now: float) -> bool:
        """Records a use: the new counter and time, only while the stored counter is still
        ``credential.sign_count`` (compare and set). False when another use came first or
        the credential was removed meanwhile."""
