"""PKCE (RFC 7636): the S256 transform, and the token endpoint's one check (RFC 7636 §4.6,
RFC 9700 §2.1.1)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from confidp.identity.local import identity_of
from confidp.keys import KeyStore
from confidp.model import Application
from confidp.oauth import pkce
from confidp.oauth.grants import authorization_code
from confidp.oauth.records import Code, save
from confidp.oauth.tokens import InvalidGrant, TokenService, digest
from confidp.store import MemoryStore
from tests.oauth.test_claims_and_client_auth import GLOBEX

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


# ---- at the token endpoint: the authorization_code grant, memory store, no HTTP ----

REDIRECT = "https://billing.globex.example/oauth/callback"


@pytest.fixture
def service(tmp_path: Path) -> TokenService:
    return TokenService(MemoryStore(), KeyStore(tmp_path))


def billing(require_pkce: bool) -> Application:
    return dataclasses.replace(GLOBEX.applications["billing"], require_pkce=require_pkce)


async def code_for(service: TokenService, challenge: str | None) -> str:
    code = f"code-{time.monotonic_ns()}"
    await save(service.store(GLOBEX), Code(
        tenant=GLOBEX.id, client_id="billing", redirect_uri=REDIRECT, code_challenge=challenge,
        code_challenge_method=challenge and "S256", scopes=("openid",), nonce=None,
        identity=identity_of(GLOBEX.users["hank"], auth_time=time.time()), session="s",
        issued_at=time.time()), digest(code), 60)
    return code


async def redeem(service: TokenService, code: str, client: Application,
                 verifier: str | None = None) -> dict[str, Any]:
    form = {"code": code, "redirect_uri": REDIRECT}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await authorization_code.run(service, GLOBEX, client, form)


async def test_a_code_issued_without_pkce_needs_no_verifier(service: TokenService) -> None:
    response = await redeem(service, await code_for(service, None), billing(False))
    assert "id_token" in response


async def test_a_verifier_for_a_code_issued_without_a_challenge_is_refused(
        service: TokenService) -> None:
    """RFC 9700 §2.1.1: the PKCE downgrade attack."""
    code = await code_for(service, None)
    with pytest.raises(InvalidGrant, match=r"code_verifier was sent, but the authorization "
                       r"request had no code_challenge"):
        await redeem(service, code, billing(False), VERIFIER)
    with pytest.raises(InvalidGrant, match="invalid or expired"):  # a failed attempt burns it
        await redeem(service, code, billing(False))


async def test_a_code_issued_with_pkce_needs_the_verifier(service: TokenService) -> None:
    """RFC 7636 §4.5: PKCE a client sent is verified even when the application does not
    require it."""
    for verifier in (None, VERIFIER[:-1] + "j"):
        with pytest.raises(InvalidGrant, match="code_verifier does not match"):
            await redeem(service, await code_for(service, CHALLENGE), billing(False), verifier)
    response = await redeem(service, await code_for(service, CHALLENGE), billing(False),
                            VERIFIER)
    assert "access_token" in response


async def test_a_code_without_pkce_after_the_application_started_to_require_it(
        service: TokenService) -> None:
    with pytest.raises(InvalidGrant, match="requires PKCE"):
        await redeem(service, await code_for(service, None), billing(True))
