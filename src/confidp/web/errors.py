"""The one place an error becomes a response (node-oidc-provider's ``errors.js`` and its
renderer): a themed page for a person, JSON for a program, or, only for an error found once
the client and its redirect URI are verified (``ErrorRedirect``), a redirect back to the
client (RFC 6749 §4.1.2.1).

Every error is an ``OAuthError`` (HTTP-level ones are ``HttpError``s) that carries its status,
its words and the headers its response needs (a ``WWW-Authenticate`` challenge, ``Retry-After``).
JSON has one shape, ``{"error", "error_description"[, "detail"][, "missing_parameters"]}``;
the API endpoints (token, revocation, introspection, userinfo: RFC 6749 §5.2, RFC 6750 §3)
have no ``detail`` member, so there the detail is appended to the description. Every error
response is ``Cache-Control: no-store``.

An HTML error is the tenant's themed error page when the tenant is known and the request was
one of its sign-in pages, else a small plain page (framework errors, unknown paths).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from http import HTTPStatus

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.model import Tenant
from confidp.oauth.authorize import ErrorRedirect, error_response_uri
from confidp.oauth.errors import OAuthError
from confidp.registry import Snapshot
from confidp.web.negotiation import prefers_json
from confidp.web.pages import NO_STORE, TOKEN_NO_STORE, page, redirect
from confidp.web.responses import html as html_page
from confidp.web.responses import json
from confidp.web.way_back import way_back

_MAX_LISTED = 50  # issuers listed by a 404


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class HttpError(OAuthError):
    """An error of HTTP itself (an unknown path or method, a malformed request): its code and
    status are the instance's."""

    def __init__(self, status: int, error: str, description: str,
                 headers: dict[str, str] | None = None, title: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.title = title or phrase(status)
        self._headers = dict(headers or {})

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    def plain_page(self) -> str:
        """The page for a person when there is no tenant (so no theme) to show it in."""
        title = html.escape(self.title)
        return (f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
                f"<h1>{title}</h1><p>{html.escape(self.description)}</p></html>")


class NotFound(HttpError):
    """Nothing at this path; with ``issuers``, the issuers that are served (at most 50, and
    how many more)."""

    def __init__(self, description: str, issuers: Sequence[str] | None = None) -> None:
        super().__init__(404, "not_found", description, title="Not found")
        self.issuers = list(issuers) if issuers is not None else None

    def to_json(self) -> dict[str, object]:
        body = super().to_json()
        if self.issuers is not None:
            body["issuers"] = self.issuers[:_MAX_LISTED]
            if len(self.issuers) > _MAX_LISTED:
                body["more_issuers"] = len(self.issuers) - _MAX_LISTED
        return body

    def plain_page(self) -> str:
        listing = ""
        if self.issuers:
            shown = self.issuers[:_MAX_LISTED]
            items = "".join(f"<li><code>{html.escape(issuer)}</code></li>" for issuer in shown)
            more = len(self.issuers) - len(shown)
            listing = f"<p>Known issuers:</p><ul>{items}</ul>" + (
                f"<p>and {more} more.</p>" if more else "")
        return (f"<!doctype html><html lang=en><meta charset=utf-8>"
                f"<meta name=viewport content=\"width=device-width, initial-scale=1\">"
                f"<title>Not found</title><main><h1>Not found</h1>"
                f"<p>{html.escape(self.description)}</p>{listing}</main></html>")


class MethodNotAllowed(HttpError):
    """RFC 9110 §15.5.6: with the Allow header."""

    def __init__(self, allowed: str, description: str) -> None:
        super().__init__(405, "method_not_allowed", description, {"Allow": allowed})


def api_body(error: OAuthError) -> dict[str, object]:
    """RFC 6749 §5.2 / RFC 6750 §3: error and error_description, the detail appended."""
    body = error.to_json()
    body.pop("detail", None)
    body.pop("missing_parameters", None)
    if error.detail and "error_description" in body:
        body["error_description"] = f"{error.description} {error.detail}"
    return body


def error_response(request: AppRequest, error: OAuthError, *, tenant: Tenant | None = None,
                   snapshot: Snapshot | None = None, api: bool = False) -> HTTPResponse:
    """``error`` for whoever asked: JSON for an API endpoint (``api``) or a client that
    prefers it, else a page; never a redirect."""
    headers = {**(TOKEN_NO_STORE if api else NO_STORE), **error.headers()}
    if api:
        return json(api_body(error), status=error.status, headers=headers)
    if prefers_json(request):
        return json(error.to_json(), status=error.status, headers=headers)
    if tenant is not None and snapshot is not None:
        if isinstance(error, NotFound):
            response = page(request, tenant, snapshot, "not_found.html",
                            page_title="Page not found", status=404, message=error.description)
        else:
            response = page(request, tenant, snapshot, "error.html",
                            page_title="Something went wrong", status=error.status,
                            message=error.description, detail=error.detail,
                            missing=list(error.missing), error_code=error.error,
                            way_back=way_back(request, tenant))
        response.headers.update(error.headers())
        return response
    plain = error if isinstance(error, HttpError) else HttpError(
        error.status, error.error, error.description)
    return html_page(plain.plain_page(), status=error.status,
                     headers={**headers, "Content-Security-Policy": "default-src 'none'"})


def error_redirect(answer: ErrorRedirect, issuer: str, status: int = 302) -> HTTPResponse:
    """RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6, RFC 9207: back to the verified
    redirect URI with the error, the request's state and iss."""
    return redirect(error_response_uri(answer.redirect_uri, answer.error, answer.state, issuer),
                    status)
