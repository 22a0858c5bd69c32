"""POST {issuer}/token in-process, for what a moved clock shows without waiting. The token
endpoint against the real server, with an independent relying party, is in
tests/e2e/test_tokens.py."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.flow import authorize_url, location, query_of, seed_params
from tests.e2e.test_tokens import code_form
from tests.inprocess import serving, submit_consent, submit_login
from tests.support import write_tenant
from tests.web.conftest import example


async def test_expired_code(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", example("acme.yaml",
                                                   lifetimes={"authorization_code": "1s"}))
    async with serving(tenants_dir, themes_dir, tmp_path / "state") as server:
        browser = server.client
        login = location(await browser.get(authorize_url("/acme", seed_params())))
        consent = location(await submit_login(browser, login, "alice", "wonderland"))
        code = query_of(location(await submit_consent(browser, consent, "approve")))["code"]
        server.clock.now += 1.5
        response = await browser.post("/acme/token", data=code_form(code))
        assert response.json()["error_description"] == \
            "The authorization code is invalid or expired."
