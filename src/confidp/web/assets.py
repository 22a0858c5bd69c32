"""{issuer}/assets/<file> (the tenant theme's static files) and {issuer}/theme.css (the
tenant's branding colours as CSS variables, so pages need no inline style:
confidp.web.branding)."""

from __future__ import annotations

import hashlib
import mimetypes

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.model import Tenant
from confidp.registry import Snapshot
from confidp.web import branding
from confidp.web.pages import effective_theme
from confidp.web.responses import empty, raw

_LONG_CACHE = "public, max-age=31536000, immutable"


def _not_found() -> HTTPResponse:
    return raw(b"not found", status=404, content_type="text/plain")


def _cached(request: AppRequest, body: bytes, content_type: str, cache: str) -> HTTPResponse:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": cache, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return empty(304, headers)
    return raw(body, content_type=content_type, headers=headers)


async def asset(request: AppRequest, tenant: Tenant, snapshot: Snapshot,
                relative: str) -> HTTPResponse:
    themes = request.app.ctx.themes
    try:  # a name too long for the file system, a file removed meanwhile: not found
        path = themes.static_file(effective_theme(tenant, snapshot), relative)
        body = path.read_bytes() if path is not None else None
    except OSError:
        path = body = None
    if path is None or body is None:
        return _not_found()
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    cache = _LONG_CACHE if request.args.get("v") else "public, max-age=300"
    return _cached(request, body, content_type, cache)


async def theme_css(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    # The schema allows only hex colours, so nothing here can break out of a declaration.
    palette = request.app.ctx.themes.palette(effective_theme(tenant, snapshot),
                                             snapshot.themes_version)
    body = branding.theme_css(tenant, palette).encode()
    versioned = request.args.get("v") == branding.theme_css_version(tenant,
                                                                    snapshot.themes_version)
    return _cached(request, body, "text/css; charset=utf-8",
                   _LONG_CACHE if versioned else "no-cache")
