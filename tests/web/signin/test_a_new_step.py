"""The seam for a new sign-in step: a test-only "accept the terms of use" step, one module's
worth of code registered with one line (``STEPS.plus``), runs between the password and consent
with no other module changed: its page is routed, the sealed request records it, prompt=none
answers its error, and once accepted it is not asked again."""

from __future__ import annotations

import html
import json
from pathlib import Path

from sanic import HTTPResponse

from confidp.oauth.errors import OAuthError
from confidp.web.pages import page
from confidp.web.pending import SIGN_IN_PURPOSE
from confidp.web.signin import STEPS
from confidp.web.signin.steps import Outcome, Passed, SignIn, Stage
from tests.e2e.flow import authorize_url, location, query_of, seed_params
from tests.inprocess import InProcess, serving, submit_consent, submit_login
from tests.support import write_tenant
from tests.web.conftest import example

ACCEPTED = "terms_accepted"  # the test step's own store kind: subject -> accepted


class InteractionRequired(OAuthError):
    """OpenID Connect Core §3.1.2.6."""

    error = "interaction_required"
    redirectable = True


class TermsStep:
    name = "terms"
    stage = Stage.CONSENT
    path = "/terms"

    async def needed(self, sign_in: SignIn) -> bool:
        identity = sign_in.identity
        return identity is None or await sign_in.store.get(ACCEPTED, identity.subject) is None

    def interaction_required(self) -> OAuthError:
        return InteractionRequired("The user has not accepted the terms of use.")

    async def show(self, sign_in: SignIn) -> HTTPResponse:
        # the theme has no terms template: the error page's, with a form as its detail
        return page(sign_in.request, sign_in.tenant, sign_in.snapshot, "error.html",
                    page_title="Terms of use", message="Accept the terms of use?",
                    detail=f"request={sign_in.pending.sealed} "
                    f"csrf_token={sign_in.pending.csrf_token}", missing=[], error_code="",
                    way_back=None)

    async def submit(self, sign_in: SignIn) -> Outcome:
        if sign_in.request.form.get("accept") != "yes":
            return await self.show(sign_in)
        assert sign_in.identity is not None
        await sign_in.store.put(ACCEPTED, sign_in.identity.subject, {"at": sign_in.now}, 3600)
        return Passed()


def form_of(text: str) -> dict[str, str]:
    """The request and CSRF token the test step's page shows."""
    detail = html.unescape(text.split("request=", 1)[1].split("<", 1)[0])
    request, csrf = detail.split(" csrf_token=")
    return {"request": request, "csrf_token": csrf.strip()}


def steps_passed(server: InProcess, url: str) -> list[str]:
    sealed = query_of(url)["request"]
    data = server.ctx.sealer.unseal(sealed, SIGN_IN_PURPOSE)
    assert data is not None
    return list(json.loads(data)[8])


async def test_a_terms_of_use_step_between_password_and_consent(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", example("acme.yaml"))
    steps = STEPS.plus(TermsStep(), before="consent")
    assert [step.name for step in steps] == [
        "upstream", "passkey", "password", "webauthn", "otp", "totp-enrol", "recovery-codes",
        "factor-required", "terms", "consent"]
    async with serving(tenants_dir, themes_dir, tmp_path / "state", steps=steps) as server:
        browser = server.client
        login = location(await browser.get(authorize_url("/acme", seed_params())))
        terms = location(await submit_login(browser, login, "alice", "wonderland"))
        assert terms.startswith("/acme/terms?request=")
        assert steps_passed(server, terms) == ["password"]
        assert browser.cookies.get("confidp_session_acme")  # every authentication step passed
        shown = await browser.get(terms)
        assert shown.status_code == 200 and "Accept the terms of use?" in shown.text
        declined = await browser.post("/acme/terms", data={**form_of(shown.text)})
        assert declined.status_code == 200  # asked again
        # the step's form, like any other, needs the sign-in's CSRF token
        forged = {**form_of(shown.text), "csrf_token": "x" * 43, "accept": "yes"}
        refused = await browser.post("/acme/terms", data=forged)
        assert refused.status_code == 400 and "This form has expired." in refused.text
        consent = location(await browser.post("/acme/terms", data={
            **form_of(shown.text), "accept": "yes"}))
        assert consent.startswith("/acme/consent?request=")
        assert steps_passed(server, consent) == ["password", "terms"]
        done = location(await submit_consent(browser, consent, "approve"))
        assert "code" in query_of(done)
        # accepted and consented: the next sign-in goes straight back with a code
        again = location(await browser.get(authorize_url("/acme", seed_params(state="2"))))
        assert "code" in query_of(again)
        # a page of the finished sign-in is used up, the test step's as any other
        stale = await browser.post("/acme/terms", data={**form_of(shown.text), "accept": "yes"})
        assert stale.status_code == 400 and "already used" in stale.text


async def test_prompt_none_answers_the_first_step_that_needs_the_person(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    doc = example("acme.yaml")
    doc["applications"][0]["require_consent"] = False  # type: ignore[index]
    write_tenant(tenants_dir, "acme.yaml", doc)
    steps = STEPS.plus(TermsStep(), before="consent")
    async with serving(tenants_dir, themes_dir, tmp_path / "state", steps=steps) as server:
        browser = server.client
        login = location(await browser.get(authorize_url("/acme", seed_params())))
        terms = location(await submit_login(browser, login, "alice", "wonderland"))
        assert terms.startswith("/acme/terms?request=")
        silent = location(await browser.get(authorize_url("/acme", seed_params(prompt="none"))))
        assert query_of(silent)["error"] == "interaction_required"
        # the terms page of the first sign-in is still usable, and it finishes it
        shown = await browser.get(terms)
        done = location(await browser.post("/acme/terms", data={
            **form_of(shown.text), "accept": "yes"}))
        assert "code" in query_of(done)
