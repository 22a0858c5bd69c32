"""TOTP as a sign-in step, in-process with an injected clock (pyotp computes the codes):
enrolment after the password, sign-in with a code, replay, skew, throttling, recovery codes,
amr/acr in the ID token, step-up with acr_values and max_age, refresh never upgrading acr,
and the policy per application and per group, hot-reloaded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from confidp.oauth.acr import ACR_1FA, ACR_2FA
from tests.e2e.flow import authorize_url, hidden_fields, location, seed_params
from tests.e2e.test_tokens import code_form
from tests.inprocess import InProcess, serving, submit_login
from tests.mfa.flow import claims_of, code_of, path_of, post_form, recovery_codes_of, secret_of
from tests.support import replace_tenant, tenant_doc, write_tenant

ISSUER = "http://127.0.0.1:8000/acme"
# "wonderland" with the cheapest argon2id parameters: these tests sign in dozens of times
FAST_HASH = ("$argon2id$v=19$m=8,t=1,p=1$uYLAIMTH+DJRF30HyS9knQ$"
             "PZhfqrnT+5wRAZaTzrIORtmp33LCieK/B4S7qV2lGmI")
BOB = {"username": "bob", "password_hash": FAST_HASH, "groups": ["admins"]}


def doc(**overrides: Any) -> dict[str, Any]:
    base = tenant_doc(ISSUER, users=[{"username": "alice", "password_hash": FAST_HASH}, BOB],
                      login_throttle={"max_failures_per_user": 3, "max_failures_per_ip": 50,
                                      "window": "10m"})
    base["applications"][0]["scopes"].append("offline_access")
    base["applications"][0]["grant_types"] = ["authorization_code", "refresh_token"]
    base["applications"].append({**base["applications"][0], "client_id": "billing",
                                 "name": "Billing"})
    base.update(overrides)
    return base


@pytest.fixture
async def idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> AsyncIterator[InProcess]:
    write_tenant(tenants_dir, "acme.yaml", doc(second_factors={"required": True}))
    async with serving(tenants_dir, themes_dir, tmp_path / "state") as server:
        yield server


def at(server: InProcess, secret: str, offset_steps: int = 0) -> str:
    """The code pyotp computes for the app's clock, ``offset_steps`` steps away."""
    return pyotp.TOTP(secret).at(server.clock.now, counter_offset=offset_steps)


async def begin(client: httpx.AsyncClient, client_id: str = "portal-spa",
                **params: str) -> httpx.Response:
    return await client.get(authorize_url("/acme", seed_params(
        client_id=client_id, scope="openid profile offline_access", **params)))


async def login(client: httpx.AsyncClient, username: str = "alice",
                client_id: str = "portal-spa", **params: str) -> str:
    """Through the password: where the sign-in goes next."""
    response = await submit_login(client, location(await begin(client, client_id, **params)),
                                  username, "wonderland")
    return location(response)


async def enrol(server: InProcess, client: httpx.AsyncClient,
                username: str = "alice") -> tuple[str, list[str], str]:
    """Password, TOTP enrolment, recovery codes: (secret, codes, the redirect with the code)."""
    enrol_url = await login(client, username)
    assert path_of(enrol_url) == "/acme/factor/totp/enrol"
    page = await client.get(enrol_url)
    secret = secret_of(page.text)
    done = await client.post(path_of(enrol_url), data={**hidden_fields(page.text),
                                                       "code": at(server, secret)})
    shown_url = location(done)
    assert path_of(shown_url) == "/acme/factor/recovery-codes"
    shown = await client.get(shown_url)
    codes = recovery_codes_of(shown.text)
    back = await client.post(path_of(shown_url), data=hidden_fields(shown.text))
    return secret, codes, location(back)


