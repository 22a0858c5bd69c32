"""Proof Key for Code Exchange (RFC 7636). The one PKCE check at the token endpoint,
``check_verifier``; every grant that needs it calls it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from confidp.model import Application
from confidp.oauth.tokens import InvalidGrant

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


def check_verifier(challenge: str | None, verifier: str | None,
                   application: Application) -> None:
    """RFC 7636 §4.5, §4.6 and RFC 9700 §2.1.1. A code issued with a challenge needs the
    matching verifier. A code issued without one (an application with ``require_pkce: false``)
    refuses a verifier: "authorization servers MUST ... ensure that if there is no
    code_challenge in the authorization request, any request to the token endpoint containing
    a code_verifier is rejected" (RFC 9700 §2.1.1, the PKCE downgrade attack). And if the
    application requires PKCE by now (a reload), a code issued without it is refused."""
    if challenge is None:
        if verifier is not None:
            raise InvalidGrant("code_verifier was sent, but the authorization request had no "
                               "code_challenge (RFC 9700 §2.1.1).")
        if application.require_pkce:
            raise InvalidGrant("The application requires PKCE, and this code was issued "
                               "without it.")
        return
    if verifier is None or not verify(verifier, challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge.")
