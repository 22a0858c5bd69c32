"""The token grants against the memory store, without HTTP: PKCE, single use, rotation,
reuse detection and its window for retries, narrowing."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from confidp.identity.local import identity_of
from confidp.keys import KeyStore
from confidp.model import Tenant
from confidp.oauth.errors import InvalidScope, OAuthError
from confidp.oauth.grants import authorization_code, client_credentials, refresh_token
from confidp.oauth.liveness import family_revoked
from confidp.oauth.records import Code, save
from confidp.oauth.tokens import InvalidGrant, TokenService, digest
from confidp.server_key import ServerKey
from confidp.store import MemoryStore, StoreUnavailable
from confidp.store.kinds import ACCESS, CODE_USED, FAMILY_REVOKED
from tests.oauth.test_claims_and_client_auth import ACME, GLOBEX
from tests.support import Clock

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
REDIRECT = "http://127.0.0.1:9999/callback"
PORTAL = ACME.applications["portal-spa"]
# reuse detection without the reuse window (lifetimes.refresh_token_reuse_interval: 0s)
NO_WINDOW = dataclasses.replace(ACME, lifetimes=dataclasses.replace(
    ACME.lifetimes, refresh_token_reuse_interval=0))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(tmp_path: Path, clock: Clock) -> TokenService:
    return TokenService(MemoryStore(clock=clock), KeyStore(tmp_path), clock=clock)


async def new_code(service: TokenService, tenant: Tenant = ACME, client_id: str = "portal-spa",
                   scopes: tuple[str, ...] = ("openid", "profile", "offline_access")) -> str:
    code = f"code-{time.monotonic_ns()}"
    alice = identity_of(ACME.users["alice"], auth_time=time.time())
    await save(service.store(tenant), Code(
        tenant=tenant.id, client_id=client_id, redirect_uri=REDIRECT, code_challenge=CHALLENGE,
        code_challenge_method="S256", scopes=scopes, nonce="n-1", identity=alice, session="s",
        issued_at=time.time()), digest(code), 60)
    return code


def redeem(code: str, **extra: str) -> dict[str, str]:
    return {"code": code, "redirect_uri": REDIRECT, "code_verifier": VERIFIER, **extra}


async def test_code_exchange(service: TokenService) -> None:
    code = await new_code(service)
    response = await authorization_code.run(service, ACME, PORTAL, redeem(code))
    assert set(response) == {"access_token", "token_type", "expires_in", "scope", "id_token",
                             "refresh_token"}
    assert response["scope"] == "openid profile offline_access"
    _, claims = (await service.ring(ACME)).verify(response["id_token"])
    assert (claims["nonce"], claims["aud"], claims["name"]) == ("n-1", "portal-spa",
                                                                "Alice Liddell")


@pytest.mark.parametrize(("form", "message"), [
    ({"code_verifier": VERIFIER[:-1] + "X"}, "code_verifier does not match"),
    ({"code_verifier": ""}, "code_verifier does not match"),
    ({"redirect_uri": REDIRECT + "/"}, "redirect_uri differs"),
])
async def test_code_checks(service: TokenService, form: dict[str, str], message: str) -> None:
    code = await new_code(service)
    with pytest.raises(InvalidGrant, match=message):
        await authorization_code.run(service, ACME, PORTAL, {**redeem(code), **form})
    with pytest.raises(InvalidGrant, match="invalid or expired"):  # a failed attempt burns it
        await authorization_code.run(service, ACME, PORTAL, redeem(code))


async def test_code_of_another_client_or_tenant(service: TokenService) -> None:
    code = await new_code(service)
    billing = GLOBEX.applications["billing"]
    with pytest.raises(InvalidGrant, match="invalid or expired"):  # not in globex's namespace
        await authorization_code.run(service, GLOBEX, billing, redeem(code))
    foreign = await new_code(service, client_id="another-app")
    with pytest.raises(InvalidGrant, match="not issued to this client"):
        await authorization_code.run(service, ACME, PORTAL, redeem(foreign))


async def test_replayed_code_revokes_what_it_issued(service: TokenService) -> None:
    code = await new_code(service)
    first = await authorization_code.run(service, ACME, PORTAL, redeem(code))
    _, claims = (await service.ring(ACME)).verify(first["access_token"])
    assert await service.store(ACME).get(ACCESS, claims["jti"]) is not None
    with pytest.raises(InvalidGrant, match="already used; the tokens issued with it are"):
        await authorization_code.run(service, ACME, PORTAL, redeem(code))
    used = await service.store(ACME).get(CODE_USED, digest(code))
    assert used is not None and await family_revoked(service, ACME, used["family"])
    assert await service.store(ACME).get(ACCESS, claims["jti"]) is None
    with pytest.raises(InvalidGrant, match=r"revoked|invalid or expired"):
        await refresh_token.run(service, ACME, PORTAL, {"refresh_token": first["refresh_token"]})


async def test_concurrent_redemption_issues_once(service: TokenService) -> None:
    code = await new_code(service)
    results = await asyncio.gather(*(authorization_code.run(service, ACME, PORTAL, redeem(code))
                                     for _ in range(5)), return_exceptions=True)
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(isinstance(r, (dict, InvalidGrant)) for r in results)


async def test_rotation_and_reuse_detection(service: TokenService) -> None:
    first = await authorization_code.run(service, ACME, PORTAL, redeem(await new_code(service)))
    second = await refresh_token.run(service, ACME, PORTAL,
                                     {"refresh_token": first["refresh_token"]})
    assert second["refresh_token"] != first["refresh_token"]
    third = await refresh_token.run(service, ACME, PORTAL,
                                    {"refresh_token": second["refresh_token"]})
    with pytest.raises(InvalidGrant, match="already used; every token issued with it is"):
        await refresh_token.run(service, ACME, PORTAL, {"refresh_token": first["refresh_token"]})
    with pytest.raises(InvalidGrant):  # the whole family is revoked, the newest token too
        await refresh_token.run(service, ACME, PORTAL, {"refresh_token": third["refresh_token"]})
    _, claims = (await service.ring(ACME)).verify(third["access_token"])
    assert await service.store(ACME).get(ACCESS, claims["jti"]) is None


async def test_refresh_scope_narrows_never_widens(service: TokenService) -> None:
    first = await authorization_code.run(service, ACME, PORTAL, redeem(await new_code(
        service, scopes=("openid", "offline_access"))))
    narrowed = await refresh_token.run(service, ACME, PORTAL, {
        "refresh_token": first["refresh_token"], "scope": "openid offline_access"})
    assert narrowed["scope"] == "openid offline_access"
    narrower = await refresh_token.run(service, ACME, PORTAL, {
        "refresh_token": narrowed["refresh_token"], "scope": "openid"})
    assert narrower["scope"] == "openid"
    assert "refresh_token" in narrower  # the family keeps its original scopes
    with pytest.raises(InvalidScope):
        await refresh_token.run(service, ACME, PORTAL, {
            "refresh_token": narrower["refresh_token"], "scope": "openid profile"})


async def test_refresh_stops_at_the_absolute_lifetime_current_tenant_sets(
        service: TokenService, clock: Clock) -> None:
    first = await authorization_code.run(service, ACME, PORTAL, redeem(await new_code(service)))
    second = await refresh_token.run(service, ACME, PORTAL,
                                     {"refresh_token": first["refresh_token"]})
    clock.now += 0.01
    shortened = dataclasses.replace(ACME, lifetimes=dataclasses.replace(
        ACME.lifetimes, refresh_token_absolute=0))  # as a reload would make it
    with pytest.raises(InvalidGrant, match="revoked or has expired"):
        await refresh_token.run(service, shortened, PORTAL,
                                {"refresh_token": second["refresh_token"]})


async def test_refresh_needs_offline_access(service: TokenService) -> None:
    response = await authorization_code.run(service, ACME, PORTAL, redeem(await new_code(
        service, scopes=("openid", "profile"))))
    assert "refresh_token" not in response


async def test_refresh_token_of_another_client(service: TokenService) -> None:
    first = await authorization_code.run(service, ACME, PORTAL, redeem(await new_code(service)))
    billing = GLOBEX.applications["billing"]
    with pytest.raises(InvalidGrant, match="invalid or expired"):  # not in globex's namespace
        await refresh_token.run(service, GLOBEX, billing,
                                {"refresh_token": first["refresh_token"]})
    # the legitimate client can still use it: the stranger did not burn it
    assert await refresh_token.run(service, ACME, PORTAL,
                                   {"refresh_token": first["refresh_token"]})


async def test_client_credentials(service: TokenService) -> None:
    billing = GLOBEX.applications["billing"]
    response: dict[str, Any] = await client_credentials.run(service, GLOBEX, billing, {})
    assert response["scope"] == "invoices.write"
    assert "id_token" not in response and "refresh_token" not in response
    _, claims = (await service.ring(GLOBEX)).verify(response["access_token"])
    assert (claims["sub"], claims["client_id"]) == ("billing", "billing")
    with pytest.raises(OAuthError, match="need a user"):
        await client_credentials.run(service, GLOBEX, billing, {"scope": "openid"})


async def test_concurrent_refresh_one_wins_and_the_family_is_revoked(
        service: TokenService) -> None:
    """Without a reuse window, of concurrent uses of one token one wins and the others are
    reuse."""
    first = await authorization_code.run(service, NO_WINDOW, PORTAL,
                                         redeem(await new_code(service)))
    results = await asyncio.gather(*(refresh_token.run(
        service, NO_WINDOW, PORTAL, {"refresh_token": first["refresh_token"]})
        for _ in range(3)), return_exceptions=True)
    winners = [r for r in results if isinstance(r, dict)]
    assert len(winners) == 1
    assert all(isinstance(r, InvalidGrant) for r in results if not isinstance(r, dict))
    # the winner's new token is refused too: revoked, or already deleted by the revocation,
    # depending on how the requests interleaved
    with pytest.raises(InvalidGrant, match=r"revoked|invalid or expired"):
        await refresh_token.run(service, NO_WINDOW, PORTAL,
                                {"refresh_token": winners[0]["refresh_token"]})


async def refresh(service: TokenService, token: str, tenant: Tenant = ACME,
                  **extra: str) -> dict[str, Any]:
    return await refresh_token.run(service, tenant, PORTAL, {"refresh_token": token, **extra})


async def access_is_live(service: TokenService, response: dict[str, Any]) -> bool:
    _, claims = (await service.ring(ACME)).verify(response["access_token"])
    return await service.store(ACME).get(ACCESS, claims["jti"]) is not None


async def test_concurrent_uses_within_the_window_get_the_same_successor(
        service: TokenService) -> None:
    first = await authorization_code.run(service, ACME, PORTAL, redeem(await new_code(service)))
    results = await asyncio.gather(*(refresh(service, first["refresh_token"])
                                     for _ in range(4)))
    assert len({r["refresh_token"] for r in results}) == 1
    assert len({r["access_token"] for r in results}) == 4  # each its own access token
    assert all([await access_is_live(service, r) for r in results])
    _, claims = (await service.ring(ACME)).verify(results[0]["id_token"])
    assert claims["sub"] == "alice"
    successor = results[0]["refresh_token"]
    assert successor != first["refresh_token"] and len(successor) == 43
    after = await refresh(service, successor)  # the successor works, once
    # the successor used, the first token is reuse, even within the window: all revoked
    with pytest.raises(InvalidGrant, match="already used; every token issued with it is"):
        await refresh(service, first["refresh_token"])
    assert not await access_is_live(service, after)
    with pytest.raises(InvalidGrant):
        await refresh(service, after["refresh_token"])


async def test_the_window_closes_by_the_store_clock(tmp_path: Path) -> None:
    clock = Clock()
    service = TokenService(MemoryStore(clock), KeyStore(tmp_path))
    first = await authorization_code.run(service, ACME, PORTAL, redeem(await new_code(service)))
    second = await refresh(service, first["refresh_token"])
    clock.now += 29
    assert (await refresh(service, first["refresh_token"]))["refresh_token"] == \
        second["refresh_token"]
    clock.now += 1  # 30 s after the step that used it: the window is closed
    with pytest.raises(InvalidGrant, match="already used; every token issued with it is"):
        await refresh(service, first["refresh_token"])
    with pytest.raises(InvalidGrant):
        await refresh(service, second["refresh_token"])


async def test_without_a_window_a_second_use_is_reuse(service: TokenService) -> None:
    first = await authorization_code.run(service, NO_WINDOW, PORTAL,
                                         redeem(await new_code(service)))
    second = await refresh(service, first["refresh_token"], NO_WINDOW)
    with pytest.raises(InvalidGrant, match="already used; every token issued with it is"):
        await refresh(service, first["refresh_token"], NO_WINDOW)
    with pytest.raises(InvalidGrant):
        await refresh(service, second["refresh_token"], NO_WINDOW)


async def test_a_window_turned_off_by_a_reload_applies_at_once(service: TokenService) -> None:
    first = await authorization_code.run(service, ACME, PORTAL, redeem(await new_code(service)))
    await refresh(service, first["refresh_token"])  # its window opened with 30 s
    with pytest.raises(InvalidGrant, match="already used; every token issued with it is"):
        await refresh(service, first["refresh_token"], NO_WINDOW)


async def test_a_retry_within_the_window_is_checked_like_a_use(service: TokenService) -> None:
    first = await authorization_code.run(service, ACME, PORTAL, redeem(await new_code(service)))
    second = await refresh(service, first["refresh_token"])
    narrowed = await refresh(service, first["refresh_token"], scope="openid offline_access")
    assert narrowed["scope"] == "openid offline_access"
    assert narrowed["refresh_token"] == second["refresh_token"]
    with pytest.raises(InvalidScope):
        await refresh(service, first["refresh_token"], scope="openid groups")
    # another client presenting it is reuse: the family is revoked
    other = dataclasses.replace(PORTAL, client_id="other-spa")
    with pytest.raises(InvalidGrant, match="already used"):
        await refresh_token.run(service, ACME, other, {"refresh_token": first["refresh_token"]})
    with pytest.raises(InvalidGrant):
        await refresh(service, second["refresh_token"])


async def test_a_new_server_key_refuses_the_retry_without_revoking(tmp_path: Path) -> None:
    store = MemoryStore()
    service = TokenService(store, KeyStore(tmp_path), ServerKey.ephemeral())
    first = await authorization_code.run(service, ACME, PORTAL, redeem(await new_code(service)))
    second = await refresh(service, first["refresh_token"])
    restarted = TokenService(store, KeyStore(tmp_path), ServerKey.ephemeral())
    with pytest.raises(InvalidGrant, match="use the one issued for it"):
        await refresh(restarted, first["refresh_token"])
    assert await refresh(restarted, second["refresh_token"])  # nothing was revoked
    assert await store.get(f"acme:{FAMILY_REVOKED}", "x") is None


async def test_successors_are_derived_per_tenant_family_and_token(tmp_path: Path) -> None:
    key = ServerKey.ephemeral()
    one = TokenService(MemoryStore(), KeyStore(tmp_path), key)
    two = TokenService(MemoryStore(), KeyStore(tmp_path), key)
    assert one.successor(ACME, "f1", "t") == two.successor(ACME, "f1", "t")  # replicas agree
    assert len({one.successor(ACME, "f1", "t"), one.successor(ACME, "f2", "t"),
                one.successor(ACME, "f1", "u"), one.successor(GLOBEX, "f1", "t"),
                TokenService(MemoryStore(), KeyStore(tmp_path)).successor(ACME, "f1", "t")}) == 5


class LosingStore(MemoryStore):
    """The memory store, except that its ``fail_at``-th call (counting every call) raises
    StoreUnavailable, as a Redis connection lost at that moment does: before doing anything,
    or with ``after``, once it is done (the reply lost, or a step Redis ran late)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.fail_at: int | None = None
        self.after = False

    def tick(self) -> bool:
        """Counts a call; True when it is to fail."""
        self.calls += 1
        return self.calls == self.fail_at


