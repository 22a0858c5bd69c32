"""The pure code rules: TOTP steps and skew at the step boundaries (pyotp computes the codes),
the otpauth URI, recovery codes' shape and digests, the acr rules."""

from __future__ import annotations

import pyotp

from confidp.mfa import recovery, totp
from confidp.oauth.acr import (
    ACR_1FA,
    ACR_2FA,
    acr_of,
    demands_second_factor,
    known_acr_values,
    with_second_factor,
)
from confidp.server_key import ServerKey

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_a_code_is_good_for_its_step_and_one_either_side() -> None:
    start = 1_700_000_010.0  # 10 s into a step
    code = pyotp.TOTP(SECRET).at(start)
    step = totp.step_at(start)
    assert totp.matching_step(SECRET, code, start) == step
    assert totp.matching_step(SECRET, code, start - 30) == step  # the phone is ahead
    assert totp.matching_step(SECRET, code, start + 30) == step  # the phone is behind
    boundary = (step + 2) * 30  # the first instant of the step after the next
    assert totp.matching_step(SECRET, code, boundary - 0.001) == step
    assert totp.matching_step(SECRET, code, boundary) is None
    assert totp.matching_step(SECRET, code, (step - 1) * 30 - 0.001) is None


def test_codes_that_are_not_six_ascii_digits_never_match() -> None:
    now = 1_700_000_010.0
    code = pyotp.TOTP(SECRET).at(now)
    for bad in ("", code[:5], code + "0", "١٢٣٤٥٦", " " + code[1:], "abcdef"):
        assert totp.matching_step(SECRET, bad, now) is None
    assert totp.normalized(f"{code[:3]} {code[3:]}") == code
    assert totp.matching_step(SECRET, totp.normalized(f"{code[:3]}-{code[3:]}"), now) == \
        totp.step_at(now)


def test_secrets_and_the_otpauth_uri() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and secret != totp.new_secret()  # 160 random bits
    uri = totp.provisioning_uri(secret, "Acme & Co", "alice@example.com")
    assert uri == (f"otpauth://totp/Acme%20%26%20Co%3Aalice%40example.com?secret={secret}"
                   "&issuer=Acme%20%26%20Co&algorithm=SHA1&digits=6&period=30")
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == secret and parsed.issuer == "Acme & Co"


def test_recovery_codes() -> None:
    codes = recovery.new_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(c) == 11 and c[5] == "-" for c in codes)
    key = ServerKey.ephemeral()
    digests = tuple(recovery.code_digest(key, "acme", "alice", c) for c in codes)
    assert recovery.matching_digest(key, "acme", "alice", codes[3].upper().replace("-", " "),
                                    digests) == digests[3]
    # another person's or tenant's digest of the same code is another digest
    assert recovery.matching_digest(key, "acme", "bob", codes[3], digests) is None
    assert recovery.matching_digest(key, "globex", "alice", codes[3], digests) is None
    assert recovery.matching_digest(ServerKey.ephemeral(), "acme", "alice", codes[3],
                                    digests) is None
    assert recovery.canonical("not a code") is None
    assert recovery.matching_digest(key, "acme", "alice", "123456", digests) is None


def test_acr_rules() -> None:
    assert known_acr_values(f"urn:x {ACR_2FA} {ACR_2FA} {ACR_1FA}") == (ACR_2FA, ACR_1FA)
    assert known_acr_values(None) == ()
    assert demands_second_factor((ACR_2FA,))
    assert not demands_second_factor((ACR_2FA, ACR_1FA))
    assert not demands_second_factor(())
    assert acr_of(("pwd",)) == ACR_1FA
    amr = with_second_factor(("pwd",), "otp")
    assert amr == ("pwd", "otp", "mfa") and acr_of(amr) == ACR_2FA
    assert with_second_factor(amr, "otp") == amr
