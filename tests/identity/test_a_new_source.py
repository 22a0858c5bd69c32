"""The seam for a new identity source: a test-only ``PasswordSource`` with one fixed user, who
is in no tenant file, registered as a source type and declared for the tenant in the test
(``Sources``), signs in, gets a code, tokens, userinfo and refreshed tokens, end to end
in-process with no other module changed; and when the source stops vouching for them, their
session and refresh token end at once."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jwt

from confidp.identity.identity import PASSWORD, Identity
from confidp.identity.registry import SOURCE_TYPES, Sources, SourceSpec, declared_sources
from confidp.identity.sources import SourceContext
from confidp.model import Tenant
from tests.e2e.flow import VERIFIER, authorize_url, location, query_of, seed_params
from tests.inprocess import serving, submit_consent, submit_login
from tests.support import write_tenant
from tests.web.conftest import example

CAROL = "carol"


@dataclass
class FixedSource:
    """One user, "carol", whose password is "correct horse"."""

    active: bool = True
    id = "fixed"
    kind = "fixed"
    display_name = "A fixed user"

    async def authenticate(self, username: str, password: str,
                           context: SourceContext) -> Identity | None:
        if username != CAROL or not hmac.compare_digest(password, "correct horse"):
            return None
        return Identity(subject="carol-0001", source=self.id, username=CAROL,
                        claims=MappingProxyType({"email": "carol@example.com",
                                                 "email_verified": True, "name": "Carol"}),
                        groups=("staff",), amr=(PASSWORD,), auth_time=context.now)

    async def revalidate(self, identity: Identity, tenant: Tenant,
                         now: float) -> Identity | None:
        return identity if self.active else None


async def test_a_password_source_of_the_test_signs_a_person_in(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", example("acme.yaml"))
    fixed = FixedSource()

    def build(tenant: Tenant, settings: Mapping[str, Any]) -> FixedSource:
        return fixed

    sources = Sources({**SOURCE_TYPES, "fixed": build},
                      lambda tenant: [*declared_sources(tenant), SourceSpec("fixed")])
    async with serving(tenants_dir, themes_dir, tmp_path / "state", sources=sources) as server:
        browser = server.client
        login = location(await browser.get(authorize_url("/acme", seed_params(
            scope="openid email profile offline_access", nonce="n-1"))))
        # beside the tenant file's users, the form asks which account (the source's id)
        wrong = await submit_login(browser, login, CAROL, "wrong", source="fixed")
        assert wrong.status_code == 401
        consent = location(await submit_login(browser, login, CAROL, "correct horse",
                                              source="fixed"))
        page = await browser.get(consent)
        assert CAROL in page.text  # the consent page names whoever the source vouched for
        code = query_of(location(await submit_consent(browser, consent, "approve")))["code"]
        tokens = (await browser.post("/acme/token", data={
            "grant_type": "authorization_code", "code": code, "client_id": "portal-spa",
            "redirect_uri": "http://127.0.0.1:9999/callback", "code_verifier": VERIFIER})).json()
        claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
        assert (claims["sub"], claims["email"], claims["name"], claims["nonce"]) == (
            "carol-0001", "carol@example.com", "Carol", "n-1")
        userinfo = await browser.get("/acme/userinfo", headers={
            "Authorization": f"Bearer {tokens['access_token']}"})
        assert userinfo.json() == {"sub": "carol-0001", "email": "carol@example.com",
                                   "email_verified": True, "name": "Carol"}
        refreshed = await browser.post("/acme/token", data={
            "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
            "client_id": "portal-spa"})
        assert refreshed.status_code == 200, refreshed.text
        silent = authorize_url("/acme", seed_params(scope="openid", prompt="none"))
        assert "code" in query_of(location(await browser.get(silent)))
        # the source stops vouching for carol: her session and refresh token end at once
        fixed.active = False
        assert query_of(location(await browser.get(silent)))["error"] == "login_required"
        refused = await browser.post("/acme/token", data={
            "grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"],
            "client_id": "portal-spa"})
        assert (refused.status_code, refused.json()["error_description"]) == (
            400, "The user can no longer sign in.")
        # and the tenant file's own users are still there
        fixed.active = True
        alice = location(await browser.get(authorize_url("/acme", seed_params(prompt="login"))))
        assert (await submit_login(browser, alice, "alice", "wonderland",
                                   source="local")).status_code == 303