def _losing(name: str) -> None:
    original = getattr(MemoryStore, name)

    async def method(self: LosingStore, *args: Any) -> Any:
        failing = self.tick()
        if failing and not self.after:
            raise StoreUnavailable("connection lost")
        result = await original(self, *args)
        if failing:
            raise StoreUnavailable("reply lost")
        return result
    setattr(LosingStore, name, method)


for _name in ("put", "claim", "consume", "put_many", "get", "delete"):
    _losing(_name)


@pytest.mark.parametrize("grant", ["authorization_code", "refresh_token"])
async def test_a_store_lost_at_any_step_leaves_the_grant_usable(tmp_path: Path,
                                                                grant: str) -> None:
    """The store lost before any one of a grant's calls: the request fails, and the client's
    retry gets tokens instead of being taken for a replay (which would revoke them); the code
    or refresh token is still used only once (without a reuse window)."""
    store = LosingStore()
    service = TokenService(store, KeyStore(tmp_path))
    run = authorization_code.run if grant == "authorization_code" else refresh_token.run

    async def form() -> dict[str, str]:
        code = await new_code(service)
        if grant == "authorization_code":
            return redeem(code)
        issued = await authorization_code.run(service, NO_WINDOW, PORTAL, redeem(code))
        return {"refresh_token": issued["refresh_token"]}

    sent = await form()
    before = store.calls
    await run(service, NO_WINDOW, PORTAL, sent)
    steps = store.calls - before
    assert steps >= 2
    for step in range(1, steps + 1):
        sent = await form()
        store.fail_at = store.calls + step
        with pytest.raises(StoreUnavailable):
            await run(service, NO_WINDOW, PORTAL, sent)
        store.fail_at = None
        retried = await run(service, NO_WINDOW, PORTAL, sent)
        assert await access_is_live(service, retried), step
        with pytest.raises(InvalidGrant, match="already used"):
            await run(service, NO_WINDOW, PORTAL, sent)


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
async def test_a_refresh_retried_after_a_store_failure_at_any_step_keeps_the_chain(
        tmp_path: Path, after: bool) -> None:
    """With the reuse window, the store lost before or *after* any one of the refresh grant's
    calls (the reply lost, or a step Redis ran after the request gave up): the retry gets the
    same successor it would have had, and the chain goes on; nothing is revoked."""
    store = LosingStore()
    store.after = after
    service = TokenService(store, KeyStore(tmp_path))

    async def chain() -> str:
        issued = await authorization_code.run(service, ACME, PORTAL,
                                              redeem(await new_code(service)))
        return str(issued["refresh_token"])

    token = await chain()
    before = store.calls
    await refresh(service, token)
    steps = store.calls - before
    for step in range(1, steps + 1):
        token = await chain()
        expected = service.successor(ACME, (await service.store(ACME).get(
            "refresh", digest(token)) or {})["family"], token)
        store.fail_at = store.calls + step
        with pytest.raises(StoreUnavailable):
            await refresh(service, token)
        store.fail_at = None
        retried = await refresh(service, token)
        assert retried["refresh_token"] == expected, step
        assert await access_is_live(service, retried), step
        again = await refresh(service, retried["refresh_token"])  # the chain goes on
        assert await access_is_live(service, again), step
        with pytest.raises(InvalidGrant, match="already used"):  # and reuse is still caught
            await refresh(service, token)


async def test_a_code_retried_after_its_step_ran_is_denied_and_revokes(tmp_path: Path) -> None:
    """RFC 6749 §4.1.2: a code used twice is denied, even when the first use's reply was lost
    (the client never got those tokens): what it issued is revoked. The person's session is
    untouched, so the application's new sign-in completes without a password."""
    store = LosingStore()
    store.after = True
    service = TokenService(store, KeyStore(tmp_path))
    code, other = await new_code(service), await new_code(service)
    before = store.calls
    await authorization_code.run(service, ACME, PORTAL, redeem(other))
    consume_step = store.calls - before  # the last call is the step that uses the code up
    store.fail_at = store.calls + consume_step
    with pytest.raises(StoreUnavailable):
        await authorization_code.run(service, ACME, PORTAL, redeem(code))
    store.fail_at = None
    with pytest.raises(InvalidGrant, match="already used; the tokens issued with it are"):
        await authorization_code.run(service, ACME, PORTAL, redeem(code))
    used = await service.store(ACME).get(CODE_USED, digest(code))
    assert used is not None and await family_revoked(service, ACME, used["family"])
