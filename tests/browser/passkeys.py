"""Chromium's virtual authenticator (the DevTools Protocol's WebAuthn domain, through a
Playwright CDP session) and the passkey flows the browser tests and the page list share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.async_api import CDPSession, Page

from tests.browser.site import Site, TenantSite


@dataclass
class VirtualAuthenticator:
    cdp: CDPSession
    id: str

    async def credentials(self) -> list[dict[str, Any]]:
        found = await self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        credentials: list[dict[str, Any]] = found["credentials"]
        return credentials

    async def user_verified(self, verified: bool) -> None:
        """Whether the next ceremonies' user verification (PIN, biometric) succeeds."""
        await self.cdp.send("WebAuthn.setUserVerified",
                            {"authenticatorId": self.id, "isUserVerified": verified})


async def virtual_authenticator(page: Page, *, user_verified: bool = True
                                ) -> VirtualAuthenticator:
    """A platform authenticator (CTAP2, internal transport) that keeps discoverable
    credentials and verifies its user, attached to ``page``'s tab: the browser then uses it
    instead of a real one."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable", {"enableUI": False})
    added = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": user_verified,
        "automaticPresenceSimulation": True}})
    return VirtualAuthenticator(cdp, added["authenticatorId"])


async def password_sign_in(page: Page, site: Site, tenant: TenantSite, username: str,
                           password: str, **extra: str) -> None:
    """Through the localhost site's login form (ends on the page after it)."""
    await page.goto(site.authorize_url(tenant, site.passkey_base, **extra))
    await page.wait_for_url("**/login?request=*")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(password)
    await page.locator("form[action$='/login'] button[type=submit]").click()
    await page.wait_for_url(lambda url: "/login?" not in url)


async def add_passkey(page: Page, site: Site, tenant: TenantSite, name: str) -> None:
    """On the account page of a signed-in person: "Add a passkey"."""
    await page.goto(f"{site.passkey_base}/{tenant.name}/account/passkeys")
    await page.locator("#passkey-name").fill(name)
    await page.locator("#add-passkey-button").click()
    await page.wait_for_url(f"{site.passkey_base}/{tenant.name}/account")  # it lists it
