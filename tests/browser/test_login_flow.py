"""Real Chromium (Debian's, driven by Playwright's async API) through the seed's authorization
URL: themed login page, login, consent, and back to a local callback server with code, state
and iss; the language a request asks for, kept through the sign-in; the ways out of a dead end.

Run in their own pytest process (``make test`` does).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page

from tests.browser.pages import consent_page, expired_page, login_page
from tests.browser.site import Site, TenantSite

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    made = await browser.new_context(viewport={"width": 1000, "height": 760}, locale="en-US",
                                     extra_http_headers={"Accept-Language": "en-US,en;q=0.8"})
    yield made
    await made.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def _sign_in(page: Page, site: Site, tenant: TenantSite) -> dict[str, str]:
    await page.goto(site.authorize_url(tenant))
    assert await page.get_by_role("heading", name="Sign in").is_visible()
    await page.get_by_label("Username").fill(tenant.username)
    await page.get_by_label("Password").fill(tenant.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{site.base}/{tenant.name}/consent?request=*")
    assert await page.get_by_role("heading", name="Allow access?").is_visible()
    await page.get_by_role("button", name="Allow").click()
    await page.wait_for_url(f"{site.callback}?*")
    assert await page.get_by_text("callback reached").is_visible()
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


async def test_acme_seed_flow_default_theme(page: Page, site: Site) -> None:
    values = await _sign_in(page, site, site.tenants["acme"])
    assert values["state"] == "9d4f8dd1"
    assert values["iss"] == f"{site.base}/acme"
    assert len(values["code"]) == 43


async def test_globex_flow_midnight_theme(page: Page, site: Site) -> None:
    values = await _sign_in(page, site, site.tenants["globex"])
    assert values["state"] == "9d4f8dd1"
    assert values["iss"] == f"{site.base}/globex"


async def test_themes_look_different(page: Page, site: Site) -> None:
    """The two themes render visibly different pages: background colour and font family."""
    looks = {}
    for name in ("acme", "globex"):
        await login_page(page, site, site.tenants[name])
        looks[name] = await page.evaluate(
            "() => { const s = getComputedStyle(document.body);"
            " const b = getComputedStyle(document.querySelector('button'));"
            " return [s.backgroundColor, s.fontFamily, b.backgroundColor]; }")
    assert looks["acme"][0] != looks["globex"][0]
    assert looks["acme"][1] != looks["globex"][1]
    assert looks["acme"][2] == "rgb(11, 95, 255)"    # acme's #0b5fff from theme.css
    assert looks["globex"][2] == "rgb(255, 122, 24)"  # globex's #ff7a18


async def test_the_default_theme_follows_a_dark_system_scheme(browser: Browser,
                                                               site: Site) -> None:
    backgrounds = {}
    for scheme in ("light", "dark"):
        context = await browser.new_context(color_scheme=scheme)  # type: ignore[arg-type]
        page = await context.new_page()
        await login_page(page, site, site.tenants["acme"])
        backgrounds[scheme] = await page.evaluate(
            "() => [getComputedStyle(document.querySelector('main')).backgroundColor,"
            " getComputedStyle(document.querySelector('button')).backgroundColor]")
        await context.close()
    assert backgrounds["light"][0] == "rgb(255, 255, 255)"
    assert backgrounds["dark"][0] == "rgb(26, 29, 35)"  # the theme's dark surface
    assert backgrounds["dark"][1] == "rgb(11, 95, 255)"  # acme's primary, in both


async def test_wrong_password_is_announced(page: Page, site: Site) -> None:
    await login_page(page, site, site.tenants["acme"])
    # not alice: the test tenants allow one failure per user before throttling
    await page.get_by_label("Username").fill(site.fresh_visitor())
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    assert await alert.inner_text() == "The username or password is incorrect."
    username = page.get_by_label("Username")
    assert await username.get_attribute("aria-invalid") == "true"
    assert await username.get_attribute("aria-describedby") == "login-error"


async def test_error_page(page: Page, site: Site) -> None:
    response = await page.goto(f"{site.base}/acme/authorize?client_id=portal-spa")
    assert response is not None and response.status == 400
    assert await page.get_by_role("alert").inner_text() == "Missing required OAuth parameters."


async def test_ui_locales_outranks_the_browser_and_survives_the_login_form(page: Page,
                                                                         site: Site) -> None:
    """OpenID Connect Core §3.1.2.1: the application's ui_locales=ar wins over the browser's
    English, on the login page after /authorize and after a failed password."""
    tenant = site.tenants["acme"]
    await page.goto(site.authorize_url(tenant, ui_locales="ar-EG fr"))
    assert await page.evaluate("() => [document.documentElement.lang, document.dir]") == [
        "ar", "rtl"]
    assert await page.get_by_role("heading", name="تسجيل الدخول").is_visible()
    await page.get_by_label("اسم المستخدم").fill(site.fresh_visitor())
    await page.get_by_label("كلمة المرور").fill("not-the-password")
    await page.get_by_role("button", name="تسجيل الدخول").click()
    assert await page.get_by_role("alert").inner_text() == \
        "اسم المستخدم أو كلمة المرور غير صحيحة."
    assert await page.evaluate("() => document.documentElement.lang") == "ar"


async def test_not_you_signs_out_and_returns_to_the_same_sign_in(page: Page, context:
                                                                 BrowserContext,
                                                                 site: Site) -> None:
    tenant = site.tenants["acme"]
    await consent_page(page, site, tenant)
    request_id = parse_qs(urlsplit(page.url).query)["request"][0]
    assert await page.get_by_text("Signed in as Alice Liddell (alice)").is_visible()
    await page.get_by_role("button", name="Use another account").click()
    await page.wait_for_url(f"{site.base}/acme/login?request=*")
    assert parse_qs(urlsplit(page.url).query)["request"][0] == request_id
    cookies = {c["name"] for c in await context.cookies()}
    assert "confidp_session_acme" not in cookies
    # the same sign-in goes on with whoever signs in now
    await page.get_by_label("Username").fill(tenant.username)
    await page.get_by_label("Password").fill(tenant.password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{site.base}/acme/consent?request=*")


async def test_a_used_sign_in_link_offers_to_start_again(page: Page, site: Site) -> None:
    await expired_page(page, site, site.tenants["acme"])
    assert await page.get_by_role("alert").inner_text() == \
        "This sign-in request has expired or was already used."
    link = page.get_by_role("link", name="Start again")
    assert await link.get_attribute("href") == "https://portal.example.com/login"
    await expired_page(page, site, site.tenants["globex"])
    back = page.get_by_role("link", name="Go back to Globex Billing")
    assert await back.get_attribute("href") == "https://billing.globex.example/"


async def test_consent_shows_the_application_s_links(page: Page, site: Site) -> None:
    await consent_page(page, site, site.tenants["acme"])
    policy = page.get_by_role("link", name="Privacy policy of Acme Customer Portal")
    assert await policy.get_attribute("href") == "https://acme.example/privacy"
    terms = page.get_by_role("link", name="Terms of service of Acme Customer Portal")
    assert await terms.get_attribute("href") == "https://acme.example/terms"
    assert await page.locator("img.app-logo").evaluate("e => e.naturalWidth") > 0


async def test_totp_enrolment_then_sign_in_with_a_code(browser: Browser, site: Site) -> None:
    """A person asked for a second factor (acr_values) sets up an authenticator app, keeps
    the recovery codes, reaches the application; then signs in again with a code."""
    import pyotp

    from tests.browser.pages import TWO_FACTORS
    from tests.browser.site import VISITOR_PASSWORD

    tenant = site.tenants["acme"]
    username = site.fresh_visitor()
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await page.goto(site.authorize_url(tenant, acr_values=TWO_FACTORS))
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(VISITOR_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/factor/totp/enrol?request=*")
    assert await page.get_by_role("heading", name="Set up your authenticator app").is_visible()
    qr = page.get_by_role("img", name="QR code to scan with your authenticator app")
    assert (await qr.bounding_box() or {}).get("width", 0) > 100  # the SVG renders
    await page.get_by_text("Can't scan it? Enter the key instead").click()
    secret = (await page.locator("code.secret").inner_text()).replace(" ", "")
    totp = pyotp.TOTP(secret)
    first = totp.now()
    await page.get_by_label("Enter the 6-digit code the app shows").fill(first)
    await page.get_by_role("button", name="Verify and continue").click()
    await page.wait_for_url("**/factor/recovery-codes?request=*")
    assert await page.locator(".recovery-codes li").count() == 10
    await page.get_by_role("button", name="I have saved my recovery codes").click()
    await page.wait_for_url(f"{site.base}/acme/consent?request=*")
    await page.get_by_role("button", name="Allow").click()
    await page.wait_for_url(f"{site.callback}?*")
    await context.close()
    # another browser: password, then a code (the next step's: this one was used)
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await page.goto(site.authorize_url(tenant))
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(VISITOR_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/factor/code?request=*")
    await page.get_by_label("Code from your authenticator app").fill(first)
    await page.get_by_role("button", name="Verify").click()
    assert await page.get_by_role("alert").is_visible()  # used already: refused
    code = totp.at(time.time(), counter_offset=1)
    await page.get_by_label("Code from your authenticator app").fill(code)
    await page.get_by_role("button", name="Verify").click()
    await page.wait_for_url(f"{site.base}/acme/consent?request=*")
    await context.close()
