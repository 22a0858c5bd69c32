"""Rendering: themed pages with their security headers, and redirects. Errors become
responses in ``confidp.web.errors``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.i18n import NO_OVERRIDES, Translator, shipped
from confidp.model import Tenant
from confidp.registry import Snapshot
from confidp.web.branding import theme_css_version
from confidp.web.locale import page_language
from confidp.web.responses import Response, html

NO_STORE = {"Cache-Control": "no-store"}
SCRIPT_SOURCE = "script-src 'self'; "  # only the theme's script files, never inline
# RFC 6749 §5.1: token responses also carry the HTTP/1.0 Pragma (deprecated elsewhere, RFC 9111)
TOKEN_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def form_source(uri: str) -> str:
    """The CSP source that allows a form's redirect chain to end at ``uri`` (Chromium applies
    form-action to redirects after a form post)."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"


def content_security_policy(form_targets: Iterable[str] = (), scripts: bool = False) -> str:
    """``scripts``: the page loads the theme's own script files (webauthn.js), never an
    inline script."""
    targets = " ".join(dict.fromkeys(form_source(uri) for uri in form_targets))
    return ("default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
            f"{SCRIPT_SOURCE if scripts else ''}"
            f"form-action 'self'{' ' + targets if targets else ''}; frame-ancestors 'none'; "
            "base-uri 'none'")


def effective_theme(tenant: Tenant, snapshot: Snapshot) -> str:
    """The tenant's theme, or default while its own is missing (its last good version keeps
    serving after the theme directory was removed)."""
    return tenant.theme.name if tenant.theme.name in snapshot.themes else "default"


def translator(request: AppRequest, tenant: Tenant) -> Translator:
    """The page's language (confidp.web.locale) with the tenant's overrides for it."""
    language = page_language(request, tenant)
    return Translator(shipped()[language], tenant.messages.get(language, NO_OVERRIDES))


def page(request: AppRequest, tenant: Tenant, snapshot: Snapshot, template: str, *,
         page_title: str, status: int = 200, form_targets: Iterable[str] = (),
         headers: dict[str, str] | None = None, scripts: bool = False,
         **context: Any) -> HTTPResponse:
    """A themed page in the request's language. Its heading and title come from the template
    (``{% set heading = _("...") %}``); ``page_title`` (English) stands in for a template that
    sets none."""
    themes = request.app.ctx.themes
    i18n = translator(request, tenant)
    css_version = theme_css_version(tenant, snapshot.themes_version)
    body = themes.render(
        effective_theme(tenant, snapshot), snapshot.themes_version, template,
        page_title=i18n.gettext(page_title), title=tenant.theme.title,
        tenant_name=tenant.display_name, logo_url=tenant.theme.logo_url,
        favicon_url=tenant.theme.favicon_url, links=tenant.links,
        assets=f"{tenant.issuer_path}/assets", version=snapshot.themes_version,
        theme_css=f"{tenant.issuer_path}/theme.css?v={css_version}", i18n=i18n,
        lang=i18n.language, dir=i18n.direction, tenant_language=tenant.languages.default,
        **context)
    return html(body, status=status, headers={
        **NO_STORE, "Content-Security-Policy": content_security_policy(form_targets, scripts),
        "Content-Language": i18n.language, **(headers or {})})


def redirect(location: str, status: int = 302,
             headers: dict[str, str] | None = None) -> HTTPResponse:
    """A redirect whose Location is exactly ``location`` (Sanic's helper re-quotes it)."""
    return Response(None, status, {**NO_STORE, "Location": location, **(headers or {})},
                    "text/plain; charset=utf-8")