async def tokens(client: httpx.AsyncClient, redirect: str,
                 client_id: str = "portal-spa") -> dict[str, Any]:
    response = await client.post("/acme/token", data=code_form(code_of(redirect),
                                                               client_id=client_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_enrolment_then_sign_in_with_a_code(idp: InProcess) -> None:
    client = idp.client
    enrol_url = await login(client)
    page = await client.get(enrol_url)
    assert page.status_code == 200 and "<script" not in page.text
    assert 'src="data:image/svg+xml' in page.text  # the QR code, made on the server
    assert "otpauth://totp/Test%20Tenant%3Aalice?secret=" in page.text
    secret = secret_of(page.text)
    assert " ".join(secret[i:i + 4] for i in range(0, 32, 4)) in page.text  # as text too
    assert (await client.get(enrol_url)).text.count(secret) >= 1  # the same secret again
    wrong = await client.post(path_of(enrol_url), data={**hidden_fields(page.text),
                                                        "code": "000000"})
    assert wrong.status_code == 401
    assert "The code is incorrect or was already used." in wrong.text
    secret2, codes, redirect = await enrol(idp, idp.browser())  # another browser: own secret
    assert secret2 != secret and len(codes) == 10 and len(set(codes)) == 10
    issued = await tokens(idp.client, redirect)
    claims = claims_of(issued["id_token"])
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == ACR_2FA
    # the next sign-in (another browser) asks for a code
    idp.clock.now += 30
    other = idp.browser()
    code_url = await login(other)
    assert path_of(code_url) == "/acme/factor/code"
    passed = await post_form(other, code_url, code=at(idp, secret2))
    assert code_of(location(passed))
    assert claims_of((await tokens(other, location(passed)))["id_token"])["acr"] == ACR_2FA


async def test_a_code_is_used_once_and_skew_is_one_step(idp: InProcess) -> None:
    secret, _, _ = await enrol(idp, idp.client)
    # the enrolment's own code cannot sign in again (same step)
    first = idp.browser()
    replay = await post_form(first, await login(first), code=at(idp, secret))
    assert replay.status_code == 401
    idp.clock.now += 30
    ok = await post_form(first, await login(first), code=at(idp, secret, -1))
    assert ok.status_code == 401  # a step before the last used one: refused
    second = idp.browser()
    ok = await post_form(second, await login(second), code=at(idp, secret, +1))
    assert ok.status_code == 303  # one step ahead: accepted (the phone's clock is fast)
    third = idp.browser()
    again = await post_form(third, await login(third), code=at(idp, secret, +1))
    assert again.status_code == 401  # the same code twice: refused
    idp.clock.now += 600  # past the throttle's window (three failures so far)
    fourth = idp.browser()
    late = await post_form(fourth, await login(fourth), code=at(idp, secret, -2))
    assert late.status_code == 401  # two steps old: outside the skew
    fifth = idp.browser()
    behind = await post_form(fifth, await login(fifth), code=at(idp, secret, -1))
    assert behind.status_code == 303  # one step behind (a slow phone): accepted
    sixth = idp.browser()
    ahead = await post_form(sixth, await login(sixth), code=at(idp, secret, +2))
    assert ahead.status_code == 401


async def test_wrong_codes_are_throttled_like_passwords(idp: InProcess) -> None:
    secret, _, _ = await enrol(idp, idp.client)
    idp.clock.now += 30
    client = idp.browser()
    code_url = await login(client)
    for _ in range(3):
        assert (await post_form(client, code_url, code="123456")).status_code == 401
    refused = await post_form(client, code_url, code=at(idp, secret))
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    # the password is throttled by the same counter
    other = idp.browser()
    response = await submit_login(other, location(await begin(other)), "alice", "wonderland")
    assert response.status_code == 429


async def test_recovery_codes_each_once(idp: InProcess) -> None:
    _, codes, _ = await enrol(idp, idp.client)
    client = idp.browser()
    used = await post_form(client, await login(client), code=codes[0].upper())
    assert used.status_code == 303
    claims = claims_of((await tokens(client, location(used)))["id_token"])
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    again = idp.browser()
    assert (await post_form(again, await login(again), code=codes[0])).status_code == 401
    other = idp.browser()
    assert (await post_form(other, await login(other), code=codes[1])).status_code == 303
    stored = await idp.ctx.enrolments.load("acme", "alice")
    assert stored.recovery is not None and len(stored.recovery.digests) == 8
    assert all(code.replace("-", "") not in str(stored) for code in codes)


async def test_a_person_with_a_factor_is_asked_even_when_not_required(
        idp: InProcess, tenants_dir: Path) -> None:
    await enrol(idp, idp.client)
    replace_tenant(tenants_dir, "acme.yaml", doc())  # nothing required any more
    await idp.reloaded(lambda s: not s.tenant("acme").second_factors.required)  # type: ignore[union-attr]
    client = idp.browser()
    assert path_of(await login(client)) == "/acme/factor/code"
    # without a factor, bob signs in with his password only: acr 1fa
    bob = idp.browser()
    redirect = await login(bob, "bob")
    assert code_of(redirect)
    claims = claims_of((await tokens(bob, redirect))["id_token"])
    assert claims["amr"] == ["pwd"] and claims["acr"] == ACR_1FA


async def test_policy_per_application_and_group_hot_reloaded(
        idp: InProcess, tenants_dir: Path) -> None:
    replace_tenant(tenants_dir, "acme.yaml", doc())
    await idp.reloaded(lambda s: not s.tenant("acme").second_factors.required)  # type: ignore[union-attr]
    assert code_of(await login(idp.browser()))  # nothing required: straight to the code
    billing = doc()
    billing["applications"][1]["second_factor"] = {"required": True}
    billing["second_factors"] = {"groups": {"admins": {"required": True}}}
    replace_tenant(tenants_dir, "acme.yaml", billing)
    await idp.reloaded(lambda s: "admins" in s.tenant("acme").second_factors.groups)  # type: ignore[union-attr]
    assert code_of(await login(idp.browser(), client_id="portal-spa"))  # alice: not required
    assert path_of(await login(idp.browser(), client_id="billing")) == \
        "/acme/factor/totp/enrol"  # the billing application requires one for everybody
    assert path_of(await login(idp.browser(), "bob")) == "/acme/factor/totp/enrol"  # admins
    # a group allowing only webauthn, with no WebAuthn step here: refused, never let through
    only_keys = doc(second_factors={"groups": {"admins": {"required": True,
                                                          "methods": ["webauthn"]}}})
    replace_tenant(tenants_dir, "acme.yaml", only_keys)
    await idp.reloaded(lambda s: s.tenant("acme").second_factors.groups.get("admins") is not None  # type: ignore[union-attr]
                       and s.tenant("acme").second_factors.groups["admins"].methods  # type: ignore[union-attr]
                       == {"webauthn"})
    bob = idp.browser()
    refused = await bob.get(await login(bob, "bob"))
    assert refused.status_code == 403
    assert "A second factor is required to sign in here" in refused.text


async def test_step_up_with_acr_values_and_max_age(idp: InProcess, tenants_dir: Path) -> None:
    replace_tenant(tenants_dir, "acme.yaml", doc())
    await idp.reloaded(lambda s: not s.tenant("acme").second_factors.required)  # type: ignore[union-attr]
    client = idp.client
    first = await login(client)  # password only, a session starts
    issued = await tokens(client, first)
    assert claims_of(issued["id_token"])["acr"] == ACR_1FA
    # the application demands a second factor for one request: the session is not enough
    step_up = location(await begin(client, acr_values=f"{ACR_2FA}"))
    assert path_of(step_up) == "/acme/factor/totp/enrol"
    page = await client.get(step_up)
    secret = secret_of(page.text)
    done = await client.post(path_of(step_up), data={**hidden_fields(page.text),
                                                     "code": at(idp, secret)})
    shown = location(done)
    back = location(await post_form(client, shown))
    upgraded = await tokens(client, back)
    assert claims_of(upgraded["id_token"])["acr"] == ACR_2FA
    # the session now carries the factor: the next request is satisfied at once
    assert code_of(location(await begin(client, acr_values=ACR_2FA)))
    # a request that accepts either class is satisfied by one factor
    bob = idp.browser()
    assert code_of(await login(bob, "bob", acr_values=f"{ACR_2FA} {ACR_1FA}"))
    # unknown values are ignored (acr is voluntary)
    assert code_of(await login(idp.browser(), "bob", acr_values="urn:example:gold"))
    # max_age: an old sign-in is made again, with its second factor
    idp.clock.now += 120
    again = location(await begin(client, max_age="60"))
    assert path_of(again) == "/acme/login"
    after_password = location(await post_form(client, again, username="alice",
                                              password="wonderland"))
    assert path_of(after_password) == "/acme/factor/code"
    # a refresh never upgrades acr: the first (one-factor) family stays 1fa
    refreshed = await client.post("/acme/token", data={
        "grant_type": "refresh_token", "refresh_token": issued["refresh_token"],
        "client_id": "portal-spa"})
    assert refreshed.status_code == 200, refreshed.text
    claims = claims_of(refreshed.json()["id_token"])
    assert claims["acr"] == ACR_1FA and claims["amr"] == ["pwd"]


async def test_discovery_lists_acr_values(idp: InProcess) -> None:
    metadata = (await idp.client.get("/acme/.well-known/openid-configuration")).json()
    assert metadata["acr_values_supported"] == [ACR_1FA, ACR_2FA]
    assert {"acr", "amr"} <= set(metadata["claims_supported"])


async def test_prompt_none_needing_a_factor_is_interaction_required(idp: InProcess) -> None:
    client = idp.client
    await login(client)  # the password passed, the factor not: no session yet
    response = await begin(client, prompt="none")
    assert "error=login_required" in location(response)


class CountingEnrolments:
    """The app's enrolments, counting the reads."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.loads = 0

    async def load(self, tenant_id: str, subject: str) -> Any:
        self.loads += 1
        return await self.inner.load(tenant_id, subject)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("required", [False, True])
async def test_one_authorize_reads_the_enrolments_once(
        required: bool, tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    """The code step, the enrolment step, the passkey step and the guard each ask whether
    a factor is demanded; the answer is worked out once per request."""
    write_tenant(tenants_dir, "acme.yaml", doc(second_factors={"required": required}))
    async with serving(tenants_dir, themes_dir, tmp_path / "state") as server:
        counting = CountingEnrolments(server.ctx.enrolments)
        server.ctx.enrolments = counting  # type: ignore[assignment]
        after_password = await login(server.client)
        assert counting.loads == 1
        if required:
            assert path_of(after_password) == "/acme/factor/totp/enrol"
        else:
            assert code_of(after_password)
            counting.loads = 0
            again = await begin(server.client)  # with the session: straight to a code
            assert code_of(location(again))
            assert counting.loads == 1
