"""Passkeys in the sign-in and on the account page, in-process (tests.inprocess), answered by
a software authenticator (tests/passkeys/authenticator.py): registration, passwordless
sign-in, a passkey as the second factor, and the attacks (a replayed response, another
tenant's credential, no user verification, another sign-in's challenge, a forged or empty
response). The same flows run in real Chromium in tests/browser/test_passkeys.py."""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher

from confidp.passkeys.challenges import b64url
from tests.e2e.flow import (
    VERIFIER,
    authorize_url,
    hidden_fields,
    location,
    query_of,
    seed_params,
)
from tests.inprocess import InProcess, serving
from tests.mfa.flow import claims_of
from tests.passkeys.authenticator import SoftAuthenticator
from tests.support import tenant_doc, write_tenant

BASE = "http://localhost:8000"  # WebAuthn needs a domain: the issuers are on localhost
CALLBACK = "http://127.0.0.1:9999/callback"
PASSWORD = "wonderland"
HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
PEOPLE = 40  # one per test that registers: the server is shared by the module
_people = itertools.count(1)
_OPTIONS = re.compile(r'data-options="([^"]*)"')


def _tenant(name: str) -> dict[str, Any]:
    doc = tenant_doc(f"{BASE}/{name}", users=[
        {"username": "bob", "password_hash": HASH},
        *({"username": f"person-{n}", "password_hash": HASH, "name": f"Person {n}"}
          for n in range(1, PEOPLE + 1))],
        second_factors={"passwordless": True})
    doc["applications"].append({**doc["applications"][0], "client_id": "consenting",
                                "require_consent": True})
    return doc


def fresh_person() -> str:
    number = next(_people)
    assert number <= PEOPLE, "raise PEOPLE"
    return f"person-{number}"


@dataclass
class Site:
    idp: InProcess

    def browser(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.idp.client._transport, base_url=BASE,
                                 follow_redirects=False)


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """One server for the module (each test uses its own people or fresh passkeys)."""
    root = tmp_path_factory.mktemp("passkeys")
    tenants_dir = root / "tenants"
    tenants_dir.mkdir()
    write_tenant(tenants_dir, "acme.yaml", _tenant("acme"))
    write_tenant(tenants_dir, "globex.yaml", _tenant("globex"))
    plain = _tenant("initech")
    del plain["second_factors"]  # the default policy: no passwordless sign-in
    write_tenant(tenants_dir, "initech.yaml", plain)
    async with serving(tenants_dir, None, root / "state") as idp:
        yield Site(idp)


def options_of(page: str) -> dict[str, Any]:
    found = _OPTIONS.search(page)
    assert found, page[:2000]
    return json.loads(html.unescape(found[1]))


async def login_page(browser: httpx.AsyncClient, tenant: str = "acme",
                     client_id: str = "portal-spa") -> httpx.Response:
    response = await browser.get(authorize_url(f"/{tenant}", seed_params(
        CALLBACK, scope="openid", client_id=client_id)))
    page = await browser.get(location(response))
    assert page.status_code == 200
    return page


async def password_sign_in(browser: httpx.AsyncClient, tenant: str = "acme", *,
                           username: str,
                           client_id: str = "portal-spa") -> httpx.Response:
    page = await login_page(browser, tenant, client_id)
    return await browser.post(f"/{tenant}/login", data={
        **hidden_fields(page.text), "username": username, "password": PASSWORD})


async def register(browser: httpx.AsyncClient, authenticator: SoftAuthenticator,
                   tenant: str = "acme", name: str = "Laptop") -> httpx.Response:
    page = await browser.get(f"/{tenant}/account/passkeys")
    assert page.status_code == 200, page.text
    fields = hidden_fields(page.text)
    return await browser.post(f"/{tenant}/account/passkeys", data={
        "csrf_token": fields["csrf_token"], "name": name,
        "credential": authenticator.create(options_of(page.text))})


