"""Proof Key for Code Exchange (RFC 7636). The one PKCE check; every grant that needs it calls
``verify``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

S256 = "S256"
# RFC 7636 §4.1 code_verifier and §4.2 code_challenge: unreserved characters, 43 to 128.
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43,128}$")  # base64url (DESIGN: 43 to 128)


def challenge_is_well_formed(challenge: str) -> bool:
    return bool(_CHALLENGE.match(challenge))


def verifier_is_well_formed(verifier: str) -> bool:
    return bool(_VERIFIER.match(verifier))


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6, compared in constant time."""
    if not verifier_is_well_formed(verifier):
        return False
    return hmac.compare_digest(s256(verifier).encode(), challenge.encode())
