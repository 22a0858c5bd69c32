"""{issuer}/.well-known/openid-configuration (OpenID Connect Discovery 1.0 §3),
{issuer}/.well-known/oauth-authorization-server (RFC 8414 §2, also at the RFC's own
/.well-known/oauth-authorization-server{path}) and {issuer}/jwks."""

from __future__ import annotations

import hashlib
import json as jsonlib
from typing import Any

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.keys.ring import ALGORITHMS, BASE_ALGORITHMS
from confidp.model import Tenant
from confidp.oauth.acr import ACR_VALUES_SUPPORTED
from confidp.oauth.grant_types import GRANT_TYPES
from confidp.registry import Snapshot
from confidp.web.responses import empty, raw

_PUBLIC_CACHE = "public, max-age=300"


def metadata(tenant: Tenant) -> dict[str, Any]:
    issuer = tenant.issuer
    claims = sorted({"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "acr",
                     "amr"}
                    | {claim for scope in tenant.scopes.values() for claim in scope.claims})
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "end_session_endpoint": f"{issuer}/logout",
        "scopes_supported": sorted(tenant.scopes),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": sorted(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic",
                                                  "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic",
                                                       "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic",
                                                          "client_secret_post"],
        # the algorithms the tenant's JWKS has keys of (confidp.keys)
        "id_token_signing_alg_values_supported": [
            alg for alg in ALGORITHMS if alg in BASE_ALGORITHMS | tenant.signing_algorithms],
        "userinfo_signing_alg_values_supported": [],
        "subject_types_supported": ["public"],
        "claims_supported": claims,
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        "ui_locales_supported": list(tenant.languages.supported),
        "acr_values_supported": list(ACR_VALUES_SUPPORTED),
    }


def _encoded(body: dict[str, Any]) -> tuple[bytes, str]:
    data = jsonlib.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _json(request: AppRequest, data: bytes, etag: str) -> HTTPResponse:
    headers = {"Cache-Control": _PUBLIC_CACHE, "ETag": etag, "Access-Control-Allow-Origin": "*"}
    if request.headers.get("if-none-match") == etag:
        return empty(304, headers)
    return raw(data, content_type="application/json", headers=headers)


class MetadataCache:
    """Each tenant version's discovery document, encoded once (it changes only with the
    tenant file, and a reload makes a new Tenant object)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Tenant, bytes, str]] = {}

    def get(self, tenant: Tenant) -> tuple[bytes, str]:
        entry = self._entries.get(tenant.id)
        if entry is None or entry[0] is not tenant:
            entry = (tenant, *_encoded(metadata(tenant)))
            self._entries[tenant.id] = entry
        return entry[1], entry[2]


async def configuration(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    return _json(request, *request.app.ctx.metadata.get(tenant))


async def jwks(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
    ring = await request.app.ctx.tokens.ring(tenant)
    return _json(request, *_encoded(ring.jwks))
