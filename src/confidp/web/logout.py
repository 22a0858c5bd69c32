"""GET and POST {issuer}/logout (OpenID Connect RP-Initiated Logout 1.0 §2, §3): end the
session, then go to a registered post_logout_redirect_uri (exact match) with state, or show
the signed-out page.

Any page can send a browser here, so a request alone never signs anyone out (§2: "the OP SHOULD
ask the End-User whether to log out"): only a valid ``id_token_hint`` of this tenant naming the
signed-in user does (an expired ID token is still a valid hint). Otherwise the person is asked
on a themed page whose form posts back with a CSRF token bound to the browser's session (an
HMAC of the session's store key under a key derived from the server key): a form posted from
anywhere else, or without the token, is refused with a page saying so. ``client_id``,
``post_logout_redirect_uri`` and ``state`` travel through the form and are checked again when
it comes back, so only a URI registered for the client can ever be the target. With no session
there is nothing to end, and nothing to ask.

A POST that brings no session cookie is answered with a 303 to the same request by GET: a
cross-site POST (an application's auto-submitted form) does not carry confidp's SameSite=Lax
cookie, a top-level GET does, so the session is found and really ended.
"""

from __future__ import annotations

import base64
import hmac
from typing import Any
from urllib.parse import urlencode

from sanic import HTTPResponse

from confidp import audit
from confidp.context import AppRequest
from confidp.keys import TokenError
from confidp.model import Application, Tenant
from confidp.oauth.authorize import authorization_response_uri
from confidp.oauth.errors import TENANT_MISMATCH, FlowError, InvalidRequest
from confidp.oauth.params import parse_query, single_values
from confidp.oauth.tokens import ACCESS_TOKEN_TYP
from confidp.registry import Snapshot
from confidp.server_key import ServerKey
from confidp.web.cookies import clear_cookie, session_cookie
from confidp.web.forms import parameter_text
from confidp.web.pages import page, redirect
from confidp.web.sessions import Session, end_session, presented_session, stored_session

# §2 parameters, then the confirmation form's own
REQUEST_PARAMETERS = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id",
                      "ui_locales", "logout_hint")
CSRF_TOKEN, CONFIRM = "csrf_token", "confirm"  # the confirmation form's own fields
PARAMETERS = (*REQUEST_PARAMETERS, CSRF_TOKEN, CONFIRM)
CSRF_PURPOSE = b"sign-out confirmation csrf"


class SignOutFormRefused(FlowError):
    """The confirmation form came back without the CSRF token of this browser's session."""

    default_description = "This sign-out form has expired or was not sent from this site."
    default_detail = ("Nothing was changed. If you want to sign out, open the application's "
                      "sign-out link again.")


async def _hint_claims(request: AppRequest, tenant: Tenant,
                       hint: str | None) -> dict[str, Any] | None:
    """The claims of the ``id_token_hint``, which must be an ID token this tenant signed (§2:
    "the OP MUST validate that it was the issuer"); None when there is none. An expired ID
    token is still a valid hint."""
    if not hint:
        return None
    ring = await request.app.ctx.tokens.ring(tenant)
    try:
        header, claims = ring.verify(hint)
    except TokenError:
        raise InvalidRequest("The id_token_hint is not an ID token of this issuer.") from None
    if claims.get("iss") != tenant.issuer:
        raise InvalidRequest(TENANT_MISMATCH, "The id_token_hint was issued by another tenant.")
    if header.get("typ") == ACCESS_TOKEN_TYP or not isinstance(claims.get("sub"), str):
        raise InvalidRequest("The id_token_hint is not an ID token.")
    return claims


def _client_of(tenant: Tenant, params: dict[str, str],
               claims: dict[str, Any] | None) -> Application | None:
    """The client named by the ID token hint's audience and/or client_id (§2: when both are
    given they must agree)."""
    client_id = params.get("client_id")
    if claims is not None:
        audience = claims.get("aud")
        hinted = audience if isinstance(audience, str) else None
        if client_id and hinted and client_id != hinted:
            raise InvalidRequest("client_id differs from the id_token_hint's audience.")
        client_id = client_id or hinted
    if not client_id:
        return None
    application = tenant.application(client_id)
    if application is None:
        raise InvalidRequest("Unknown client_id.")
    return application


