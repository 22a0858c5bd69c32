"""The sealed sign-in request (confidp.web.pending), in-process: what its URL carries, and
sign-ins begun before an upgrade."""

from __future__ import annotations

import json

from confidp.oauth.tokens import digest
from confidp.web.pending import SIGN_IN_PURPOSE
from tests.e2e.flow import CHALLENGE, authorize_url, hidden_fields, location, query_of, seed_params
from tests.inprocess import InProcess, submit_consent

JSON = {"Accept": "application/json"}
BINDING = "b" * 43


def first_version(idp: InProcess, created_at: float) -> str:
    """A sign-in request sealed as confidp sealed them before sign-in steps (version 1)."""
    fields = ["portal-spa", "http://127.0.0.1:9999/callback", ["openid", "profile"], "st-1",
              CHALLENGE, "S256", None, [], None, None]
    data = [1, "acme", created_at, created_at + 600, digest(BINDING), "c" * 43, fields]
    return idp.ctx.sealer.seal(json.dumps(data).encode(), SIGN_IN_PURPOSE)


async def test_a_sign_in_begun_before_the_upgrade_finishes(idp: InProcess) -> None:
    browser = idp.client
    browser.cookies.set("confidp_flow_acme", BINDING, path="/acme")
    sealed = first_version(idp, idp.clock())
    page = await browser.get(f"/acme/login?request={sealed}")
    assert page.status_code == 200
    assert hidden_fields(page.text) == {"request": sealed, "csrf_token": "c" * 43}
    consent = location(await browser.post("/acme/login", data={
        **hidden_fields(page.text), "username": "alice", "password": "wonderland"}))
    assert consent.startswith("/acme/consent?request=")
    callback = location(await submit_consent(browser, consent, "approve"))
    assert query_of(callback)["state"] == "st-1" and "code" in query_of(callback)
    # used up as version 1 marked its use: the same URL is refused now
    again = await browser.get(f"/acme/login?request={sealed}", headers=JSON)
    assert again.json()["error_description"] == \
        "This sign-in request has expired or was already used."


async def test_each_page_carries_the_steps_passed(idp: InProcess) -> None:
    browser = idp.client
    login = location(await browser.get(authorize_url("/acme", seed_params())))
    page = await browser.get(login)
    consent = location(await browser.post("/acme/login", data={
        **hidden_fields(page.text), "username": "alice", "password": "wonderland"}))

    def carried(url: str) -> list[object]:
        data = idp.ctx.sealer.unseal(query_of(url)["request"], SIGN_IN_PURPOSE)
        assert data is not None
        return list(json.loads(data))

    before, after = carried(login), carried(consent)
    assert (before[0], before[8], before[9], before[10]) == (2, [], None, "code")
    # the session carries the identity once the password passed: the URL does not
    assert (after[8], after[9]) == (["password"], None)
    assert after[7] == before[7]  # one sign-in: one key marks every page of it used
    assert len(query_of(consent)["request"]) < 1000
