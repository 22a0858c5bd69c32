"""WebAuthn challenges (WebAuthn L2 §13.4.3: random, at least 16 bytes, used once), without
storing anything until one is used.

A challenge is a sealed ticket (``confidp.sealing``: AES-GCM-SIV under the sealing key, with a
96-bit random nonce, so it is unpredictable): the ceremony it is for (``create`` or ``get``),
its tenant, what it is bound to (the sign-in's random key, kept through its re-sealings, or the
session's store key on the account page), when it was issued, whether user verification is
required, and for ``create`` whose credential it makes. The browser hands it to the
authenticator, which signs it into the client data; the server reads the ticket back from the
response's own client data, so a response is checked against the exact ticket it was made for:

- sealed by this server for this purpose (else refused);
- for this tenant, this ceremony, and this sign-in or session (another browser's, another
  tenant's, or another sign-in's is refused);
- younger than ``CHALLENGE_LIFETIME`` by the injected clock;
- used once: its digest is claimed in the store (atomic ``claim``) when a response made with it
  is accepted, so a replayed response is refused, and of two racing submissions one wins.

Showing a sign-in page therefore costs no store write (like the sealed sign-in request).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Literal

from confidp.oauth.tokens import digest
from confidp.passkeys.errors import PasskeyRefused, Reason
from confidp.sealing import Sealer
from confidp.store.tenant import TenantStore

Ceremony = Literal["create", "get"]
CREATE: Ceremony = "create"  # navigator.credentials.create: registration (§7.1)
GET: Ceremony = "get"  # navigator.credentials.get: authentication (§7.2)
CHALLENGE_PURPOSE = b"confidp webauthn challenge"
CHALLENGE_LIFETIME = 300.0  # seconds: the ceremony's timeout (§5.4 "timeout") and then some
CEREMONY_TIMEOUT_MS = 240_000  # what the options ask the browser to wait for the person
USED_CHALLENGE = "webauthn_challenge_used"  # store kind: sha256(challenge) -> used once
_VERSION = 1


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Ticket:
    ceremony: Ceremony
    tenant_id: str
    bound_to: str  # the sign-in's used_key, or the session's store key
    issued_at: float
    user_verification: bool  # required
    subject: str = ""  # whose credential a ``create`` makes


def issue(sealer: Sealer, ticket: Ticket) -> bytes:
    """The challenge carrying ``ticket``."""
    data = json.dumps([_VERSION, ticket.ceremony, ticket.tenant_id, ticket.bound_to,
                       ticket.issued_at, ticket.user_verification, ticket.subject],
                      separators=(",", ":"))
    return from_b64url(sealer.seal(data.encode(), CHALLENGE_PURPOSE))


def read(sealer: Sealer, challenge: bytes) -> Ticket | None:
    """The ticket a challenge carries, or None for one this server did not issue."""
    data = sealer.unseal(b64url(challenge), CHALLENGE_PURPOSE)
    if data is None:
        return None
    try:
        version, ceremony, tenant_id, bound_to, issued_at, uv, subject = json.loads(data)
    except (ValueError, TypeError):
        return None
    if version != _VERSION or ceremony not in (CREATE, GET):
        return None
    return Ticket(ceremony, str(tenant_id), str(bound_to), float(issued_at), bool(uv),
                  str(subject))


def check(ticket: Ticket | None, *, ceremony: Ceremony, tenant_id: str, bound_to: str,
          now: float) -> Ticket:
    """``ticket`` if it is for this ceremony, tenant and sign-in (or session), and still
    young; else ``PasskeyRefused`` (CHALLENGE)."""
    if ticket is None:
        raise PasskeyRefused(Reason.CHALLENGE, "the challenge was not issued by this server")
    if ticket.ceremony != ceremony:
        raise PasskeyRefused(Reason.CHALLENGE, f"a {ticket.ceremony} challenge used for "
                                               f"{ceremony}")
    if ticket.tenant_id != tenant_id:
        raise PasskeyRefused(Reason.CHALLENGE, "the challenge was issued for another tenant")
    if ticket.bound_to != bound_to:
        raise PasskeyRefused(Reason.CHALLENGE, "the challenge belongs to another sign-in")
    if not ticket.issued_at <= now < ticket.issued_at + CHALLENGE_LIFETIME:
        raise PasskeyRefused(Reason.CHALLENGE, "the challenge expired")
    return ticket


async def use(store: TenantStore, challenge: bytes) -> None:
    """Marks ``challenge`` used, atomically: ``PasskeyRefused`` (CHALLENGE) for all but the
    first caller."""
    if not await store.claim(USED_CHALLENGE, digest(b64url(challenge)), {"used": True},
                             CHALLENGE_LIFETIME + 60):
        raise PasskeyRefused(Reason.CHALLENGE, "the challenge was used already (a replayed "
                                               "response)")
