"""Passkeys end to end in real Chromium (Debian's, through Playwright), with the DevTools
Protocol's virtual authenticator (WebAuthn.enable, WebAuthn.addVirtualAuthenticator: CTAP2,
internal transport, resident keys, user verification) standing in for a phone or laptop:
register a passkey on the account page, sign in with it instead of a password, use it as the
second factor after the password, and the refusals: no user verification, another tenant's
credential, a replayed response.

The tenants are served at http://localhost:<port> (tests/browser/site.py): WebAuthn needs a
domain as its RP ID, and Chromium treats http://localhost as a secure context. Screenshots of
the login page with "Sign in with a passkey" and of the waiting prompt go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page

from tests.browser.passkeys import add_passkey, password_sign_in, virtual_authenticator
from tests.browser.site import ARTIFACTS, VISITOR_PASSWORD, Site

pytestmark = pytest.mark.asyncio(loop_scope="session")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    made = await browser.new_context(viewport=DESKTOP, locale="en-US",
                                     extra_http_headers={"Accept-Language": "en-US,en;q=0.8"})
    yield made
    await made.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def _allow(page: Page, site: Site) -> dict[str, str]:
    """The consent page (the test application asks for consent), allowed: the callback's
    query."""
    await page.wait_for_url("**/consent?request=*")
    await page.locator("button[value=approve]").click()
    await page.wait_for_url(f"{site.callback}?*")
    return _query(page.url)


async def _registered(page: Page, context: BrowserContext, site: Site,
                      tenant_name: str = "acme") -> str:
    """A fresh visitor signs in with their password, adds a passkey, and signs out (the
    browser's cookies cleared): their username."""
    tenant = site.tenants[tenant_name]
    username = site.fresh_visitor()
    await password_sign_in(page, site, tenant, username, VISITOR_PASSWORD)
    await add_passkey(page, site, tenant, "Laptop")
    assert await page.get_by_text("Laptop", exact=True).is_visible()  # on the account page
    await context.clear_cookies()
    return username


async def test_register_on_the_account_page_then_sign_in_with_the_passkey_alone(
        page: Page, context: BrowserContext, site: Site) -> None:
    authenticator = await virtual_authenticator(page)
    await _registered(page, context, site)
    stored = await authenticator.credentials()
    assert len(stored) == 1 and stored[0]["isResidentCredential"]  # discoverable
    assert stored[0]["rpId"] == "localhost"
    tenant = site.tenants["acme"]
    await page.goto(site.authorize_url(tenant, site.passkey_base))
    await page.wait_for_url("**/login?request=*")
    button = page.locator("#passkey-button")
    assert await button.is_visible()
    await button.click()  # no username, no password
    values = await _allow(page, site)
    assert values["iss"] == f"{site.passkey_base}/acme" and len(values["code"]) == 43
    assert (await authenticator.credentials())[0]["signCount"] >= 2


async def test_password_then_the_passkey_as_second_factor(
        page: Page, context: BrowserContext, site: Site) -> None:
    await virtual_authenticator(page)
    username = await _registered(page, context, site, "globex")  # the midnight theme
    tenant = site.tenants["globex"]
    await password_sign_in(page, site, tenant, username, VISITOR_PASSWORD)
    assert "/globex/factor/passkey?request=" in page.url
    await page.locator("#passkey-button").click()
    values = await _allow(page, site)
    assert len(values["code"]) == 43


async def test_no_user_verification_no_sign_in(page: Page, context: BrowserContext,
                                               site: Site) -> None:
    """Passwordless sign-in requires user verification (the options say so): an
    authenticator that fails it (a wrong PIN, an unknown finger) makes Chromium refuse the
    ceremony itself, so no response reaches the server and the page says so. (A response
    without user verification that does reach the server is refused there:
    tests/web/signin/test_passkey.py.)"""
    authenticator = await virtual_authenticator(page)
    await _registered(page, context, site)
    await authenticator.user_verified(False)
    await page.goto(site.authorize_url(site.tenants["acme"], site.passkey_base))
    posted: list[str] = []
    page.on("request", lambda request: posted.append(request.url)
            if request.method == "POST" else None)
    await page.locator("#passkey-button").click()
    await page.locator("[data-webauthn-state=failed]").wait_for()
    assert "/acme/login?request=" in page.url
    assert posted == []  # nothing was sent
    assert await page.locator("#passkey-button").is_enabled()  # and it can be tried again
    await authenticator.user_verified(True)
    await page.locator("#passkey-button").click()
    assert (await _allow(page, site))["code"]


async def test_a_credential_of_another_tenant_is_refused(page: Page, context: BrowserContext,
                                                         site: Site) -> None:
    """acme and globex share the host, so the RP ID: the browser offers acme's passkey on
    globex's page, and globex refuses it."""
    await virtual_authenticator(page)
    await _registered(page, context, site, "acme")
    await page.goto(site.authorize_url(site.tenants["globex"], site.passkey_base))
    await page.locator("#passkey-button").click()
    error = page.locator("#passkey-error")
    await error.wait_for()
    assert "not registered for an account here" in await error.inner_text()
    assert "/globex/login/passkey" in page.url or "/globex/login" in page.url


async def test_a_replayed_assertion_is_refused(page: Page, context: BrowserContext,
                                               site: Site) -> None:
    await virtual_authenticator(page)
    await _registered(page, context, site)
    await page.goto(site.authorize_url(site.tenants["acme"], site.passkey_base))
    async with page.expect_request("**/login/passkey") as posted:
        await page.locator("#passkey-button").click()
    body = (await posted.value).post_data
    assert body and "credential=" in body
    await page.wait_for_url("**/consent?request=*")  # the sign-in goes on
    again = await context.request.post(f"{site.passkey_base}/acme/login/passkey", data=body,
                                       headers={"Content-Type":
                                                "application/x-www-form-urlencoded"})
    assert again.status == 401
    assert "expired or was used already" in await again.text()


@pytest.mark.parametrize("tenant_name", ["acme", "globex"])
async def test_screenshots_of_the_passkey_login_and_prompt(browser: Browser, site: Site,
                                                           tenant_name: str) -> None:
    """The login page with "Sign in with a passkey" (desktop and phone), and the page while
    the browser waits for the person (no authenticator answers: the prompt stays open)."""
    context = await browser.new_context(viewport=DESKTOP, locale="en-US",
                                        extra_http_headers={"Accept-Language": "en"})
    try:
        page = await context.new_page()
        tenant = site.tenants[tenant_name]
        ARTIFACTS.mkdir(exist_ok=True)
        await page.goto(site.authorize_url(tenant, site.passkey_base))
        await page.locator("#passkey-button").wait_for()
        theme = tenant.theme
        for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            await page.set_viewport_size(size)
            await page.screenshot(path=str(ARTIFACTS / f"passkey-login-{theme}-{size_name}.png"),
                                  full_page=True)
        cdp = await context.new_cdp_session(page)
        await cdp.send("WebAuthn.enable", {"enableUI": False})  # no authenticator at all
        await page.set_viewport_size(DESKTOP)
        await page.locator("#passkey-button").click()
        waiting = page.locator("[data-webauthn-state=waiting]")
        await waiting.wait_for()
        assert await page.locator("#passkey-button").is_disabled()
        for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            await page.set_viewport_size(size)
            await page.screenshot(
                path=str(ARTIFACTS / f"passkey-prompt-{theme}-{size_name}.png"), full_page=True)
    finally:
        await context.close()
