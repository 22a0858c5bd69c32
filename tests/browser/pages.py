"""Every page a person can see, as a way to bring a fresh browser tab to it. The accessibility
and screenshot tests (test_pages.py) go through this list for every shipped language and both
themes: a new page (a connector chooser, TOTP, passkeys, the account page ...) is one more
entry here, and then it is checked like the others.

An opener gets a new tab whose context already asks for the language under test
(``Accept-Language``); it must end on the page, fully loaded. Use language-neutral selectors
(ids, names, values), never the English text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from playwright.async_api import Page

from tests.browser.site import DIRECTORY_CLIENT, Site, TenantSite

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
    """The login throttle's plural message (the test tenants allow one failure per user)."""
    await login_page(page, site, tenant)
    username = site.fresh_visitor()
    for _ in range(2):
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
    PageCase("upstream-error", upstream_error_page, "error.html"),
]
