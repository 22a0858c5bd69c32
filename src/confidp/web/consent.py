"""GET and POST {issuer}/consent: approve or deny the scopes an application asks for."""

from __future__ import annotations

from sanic import HTTPResponse, Request

from confidp.model import Tenant
from confidp.oauth.authorize import revalidate
from confidp.oauth.errors import AccessDenied, InvalidRequest
from confidp.registry import Snapshot
from confidp.store.kinds import SESSION
from confidp.web.flow import (
    Session,
    check_csrf,
    clear_cookie,
    finish_with_error,
    issue_code,
    load_pending,
    load_session,
    login_path,
    remember_consent,
    session_cookie,
    store_of,
)
from confidp.web.pages import page, redirect

SWITCH_ACCOUNT = "switch_account"  # the "Use another account" button's decision


async def consent_form(request: Request, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    pending = await load_pending(request, tenant, request.args.get("request"))
    application = revalidate(pending.request, tenant)
    session = await load_session(request, tenant)
    if session is None:
        return redirect(login_path(tenant, pending.id or ""), 302)
    scopes = [tenant.scopes[name] for name in pending.request.scopes]
    user = tenant.active_user(session.subject)
    return page(request, tenant, snapshot, "consent.html", page_title="Allow access?",
                form_targets=[pending.request.redirect_uri],
                action=f"{tenant.issuer_path}/consent", request_id=pending.id,
                csrf_token=pending.csrf_token, application_name=application.name,
                application=application, scopes=scopes, username=session.username,
                person_name=user.name if user else None)


async def switch_account(request: Request, tenant: Tenant, pending_id: str,
                         session: Session) -> HTTPResponse:
    """"Not you? Use another account": end this browser's session of the tenant and show the
    login page of the same sign-in request (the form carried its CSRF token, so no other site
    can sign anyone out this way)."""
    await store_of(request, tenant).delete(SESSION, session.id_digest)
    response = redirect(login_path(tenant, pending_id), 303)
    clear_cookie(response, tenant, session_cookie(tenant))
    return response


async def consent_submit(request: Request, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    form = request.form
    pending = await load_pending(request, tenant, form.get("request"))
    check_csrf(pending, form.get("csrf_token"))
    application = revalidate(pending.request, tenant)
    session = await load_session(request, tenant)
    if session is None:
        return redirect(login_path(tenant, pending.id or ""), 303)
    decision = form.get("decision")
    if decision == SWITCH_ACCOUNT:
        return await switch_account(request, tenant, pending.id or "", session)
    if decision == "deny":
        return await finish_with_error(request, tenant, pending, AccessDenied(
            "The user denied the request."), 303)
    if decision != "approve":
        raise InvalidRequest("Choose Allow or Deny.")
    await remember_consent(store_of(request, tenant), tenant, session.subject,
                           application.client_id, pending.request.scopes)
    return await issue_code(request, tenant, application, pending, session, 303)