async def signed_in_with_passkey(site: Site, tenant: str = "acme",
                                 username: str | None = None) -> SoftAuthenticator:
    """A person (a fresh one by default), signed in with their password, registers a passkey
    in ``tenant``; the authenticator's ``username`` is theirs."""
    authenticator = SoftAuthenticator(BASE)
    authenticator.username = username or fresh_person()
    async with site.browser() as browser:
        assert location(await password_sign_in(browser, tenant,
                                                 username=authenticator.username)
                        ).startswith(CALLBACK)
        added = await register(browser, authenticator, tenant)
        assert location(added) == f"/{tenant}/account"  # the account page lists it
        page = await browser.get(location(added))
        assert "Laptop" in page.text
    return authenticator


async def passkey_post(browser: httpx.AsyncClient, page: httpx.Response,
                       credential: str, path: str = "/acme/login/passkey") -> httpx.Response:
    fields = hidden_fields(page.text)
    return await browser.post(path, data={"request": fields["request"],
                                          "csrf_token": fields["csrf_token"],
                                          "credential": credential})


async def id_token_claims(browser: httpx.AsyncClient, redirect: str,
                          tenant: str = "acme") -> dict[str, Any]:
    response = await browser.post(f"/{tenant}/token", data={
        "grant_type": "authorization_code", "code": query_of(redirect)["code"],
        "redirect_uri": CALLBACK, "code_verifier": VERIFIER, "client_id": "portal-spa"})
    assert response.status_code == 200, response.text
    return claims_of(response.json()["id_token"])


async def test_the_login_page_offers_a_passkey_with_a_script_file_and_no_inline_script(
        site: Site) -> None:
    async with site.browser() as browser:
        page = await login_page(browser)
    options = options_of(page.text)
    assert options["rpId"] == "localhost" and options["userVerification"] == "required"
    assert not options.get("allowCredentials")  # discoverable credentials: no username asked
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe" not in csp
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts == ['<script src="/acme/assets/webauthn.js?v=' + scripts[0].split("?v=")[1]]
    assert re.search(r"<script[^>]*>\s*</script>", page.text)  # empty: nothing inline
    script = await site.browser().get("/acme/assets/webauthn.js")
    assert script.status_code == 200 and "navigator.credentials" in script.text


async def test_without_passwordless_the_login_page_has_no_passkey_and_no_script(
        site: Site) -> None:
    async with site.browser() as browser:
        page = await login_page(browser, "initech")
    assert "data-options" not in page.text and "<script" not in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    async with site.browser() as browser:  # and its passkey form refuses
        page = await login_page(browser, "initech")
        response = await passkey_post(browser, page, "{}", "/initech/login/passkey")
        assert response.status_code == 401
        assert "Passkeys cannot be used on this site." in response.text


async def test_a_synced_passkey_is_a_software_key(site: Site) -> None:
    authenticator = SoftAuthenticator(BASE, counts=False, backup_eligible=True)
    async with site.browser() as browser:
        username = fresh_person()
        await password_sign_in(browser, username=username)
        assert location(await register(browser, authenticator)) == "/acme/account"
    for _ in range(2):  # no counter (always 0): accepted each time
        async with site.browser() as browser:
            page = await login_page(browser)
            response = await passkey_post(browser, page,
                                          authenticator.get(options_of(page.text)))
            claims = await id_token_claims(browser, location(response))
            assert claims["amr"] == ["swk", "mfa"]


async def test_register_then_sign_in_without_a_password(site: Site) -> None:
    authenticator = await signed_in_with_passkey(site)
    async with site.browser() as browser:
        page = await login_page(browser)
        response = await passkey_post(browser, page, authenticator.get(options_of(page.text)))
        assert location(response).startswith(CALLBACK)
        claims = await id_token_claims(browser, location(response))
        # a device-bound key with user verification: two factors in one (RFC 8176)
        assert claims["amr"] == ["hwk", "mfa"] and claims["acr"] == "urn:confidp:acr:2fa"
        # the session it started is alice's, signed in by passkey: the account page shows her
        account = await browser.get("/acme/account/passkeys")
        assert authenticator.username in account.text and "Laptop" in account.text


