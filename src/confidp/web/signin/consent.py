"""The consent step ({issuer}/consent): the person approves or denies the scopes an
application asks for. Needed for applications with ``require_consent`` when ``prompt=consent``
or a requested scope was not granted yet; what a person approved is remembered (per subject
and application) for as long as a refresh token can live."""

from __future__ import annotations

from dataclasses import replace

from sanic import HTTPResponse

from confidp import audit
from confidp.model import Tenant
from confidp.oauth.authorize import needs_consent
from confidp.oauth.errors import AccessDenied, ConsentRequired, InvalidRequest, OAuthError
from confidp.oauth.records import Consent, load, save
from confidp.store.tenant import TenantStore
from confidp.web.cookies import clear_cookie, session_cookie
from confidp.web.forms import form_value
from confidp.web.pages import page
from confidp.web.sessions import end_session
from confidp.web.signin.finish import finisher_of
from confidp.web.signin.steps import Outcome, Passed, SignIn, Stage, proceed

SWITCH_ACCOUNT = "switch_account"  # the "Use another account" button's decision


def consent_key(subject: str, client_id: str) -> str:
    return f"{subject}\x1f{client_id}"


async def granted_scopes(store: TenantStore, subject: str, client_id: str) -> list[str]:
    record = await load(store, Consent, consent_key(subject, client_id))
    return list(record.scopes) if record else []


async def remember_consent(store: TenantStore, tenant: Tenant, subject: str, client_id: str,
                           scopes: tuple[str, ...]) -> None:
    granted = await granted_scopes(store, subject, client_id)
    await save(store, Consent(tuple(sorted(set(granted) | set(scopes)))),
               consent_key(subject, client_id), tenant.lifetimes.refresh_token_absolute)


async def switch_account(sign_in: SignIn) -> HTTPResponse:
    """"Not you? Use another account": end this browser's session of the tenant and go on to
    the sign-in's first step, which is needed again without it (the form carried the CSRF
    token, so no other site can sign anyone out this way)."""
    if sign_in.session is not None:
        await end_session(sign_in.request, sign_in.tenant, sign_in.session)
    response = await proceed(replace(sign_in, session=None), 303)
    clear_cookie(response, sign_in.tenant, session_cookie(sign_in.tenant))
    return response


class ConsentStep:
    name = "consent"
    stage = Stage.CONSENT
    path = "/consent"

    async def needed(self, sign_in: SignIn) -> bool:
        identity = sign_in.identity
        if identity is None:
            return True
        if not sign_in.application.require_consent:  # no store read when it cannot be needed
            return False
        granted = await granted_scopes(sign_in.store, identity.subject,
                                       sign_in.application.client_id)
        return needs_consent(sign_in.application, granted, sign_in.pending.request)

    def interaction_required(self) -> OAuthError:
        return ConsentRequired("The user has not consented to the requested scopes.")

    async def show(self, sign_in: SignIn) -> HTTPResponse:
        pending, tenant = sign_in.pending, sign_in.tenant
        identity = sign_in.identity
        name = identity.claims.get("name") if identity else None
        return page(sign_in.request, tenant, sign_in.snapshot, "consent.html",
                    page_title="Allow access?", form_targets=[pending.request.redirect_uri],
                    action=f"{tenant.issuer_path}{self.path}", request_id=pending.sealed,
                    csrf_token=pending.csrf_token, application_name=sign_in.application.name,
                    application=sign_in.application,
                    scopes=[tenant.scopes[name] for name in pending.request.scopes],
                    username=identity.username if identity else "",
                    person_name=name if isinstance(name, str) else None)

    async def submit(self, sign_in: SignIn) -> Outcome:
        decision = form_value(sign_in.request, "decision")
        if decision == SWITCH_ACCOUNT:
            return await switch_account(sign_in)
        identity = sign_in.identity
        if decision == "deny":
            _audit(sign_in, audit.CONSENT_DENIED)
            return await finisher_of(sign_in.pending).fail(sign_in, AccessDenied(
                "The user denied the request."), 303)
        if decision != "approve":
            raise InvalidRequest("Choose Allow or Deny.")
        assert identity is not None  # an earlier step established it
        await remember_consent(sign_in.store, sign_in.tenant, identity.subject,
                               sign_in.application.client_id, sign_in.pending.request.scopes)
        _audit(sign_in, audit.CONSENT_GRANTED)
        return Passed()


def _audit(sign_in: SignIn, event: str) -> None:
    identity = sign_in.identity
    audit.emit(sign_in.request, event, tenant=sign_in.tenant,
               client_id=sign_in.application.client_id,
               subject=identity.subject if identity else None,
               connector=identity.source if identity else None,
               scope=" ".join(sign_in.pending.request.scopes))
