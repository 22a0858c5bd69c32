"""Every page a person can see, as a way to bring a fresh browser tab to it. The accessibility
and screenshot tests (test_pages.py) go through this list for every shipped language and both
themes: a new page (a connector chooser, TOTP, passkeys, the account page ...) is one more
entry here, and then it is checked like the others.

An opener gets a tab whose context already asks for the language under test
(``Accept-Language``) and has no cookies; the tab may have shown the pages before it in this
list (one tab per language is half the cost of one per page). It must end on the page, fully
loaded. Use language-neutral selectors (ids, names, values), never the English text.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pyotp
from playwright.async_api import Page

from tests.browser.passkeys import add_passkey, password_sign_in, virtual_authenticator
from tests.browser.site import DIRECTORY_CLIENT, VISITOR_PASSWORD, Site, TenantSite

Opener = Callable[[Page, Site, TenantSite], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PageCase:
    name: str  # in screenshot file names
    open: Opener
    template: str  # the template it shows, to check every required template is covered


async def login_page(page: Page, site: Site, tenant: TenantSite) -> None:
    await page.goto(site.authorize_url(tenant))
    await page.wait_for_url("**/login?request=*")


async def _submit_login(page: Page, username: str, password: str) -> None:
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(password)
    await page.locator("form[action$='/login'] button[type=submit]").click()


async def consent_page(page: Page, site: Site, tenant: TenantSite) -> None:
    await login_page(page, site, tenant)
    await _submit_login(page, tenant.username, tenant.password)
    await page.wait_for_url("**/consent?request=*")


async def login_error_page(page: Page, site: Site, tenant: TenantSite) -> None:
    await login_page(page, site, tenant)
    await _submit_login(page, site.fresh_visitor(), "not-the-password")
    await page.locator("#login-error").wait_for()


async def throttled_page(page: Page, site: Site, tenant: TenantSite) -> None:
    """The login throttle's plural message (the test tenants allow two failures per user)."""
    await login_page(page, site, tenant)
    username = site.fresh_visitor()
    for _ in range(3):
        await _submit_login(page, username, "not-the-password")
        await page.locator("#login-error").wait_for()


async def error_page(page: Page, site: Site, tenant: TenantSite) -> None:
    await page.goto(f"{site.base}/{tenant.name}/authorize?client_id={tenant.client_id}")


async def expired_page(page: Page, site: Site, tenant: TenantSite) -> None:
    """A sign-in link used already (denied at consent, then opened again): "Start again"."""
    await consent_page(page, site, tenant)
    login_url = page.url.replace("/consent?", "/login?")
    await page.locator("button[value=deny]").click()
    await page.wait_for_url(f"{site.callback}?*")
    await page.goto(login_url)


async def logout_confirm_page(page: Page, site: Site, tenant: TenantSite) -> None:
    await consent_page(page, site, tenant)
    await page.goto(f"{site.base}/{tenant.name}/logout")


async def signed_out_page(page: Page, site: Site, tenant: TenantSite) -> None:
    await page.goto(f"{site.base}/{tenant.name}/logout")


async def upstream_error_page(page: Page, site: Site, tenant: TenantSite) -> None:
    """The login page's identity provider button, when the provider does not answer."""
    await login_page(page, site, tenant)
    await page.locator("button[name=connector][value=corp]").click()
    await page.wait_for_url("**/upstream")


async def not_found_page(page: Page, site: Site, tenant: TenantSite) -> None:
    await page.goto(f"{site.base}/{tenant.name}/no-such-page")


TWO_FACTORS = "urn:confidp:acr:2fa"  # step-up: a second factor for this request


async def _totp_code(page: Page, offset: int = 0) -> str:
    """The code of the secret the setup page shows (pyotp, like the person's app)."""
    uri = await page.locator("a[href^='otpauth://']").get_attribute("href")
    assert uri is not None
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    return str(pyotp.TOTP(secret).at(time.time(), counter_offset=offset))


async def totp_enrol_page(page: Page, site: Site, tenant: TenantSite) -> None:
    """A person without a factor, at a request that asks for one (acr_values): the setup."""
    await page.goto(site.authorize_url(tenant, acr_values=TWO_FACTORS))
    await page.wait_for_url("**/login?request=*")
    await _submit_login(page, site.fresh_visitor(), VISITOR_PASSWORD)
    await page.wait_for_url("**/factor/totp/enrol?request=*")