async def test_a_replayed_assertion_is_refused(site: Site) -> None:
    authenticator = await signed_in_with_passkey(site)
    async with site.browser() as browser:
        page = await login_page(browser)
        credential = authenticator.get(options_of(page.text))
        # the same response twice at once, as a double click or an attacker would send it
        first = await passkey_post(browser, page, credential)
        assert location(first).startswith(CALLBACK)
    async with site.browser() as browser:  # and the captured response in another sign-in
        page = await login_page(browser)
        again = await passkey_post(browser, page, credential)
        assert again.status_code == 401
        assert "expired or was used already" in again.text


async def test_two_racing_submissions_of_one_response_sign_in_once(site: Site) -> None:
    authenticator = await signed_in_with_passkey(site)
    async with site.browser() as browser:
        page = await login_page(browser, client_id="consenting")
        credential = authenticator.get(options_of(page.text))
        answers = await asyncio.gather(*(passkey_post(browser, page, credential)
                                         for _ in range(4)))
    assert sorted(answer.status_code for answer in answers) == [303, 401, 401, 401]


async def test_a_response_replayed_within_its_own_sign_in_is_refused(site: Site) -> None:
    """The sign-in is still open (consent comes next): the challenge's single use refuses
    the second submission, not the sign-in's end."""
    authenticator = await signed_in_with_passkey(site)
    async with site.browser() as browser:
        page = await login_page(browser, client_id="consenting")
        credential = authenticator.get(options_of(page.text))
        first = await passkey_post(browser, page, credential)
        assert "/acme/consent?" in location(first)
        again = await passkey_post(browser, page, credential)
        assert again.status_code == 401
        assert "expired or was used already" in again.text


async def test_a_credential_of_another_tenant_on_the_same_host_is_refused(site: Site) -> None:
    authenticator = await signed_in_with_passkey(site, "acme")
    async with site.browser() as browser:
        page = await login_page(browser, "globex")
        assert options_of(page.text)["rpId"] == "localhost"  # the same RP ID as acme's
        response = await passkey_post(browser, page, authenticator.get(options_of(page.text)),
                                      "/globex/login/passkey")
        assert response.status_code == 401
        assert "not registered for an account here" in response.text
        # globex's person of the same name is another person, who has no passkey there
        factor = location(await password_sign_in(browser, "globex",
                                                   username=authenticator.username))
        assert factor.startswith(CALLBACK)  # no factor step


async def test_passwordless_needs_user_verification(site: Site) -> None:
    authenticator = await signed_in_with_passkey(site)
    authenticator.user_verified = False  # touched, but no PIN or biometric
    async with site.browser() as browser:
        page = await login_page(browser)
        response = await passkey_post(browser, page, authenticator.get(options_of(page.text)))
        assert response.status_code == 401
        assert "did not verify that it is you" in response.text


async def test_a_challenge_of_another_sign_in_is_refused(site: Site) -> None:
    authenticator = await signed_in_with_passkey(site)
    async with site.browser() as browser:
        one = await login_page(browser)
        other = await login_page(browser)
        credential = authenticator.get(options_of(one.text))
        response = await passkey_post(browser, other, credential)
        assert response.status_code == 401
        assert "expired or was used already" in response.text


@pytest.mark.parametrize("credential", ["", "{}", "x" * 40_000, json.dumps({
    "id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {
        "clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"}})])
async def test_a_malformed_response_is_a_clear_error(site: Site, credential: str) -> None:
    async with site.browser() as browser:
        page = await login_page(browser)
        response = await passkey_post(browser, page, credential)
        assert response.status_code == 401
        assert "did not send a passkey" in response.text


