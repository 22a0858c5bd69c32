"""Rendering: themed pages with their security headers, and redirects. Errors become
responses in ``confidp.web.errors``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.model import Tenant
from confidp.registry import Snapshot
from confidp.web.responses import Response, html

NO_STORE = {"Cache-Control": "no-store"}
# RFC 6749 §5.1: token responses also carry the HTTP/1.0 Pragma (deprecated elsewhere, RFC 9111)
TOKEN_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def form_source(uri: str) -> str:
    """The CSP source that allows a form's redirect chain to end at ``uri`` (Chromium applies
    form-action to redirects after a form post)."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"


def content_security_policy(form_targets: Iterable[str] = ()) -> str:
    targets = " ".join(dict.fromkeys(form_source(uri) for uri in form_targets))
    return ("default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
            f"form-action 'self'{' ' + targets if targets else ''}; frame-ancestors 'none'; "
            "base-uri 'none'")


def theme_css_version(tenant: Tenant) -> str:
    colors = ";".join(f"{k}={v}" for k, v in sorted(tenant.theme.colors.items()))
    return hashlib.sha256(colors.encode()).hexdigest()[:12]


def effective_theme(tenant: Tenant, snapshot: Snapshot) -> str:
    """The tenant's theme, or default while its own is missing (its last good version keeps
    serving after the theme directory was removed)."""
    return tenant.theme.name if tenant.theme.name in snapshot.themes else "default"


def page(request: AppRequest, tenant: Tenant, snapshot: Snapshot, template: str, *,
         page_title: str, status: int = 200, form_targets: Iterable[str] = (),
         headers: dict[str, str] | None = None, **context: Any) -> HTTPResponse:
    themes = request.app.ctx.themes
    body = themes.render(
        effective_theme(tenant, snapshot), snapshot.themes_version, template,
        page_title=page_title, title=tenant.theme.title, tenant_name=tenant.display_name,
        logo_url=tenant.theme.logo_url, assets=f"{tenant.issuer_path}/assets",
        version=snapshot.themes_version,
        theme_css=f"{tenant.issuer_path}/theme.css?v={theme_css_version(tenant)}", **context)
    return html(body, status=status, headers={
        **NO_STORE, "Content-Security-Policy": content_security_policy(form_targets),
        **(headers or {})})


def redirect(location: str, status: int = 302,
             headers: dict[str, str] | None = None) -> HTTPResponse:
    """A redirect whose Location is exactly ``location`` (Sanic's helper re-quotes it)."""
    return Response(None, status, {**NO_STORE, "Location": location, **(headers or {})},
                    "text/plain; charset=utf-8")
