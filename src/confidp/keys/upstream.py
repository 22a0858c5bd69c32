"""ID tokens of upstream OpenID Connect providers (OpenID Connect Core §3.1.3.7): the
signature against the provider's published keys (JWKS), then iss, aud/azp, exp, iat, nonce
and at_hash. Asymmetric algorithms only: ``none`` and the HMAC family (keyed with the client
secret) are refused.

Part of ``confidp.keys``, the one package that imports the JOSE library."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Collection, Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

# RFC 7518 §3.1 and RFC 8037: what a provider may sign ID tokens with, for confidp
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA")
CLOCK_SKEW = 60  # seconds of difference between the provider's clock and ours tolerated
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


class UpstreamTokenError(Exception):
    """An upstream ID token that must not be used; ``reason`` says which check failed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def token_header(token: str) -> Mapping[str, Any]:
    """The protected header, unverified: to choose the key (``kid``) before verifying."""
    try:
        return dict(extract_compact(token.encode("ascii")).protected)
    except (JoseError, ValueError, TypeError, UnicodeError) as exc:
        raise UpstreamTokenError("invalid_id_token", f"the ID token is malformed ({exc})") \
            from None


def key_ids(jwks: Mapping[str, Any]) -> frozenset[str]:
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return frozenset()
    return frozenset(str(key["kid"]) for key in keys if isinstance(key, dict) and "kid" in key)


def verify_signature(token: str, jwks: Mapping[str, Any],
                     algorithms: Collection[str]) -> dict[str, Any]:
    """The claims of ``token`` if one of ``jwks``' keys signed it with one of
    ``algorithms`` (asymmetric ones only, whatever is asked)."""
    allowed = [alg for alg in algorithms if alg in ASYMMETRIC]
    if not allowed:
        raise UpstreamTokenError("invalid_id_token", "the provider offers no asymmetric ID "
                                 "token algorithm confidp accepts")
    header = token_header(token)
    if header.get("alg") not in allowed:
        raise UpstreamTokenError("invalid_id_token", f"the ID token is signed with "
                                 f"{header.get('alg')!r}, not one of {', '.join(allowed)}")
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # a JWKS as read
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise UpstreamTokenError("invalid_jwks", f"the provider's JWKS is unusable ({exc})") \
            from None
    try:
        decoded = jwt.decode(token, key_set, algorithms=allowed)
    except (JoseError, ValueError, TypeError) as exc:
        raise UpstreamTokenError("invalid_signature", f"the ID token's signature does not "
                                 f"verify ({type(exc).__name__})") from None
    return dict(decoded.claims)


def check_claims(claims: Mapping[str, Any], *, issuer: str, client_id: str, nonce: str,
                 now: float, access_token: str | None, alg: str) -> None:
    """OpenID Connect Core §3.1.3.7, steps 2-3, 9-11, and §3.1.3.8 (at_hash)."""
    if claims.get("iss") != issuer:
        raise UpstreamTokenError("wrong_issuer", f"the ID token's iss is "
                                 f"{str(claims.get('iss'))[:200]!r}, not {issuer!r}")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise UpstreamTokenError("wrong_audience", "the ID token is not for confidp's client "
                                 "id (aud)")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise UpstreamTokenError("wrong_audience", "the ID token has several audiences and "
                                 "its azp is not confidp's client id")
    expires = claims.get("exp")
    if not isinstance(expires, (int, float)) or isinstance(expires, bool):
        raise UpstreamTokenError("invalid_id_token", "the ID token has no exp")
    if now >= expires + CLOCK_SKEW:
        raise UpstreamTokenError("expired", "the ID token has expired")
    issued = claims.get("iat")
    if not isinstance(issued, (int, float)) or isinstance(issued, bool):
        raise UpstreamTokenError("invalid_id_token", "the ID token has no iat")
    if issued > now + CLOCK_SKEW:
        raise UpstreamTokenError("invalid_id_token", "the ID token was issued in the future")
    given = claims.get("nonce")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), nonce.encode()):
        raise UpstreamTokenError("wrong_nonce", "the ID token's nonce is not the one sent")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise UpstreamTokenError("invalid_id_token", "the ID token has no sub")
    if "at_hash" in claims and access_token is not None:
        expected = at_hash(access_token, alg)
        if expected is None or not hmac.compare_digest(str(claims["at_hash"]).encode(),
                                                       expected.encode()):
            raise UpstreamTokenError("wrong_at_hash", "the ID token's at_hash does not match "
                                     "the access token")


def at_hash(access_token: str, alg: str) -> str | None:
    """OpenID Connect Core §3.1.3.6: the left half of the hash of the access token's ASCII
    octets, with the hash of the ID token's alg, base64url without padding."""
    # EdDSA: Ed25519's hash, SHA-512 (OpenID Connect Core errata set 2)
    digest = hashlib.sha512 if alg == "EdDSA" else _HASHES.get(alg[-3:])
    if digest is None:
        return None
    hashed = digest(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(hashed[: len(hashed) // 2]).rstrip(b"=").decode()