async def test_a_passkey_as_the_second_factor(site: Site) -> None:
    authenticator = await signed_in_with_passkey(site)
    async with site.browser() as browser:
        factor = location(await password_sign_in(browser, username=authenticator.username))
        assert factor.startswith("/acme/factor/passkey?request=")
        page = await browser.get(factor)
        options = options_of(page.text)
        assert [c["id"] for c in options["allowCredentials"]] == [
            b64url(authenticator.keys[0].credential_id)]
        # a response of another key of hers? she has one: a wrong one is refused, then hers
        stranger = SoftAuthenticator(BASE)
        stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"},
                         "challenge": options["challenge"]})
        refused = await passkey_post(browser, page, stranger.get(options),
                                     "/acme/factor/passkey")
        assert refused.status_code == 401
        assert "not registered for an account here" in refused.text
        page = await browser.get(factor)
        done = await passkey_post(browser, page, authenticator.get(options_of(page.text)),
                                  "/acme/factor/passkey")
        assert location(done).startswith(CALLBACK)
        claims = await id_token_claims(browser, location(done))
        assert claims["amr"] == ["pwd", "hwk", "mfa"] and claims["acr"] == "urn:confidp:acr:2fa"


async def test_bob_without_a_passkey_signs_in_with_his_password_alone(site: Site) -> None:
    await signed_in_with_passkey(site)
    async with site.browser() as browser:
        assert location(await password_sign_in(browser, username="bob")).startswith(CALLBACK)


async def test_adding_a_passkey_needs_a_session_and_the_account_csrf_token(
        site: Site) -> None:
    async with site.browser() as browser:
        page = await browser.get("/acme/account/passkeys")
        assert "/acme/login?request=" in location(page)  # signing in to the account first
        await password_sign_in(browser, username=fresh_person())
        page = await browser.get("/acme/account/passkeys")
        authenticator = SoftAuthenticator(BASE)
        forged = await browser.post("/acme/account/passkeys", data={
            "csrf_token": "forged", "credential": authenticator.create(options_of(page.text))})
        assert forged.status_code == 400
        assert "This form has expired" in forged.text
        assert "Laptop" not in (await browser.get("/acme/account")).text


async def test_registration_for_another_origin_is_refused(site: Site) -> None:
    async with site.browser() as browser:
        await password_sign_in(browser, username=fresh_person())
        page = await browser.get("/acme/account/passkeys")
        response = await browser.post("/acme/account/passkeys", data={
            "csrf_token": hidden_fields(page.text)["csrf_token"],
            "credential": SoftAuthenticator("http://evil.example").create(
                options_of(page.text))})
        assert response.status_code == 400
        assert "could not be verified" in response.text


async def test_an_old_sign_in_cannot_add_a_passkey(site: Site) -> None:
    async with site.browser() as browser:
        await password_sign_in(browser, username=fresh_person())
        page = await browser.get("/acme/account/passkeys")
        options, csrf = options_of(page.text), hidden_fields(page.text)["csrf_token"]
        site.idp.clock.now += 3600  # an hour later: signed in, but not recently
        try:
            later = await browser.get("/acme/account/passkeys")
            assert "/acme/login?request=" in location(later)  # sign in again first
            response = await browser.post("/acme/account/passkeys", data={
                "csrf_token": csrf, "name": "Late",
                "credential": SoftAuthenticator(BASE).create(options)})
            assert "/acme/login?request=" in location(response)
        finally:
            site.idp.clock.now -= 3600
        assert "Late" not in (await browser.get("/acme/account")).text


async def test_a_second_passkey_after_signing_in_with_the_first(site: Site) -> None:
    """With a passkey already, adding another needs a sign-in made with a second factor (the
    account page's rule): the password sign-in asks for the passkey, and then it may."""
    authenticator = await signed_in_with_passkey(site)
    async with site.browser() as browser:
        factor = location(await password_sign_in(browser, username=authenticator.username))
        assert "/acme/factor/passkey?" in factor
        page = await browser.get(factor)
        done = await passkey_post(browser, page, authenticator.get(options_of(page.text)),
                                  "/acme/factor/passkey")
        assert location(done).startswith(CALLBACK)
        second = SoftAuthenticator(BASE)
        assert location(await register(browser, second, name="Phone")) == "/acme/account"
        page = await browser.get("/acme/account")
        assert "Laptop" in page.text and "Phone" in page.text
        # the new one excludes both (WebAuthn L2 §5.4 excludeCredentials)
        options = options_of((await browser.get("/acme/account/passkeys")).text)
        assert len(options["excludeCredentials"]) == 2
