from __future__ import annotations

from confidp.oauth import pkce

# RFC 7636 Appendix B
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_rfc7636_appendix_b() -> None:
    assert pkce.s256(VERIFIER) == CHALLENGE
    assert pkce.verify(VERIFIER, CHALLENGE)


def test_wrong_or_malformed_verifier() -> None:
    assert not pkce.verify(VERIFIER[:-1] + "j", CHALLENGE)
    assert not pkce.verify("short", pkce.s256("short"))  # under 43 characters
    assert not pkce.verify("a" * 129, pkce.s256("a" * 129))
    assert not pkce.verify("a" * 42 + "!", pkce.s256("a" * 42 + "!"))


def test_challenge_form() -> None:
    assert pkce.challenge_is_well_formed(CHALLENGE)
    assert not pkce.challenge_is_well_formed(CHALLENGE + "=")