async def recovery_codes_page(page: Page, site: Site, tenant: TenantSite) -> None:
    await totp_enrol_page(page, site, tenant)
    await page.locator("#code").fill(await _totp_code(page))
    await page.locator("form[action$='/factor/totp/enrol'] button[type=submit]").click()
    await page.wait_for_url("**/factor/recovery-codes?request=*")


async def _with_authenticator_app(page: Page, site: Site, tenant: TenantSite) -> str:
    """A fresh person who set up an authenticator app on the account page: their name."""
    username = site.fresh_visitor()
    await page.goto(f"{site.base}/{tenant.name}/account")
    await page.wait_for_url("**/login?request=*")
    await _submit_login(page, username, VISITOR_PASSWORD)
    await page.wait_for_url("**/account")
    await page.goto(f"{site.base}/{tenant.name}/account/totp")
    await page.locator("#code").fill(await _totp_code(page))
    await page.locator("form[action$='/account/totp'] button[type=submit]").click()
    await page.locator(".recovery-codes").wait_for()
    return username


async def factor_code_page(page: Page, site: Site, tenant: TenantSite) -> None:
    """A person with an authenticator app, signing in again: the code page."""
    username = await _with_authenticator_app(page, site, tenant)
    await page.goto(site.authorize_url(tenant, prompt="login"))
    await page.wait_for_url("**/login?request=*")
    await _submit_login(page, username, VISITOR_PASSWORD)
    await page.wait_for_url("**/factor/code?request=*")


async def account_page(page: Page, site: Site, tenant: TenantSite) -> None:
    """The account page of a person who set up an authenticator app there."""
    await _with_authenticator_app(page, site, tenant)
    await page.goto(f"{site.base}/{tenant.name}/account")
    await page.locator("button[value=sign-out-everywhere]").wait_for()


async def passkey_login_page(page: Page, site: Site, tenant: TenantSite) -> None:
    """The login page with "Sign in with a passkey" (the localhost site: passkeys need a
    domain), its script run."""
    await page.goto(site.authorize_url(tenant, site.passkey_base))
    await page.wait_for_url("**/login?request=*")
    await page.locator("#passkey-button").wait_for()


async def passkeys_page(page: Page, site: Site, tenant: TenantSite) -> None:
    """The account page's passkeys, signed in with a password, none registered yet."""
    await password_sign_in(page, site, tenant, site.fresh_visitor(), VISITOR_PASSWORD)
    await page.goto(f"{site.passkey_base}/{tenant.name}/account/passkeys")
    await page.locator("#add-passkey-button").wait_for()


async def passkey_factor_page(page: Page, site: Site, tenant: TenantSite) -> None:
    """A passkey as the second factor: a visitor registers one (Chromium's virtual
    authenticator), then signs in again with their password."""
    await virtual_authenticator(page)
    username = site.fresh_visitor()
    await password_sign_in(page, site, tenant, username, VISITOR_PASSWORD)
    await add_passkey(page, site, tenant, "Laptop")
    await password_sign_in(page, site, tenant, username, VISITOR_PASSWORD, prompt="login")
    await page.wait_for_url("**/factor/passkey?request=*")
    await page.locator("#passkey-button").wait_for()


async def login_choice_page(page: Page, site: Site, tenant: TenantSite) -> None:
    """The login form of an application that accepts the tenant's users and a directory:
    it asks which account."""
    await page.goto(site.authorize_url(tenant, client_id=DIRECTORY_CLIENT, scope="openid"))
    await page.wait_for_selector("select#source")


PAGES: list[PageCase] = [
    PageCase("login", login_page, "login.html"),
    PageCase("login-choice", login_choice_page, "login.html"),
    PageCase("login-error", login_error_page, "login.html"),
    PageCase("login-throttled", throttled_page, "login.html"),
    PageCase("consent", consent_page, "consent.html"),
    PageCase("error", error_page, "error.html"),
    PageCase("expired", expired_page, "error.html"),
    PageCase("logout-confirm", logout_confirm_page, "logout_confirm.html"),
    PageCase("signed-out", signed_out_page, "logged_out.html"),
    PageCase("not-found", not_found_page, "not_found.html"),
    PageCase("totp-enrol", totp_enrol_page, "totp_enrol.html"),
    PageCase("recovery-codes", recovery_codes_page, "recovery_codes.html"),
    PageCase("factor-code", factor_code_page, "factor_code.html"),
    PageCase("account", account_page, "account.html"),
    PageCase("login-passkey", passkey_login_page, "login.html"),
    PageCase("passkeys", passkeys_page, "passkeys.html"),
    PageCase("passkey-factor", passkey_factor_page, "passkey_factor.html"),
    PageCase("upstream-error", upstream_error_page, "error.html"),
]
