"""A person's enrolled second factors, as one record: their TOTP secret (RFC 6238), their
WebAuthn credentials (W3C Web Authentication Level 3 §5.1: id, public key, sign count,
transports, user handle), and the hashes of their recovery codes.

``Factors`` is what the enrolment store keeps per tenant and subject (confidp.mfa.enrolments),
read and written whole: every change is ``load`` -> a new ``Factors`` -> ``save`` with the
version that was loaded (compare-and-set), so two changes made at once never lose one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

TOTP = "totp"  # the methods a policy names (confidp.mfa.policy)
WEBAUTHN = "webauthn"
METHODS = (TOTP, WEBAUTHN)
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class TotpFactor:
    """An authenticator app's shared secret (RFC 6238 / RFC 4226 §4: base32, 160 bits)."""

    secret: str  # base32, as the otpauth:// URI carries it
    created_at: float
    last_used_at: float | None = None
    last_step: int = 0  # the time step of the last code accepted: no code of it or before

    def to_json(self) -> dict[str, Any]:
        return {"secret": self.secret, "created_at": self.created_at,
                "last_used_at": self.last_used_at, "last_step": self.last_step}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TotpFactor:
        used = data.get("last_used_at")
        return cls(str(data["secret"]), float(data["created_at"]),
                   float(used) if used is not None else None, int(data.get("last_step", 0)))


@dataclass(frozen=True, slots=True)
class WebAuthnCredential:
    """A registered public key credential (WebAuthn §6.1 / §7.1 step 26: what a relying party
    stores). Byte strings are base64url without padding."""

    credential_id: str
    public_key: str  # COSE_Key
    sign_count: int
    user_handle: str
    name: str  # the person's label for it ("YubiKey", "Phone")
    created_at: float
    transports: tuple[str, ...] = ()
    last_used_at: float | None = None
    discoverable: bool = False  # a passkey (resident key): usable without a username
    backed_up: bool = False  # synced passkey (WebAuthn §6.1 BS flag): amr swk, else hwk
    extra: Mapping[str, Any] = field(default_factory=dict)  # for the ceremonies' own notes

    def to_json(self) -> dict[str, Any]:
        return {"credential_id": self.credential_id, "public_key": self.public_key,
                "sign_count": self.sign_count, "user_handle": self.user_handle,
                "name": self.name, "created_at": self.created_at,
                "transports": list(self.transports), "last_used_at": self.last_used_at,
                "discoverable": self.discoverable, "backed_up": self.backed_up,
                "extra": dict(self.extra)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WebAuthnCredential:
        used = data.get("last_used_at")
        return cls(
            credential_id=str(data["credential_id"]), public_key=str(data["public_key"]),
            sign_count=int(data["sign_count"]), user_handle=str(data["user_handle"]),
            name=str(data["name"]), created_at=float(data["created_at"]),
            transports=tuple(str(t) for t in data.get("transports", ())),
            last_used_at=float(used) if used is not None else None,
            discoverable=bool(data.get("discoverable", False)),
            backed_up=bool(data.get("backed_up", False)),
            extra=dict(data.get("extra", {})))


@dataclass(frozen=True, slots=True)
class RecoveryCodes:
    """The digests of the unused recovery codes (confidp.mfa.recovery): the codes themselves
    are shown once and kept nowhere."""

    digests: tuple[str, ...]
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {"digests": list(self.digests), "created_at": self.created_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecoveryCodes:
        return cls(tuple(str(d) for d in data["digests"]), float(data["created_at"]))


@dataclass(frozen=True, slots=True)
class Factors:
    """Everything one person of one tenant enrolled. ``version`` is the store's: 0 for a
    person with no record yet, then one more at each save."""

    subject: str
    version: int = 0
    totp: TotpFactor | None = None
    webauthn: tuple[WebAuthnCredential, ...] = ()
    user_handle: str | None = None  # WebAuthn user.id for this person (random, no PII)
    recovery: RecoveryCodes | None = None

    @property
    def methods(self) -> frozenset[str]:
        """The methods this person can sign in with (recovery codes are not one)."""
        return frozenset(([TOTP] if self.totp else []) + ([WEBAUTHN] if self.webauthn else []))

    @property
    def empty(self) -> bool:
        return self.totp is None and not self.webauthn and self.recovery is None

    def cleared(self) -> Factors:
        """No factor at all (an operator's reset), the version kept for the next save."""
        return Factors(self.subject, self.version)

    def with_totp(self, totp: TotpFactor | None) -> Factors:
        return replace(self, totp=totp)

    def credential(self, credential_id: str) -> WebAuthnCredential | None:
        return next((c for c in self.webauthn if c.credential_id == credential_id), None)

    def to_json(self) -> dict[str, Any]:
        return {"format": _FORMAT, "subject": self.subject,
                "totp": self.totp.to_json() if self.totp else None,
                "webauthn": [c.to_json() for c in self.webauthn],
                "user_handle": self.user_handle,
                "recovery": self.recovery.to_json() if self.recovery else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], version: int) -> Factors:
        if data.get("format") != _FORMAT:
            raise ValueError(f"unknown enrolment record format {data.get('format')!r}")
        totp, recovery = data.get("totp"), data.get("recovery")
        handle = data.get("user_handle")
        return cls(
            subject=str(data["subject"]), version=version,
            totp=TotpFactor.from_json(totp) if totp else None,
            webauthn=tuple(WebAuthnCredential.from_json(c) for c in data.get("webauthn", ())),
            user_handle=str(handle) if handle is not None else None,
            recovery=RecoveryCodes.from_json(recovery) if recovery else None)