def _target_of(params: dict[str, str], client: Application | None) -> str | None:
    """The post_logout_redirect_uri, only if registered for the client (exact match, §3)."""
    target = params.get("post_logout_redirect_uri")
    if target is None:
        return None
    if client is None:
        raise InvalidRequest("post_logout_redirect_uri needs id_token_hint or client_id.")
    if target not in client.post_logout_redirect_uris:
        raise InvalidRequest("The post_logout_redirect_uri is not registered for this "
                             "application; it must match exactly.")
    return target


def csrf_token(server_key: ServerKey, tenant: Tenant, session: Session) -> str:
    """Unpredictable without the server key and the session cookie, and the same for as long
    as the session lives."""
    mac = server_key.mac(CSRF_PURPOSE, tenant.id, session.key)
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


async def _sign_out(request: AppRequest, tenant: Tenant, snapshot: Snapshot,
                    session: Session | None, target: str | None,
                    state: str | None, client: Application | None) -> HTTPResponse:
    if session is not None:
        await end_session(request, tenant, session)
        audit.emit(request, audit.LOGOUT, tenant=tenant,
                   client_id=client.client_id if client else None,
                   subject=session.identity.subject, connector=session.identity.source)
    if target is not None:
        response = redirect(authorization_response_uri(target, {"state": state})
                            if state is not None else target,
                            303 if request.method == "POST" else 302)
    else:
        response = page(request, tenant, snapshot, "logged_out.html", page_title="Signed out")
    clear_cookie(response, tenant, session_cookie(tenant))
    return response


async def logout(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    params = single_values(parse_query(parameter_text(request)), PARAMETERS)
    if request.method == "POST" and CONFIRM in params:
        return await _confirmed(request, tenant, snapshot, params)
    claims = await _hint_claims(request, tenant, params.get("id_token_hint"))
    client = _client_of(tenant, params, claims)
    target = _target_of(params, client)
    if request.method == "POST" and presented_session(request, tenant) is None:
        request_params = {name: params[name] for name in REQUEST_PARAMETERS if name in params}
        return redirect(f"{tenant.issuer_path}/logout?{urlencode(request_params)}", 303)
    session = await stored_session(request, tenant)
    if session is None or (claims is not None and claims["sub"] == session.subject):
        return await _sign_out(request, tenant, snapshot, session, target, params.get("state"),
                               client)
    carried = {"client_id": client.client_id if client else None,
               "post_logout_redirect_uri": target, "state": params.get("state")}
    return page(request, tenant, snapshot, "logout_confirm.html", page_title="Sign out?",
                form_targets=[target] if target else [],
                action=f"{tenant.issuer_path}/logout",
                csrf_token=csrf_token(request.app.ctx.server_key, tenant, session),
                carried=[(name, value) for name, value in carried.items() if value],
                username=session.username)


async def _confirmed(request: AppRequest, tenant: Tenant, snapshot: Snapshot,
                     params: dict[str, str]) -> HTTPResponse:
    """The confirmation form, back: only with this browser's CSRF token; the client and the
    target are checked again (a hint never travels through the form)."""
    session = await stored_session(request, tenant)
    token = params.get(CSRF_TOKEN, "")
    if session is None or not hmac.compare_digest(
            token.encode(), csrf_token(request.app.ctx.server_key, tenant, session).encode()):
        raise SignOutFormRefused()
    if "id_token_hint" in params:
        raise InvalidRequest("The sign-out form carries no id_token_hint.")
    client = _client_of(tenant, params, None)
    target = _target_of(params, client)
    return await _sign_out(request, tenant, snapshot, session, target, params.get("state"),
                           client)
