"""Upstream ID tokens (OpenID Connect Core §3.1.3.7) as pure rules: each check refuses the
token it is about, and only asymmetric algorithms are accepted."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from confidp.keys.upstream import (
    UpstreamTokenError,
    at_hash,
    check_claims,
    key_ids,
    verify_signature,
)

KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
JWKS = {"keys": [KEY.as_dict(private=False)]}
NOW = time.time()


def claims(**overrides: Any) -> dict[str, Any]:
    return {"iss": "https://up.example", "aud": "confidp", "sub": "u-1", "nonce": "n",
            "iat": int(NOW), "exp": int(NOW) + 300, **overrides}


def check(given: dict[str, Any], access_token: str | None = None) -> None:
    check_claims(given, issuer="https://up.example", client_id="confidp", nonce="n", now=NOW,
                 access_token=access_token, alg="RS256")


def test_a_good_token_verifies() -> None:
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims(), KEY)
    assert verify_signature(token, JWKS, ["RS256"])["sub"] == "u-1"
    check(claims(at_hash=at_hash("the-access-token", "RS256")), "the-access-token")
    assert key_ids(JWKS) == {"k1"}
    assert len(at_hash("the-access-token", "EdDSA") or "") == 43  # half of SHA-512
    assert at_hash("the-access-token", "HS256") == at_hash("the-access-token", "RS256")


@pytest.mark.parametrize(("given", "reason"), [
    (claims(iss="https://evil.example"), "wrong_issuer"),
    (claims(aud="someone-else"), "wrong_audience"),
    (claims(aud=["confidp", "other"]), "wrong_audience"),  # several audiences, no azp
    (claims(exp=int(NOW) - 61), "expired"),
    (claims(iat=int(NOW) + 120), "invalid_id_token"),
    (claims(nonce="other"), "wrong_nonce"),
    ({k: v for k, v in claims().items() if k != "nonce"}, "wrong_nonce"),
    ({k: v for k, v in claims().items() if k != "exp"}, "invalid_id_token"),
    (claims(sub=""), "invalid_id_token"),
    (claims(at_hash="AAAAAAAAAAAAAAAAAAAAAA"), "wrong_at_hash"),
])
def test_each_claim_check_refuses(given: dict[str, Any], reason: str) -> None:
    with pytest.raises(UpstreamTokenError) as raised:
        check(given, "the-access-token")
    assert raised.value.reason == reason


def test_several_audiences_with_azp_are_accepted_and_skew_is_tolerated() -> None:
    check(claims(aud=["confidp", "other"], azp="confidp", exp=int(NOW) - 30))


def test_another_key_none_and_hmac_are_refused() -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    forged = jwt.encode({"alg": "RS256", "kid": "k1"}, claims(), stranger)
    with pytest.raises(UpstreamTokenError) as raised:
        verify_signature(forged, JWKS, ["RS256"])
    assert raised.value.reason == "invalid_signature"
    secret = OctKey.generate_key(256)
    hmac_token = jwt.encode({"alg": "HS256"}, claims(), secret)
    with pytest.raises(UpstreamTokenError):
        verify_signature(hmac_token, {"keys": [secret.as_dict()]}, ["HS256", "RS256"])
    unsigned = "eyJhbGciOiJub25lIn0." + forged.split(".")[1] + "."
    with pytest.raises(UpstreamTokenError):
        verify_signature(unsigned, JWKS, ["none", "RS256"])
    with pytest.raises(UpstreamTokenError):
        verify_signature("not.a.token", JWKS, ["RS256"])
