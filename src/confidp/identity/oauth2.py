"""The ``oauth2`` connector: an OAuth 2.0 provider without OpenID Connect (RFC 6749 §4.1),
with PKCE S256 unless turned off (RFC 7636). After the code exchange, the provider's JSON
user-info API is read with the access token (RFC 6750 §2.1) and mapped through the
connector's ``claims`` (which fields are the id, username, e-mail, name, groups). Without
an ID token there is no signature to check: the provider is trusted over TLS, as the user
info comes straight from it with confidp's own access token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from confidp.identity import federated, upstream_oauth
from confidp.identity.identity import Identity
from confidp.identity.sources import CallbackContext, UpstreamError, UpstreamRequest
from confidp.model import Connector, Tenant
from confidp.outbound import USERINFO

KIND = "oauth2"


def origin(url: str) -> str:
    """``https://host[:port]``: the provider, as the identity records its issuer."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class OAuth2Source:
    kind = KIND

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.id = connector.id
        self.display_name = connector.name

    async def login_url(self, upstream: UpstreamRequest, context: CallbackContext) -> str:
        settings = self.connector.settings
        return upstream_oauth.authorization_url(
            str(settings["authorization_endpoint"]), self.connector, upstream,
            list(settings["scopes"]), nonce=False, pkce=bool(settings["pkce"]))

    async def callback(self, params: Mapping[str, str], upstream: UpstreamRequest,
                       context: CallbackContext) -> Identity:
        settings = self.connector.settings
        upstream_oauth.check_error(params)
        code = upstream_oauth.code_of(params)
        tokens = await upstream_oauth.exchange_code(
            context, self.connector, str(settings["token_endpoint"]), code, upstream,
            pkce=bool(settings["pkce"]))
        info = await context.outbound.json(
            context.tenant.id, self.connector, USERINFO, "GET",
            str(settings["userinfo_endpoint"]),
            headers={"Authorization": f"Bearer {tokens['access_token']}",
                     "Accept": "application/json"})
        if not isinstance(info, dict):
            error = UpstreamError("the user-info answer is not a JSON object",
                                  "invalid_userinfo")
            context.outbound.record_error(context.tenant.id, self.connector, USERINFO, error)
            raise error
        identity = federated.map_identity(
            self.connector, info, issuer=origin(str(settings["authorization_endpoint"])),
            now=context.now)
        return federated.admitted(self.connector, context.tenant, identity)

    async def revalidate(self, identity: Identity, tenant: Tenant,
                         now: float) -> Identity | None:
        connector = tenant.connector(self.id)
        return federated.revalidated(
            connector if connector is not None and connector.type == self.kind else None,
            tenant, identity)


def build(tenant: Tenant, settings: Mapping[str, Any]) -> OAuth2Source:
    connector = tenant.connector(str(settings["id"]))
    assert connector is not None  # declared_sources gives only the tenant's connectors
    return OAuth2Source(connector)
