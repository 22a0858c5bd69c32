"""The ``oidc`` connector: an upstream OpenID Connect provider (Dex's ``connector/oidc``).

- Discovery (OpenID Connect Discovery 1.0 §4): ``{issuer}/.well-known/openid-configuration``,
  whose ``issuer`` must be the configured one (§4.3), kept ``discovery_refresh`` long.
- The authorization code flow (Core §3.1) with PKCE S256 (RFC 7636), ``state`` and
  ``nonce``; the callback's ``iss`` (RFC 9207) checked when the provider sends it or says it
  will.
- The ID token (Core §3.1.3.7) verified against the provider's JWKS, kept as long as the
  discovery document and fetched again at once when a token names a key it lacks (at most
  every ``JWKS_REFETCH_INTERVAL`` seconds, so forged tokens cannot make confidp hammer the
  provider): ``confidp.keys.upstream``.
- Optionally the userinfo endpoint (Core §5.3), whose ``sub`` must be the ID token's.
- Claim and group mapping, allowed groups and e-mail domains, subjects:
  ``confidp.identity.federated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confidp.config.connector_rules import upstream_url_problem
from confidp.config.durations import seconds
from confidp.identity import federated, upstream_oauth
from confidp.identity.identity import Identity
from confidp.identity.sources import CallbackContext, UpstreamError, UpstreamRequest
from confidp.keys.upstream import (
    UpstreamTokenError,
    check_claims,
    key_ids,
    token_header,
    verify_signature,
)
from confidp.model import Connector, Tenant
from confidp.outbound import DISCOVERY, JWKS, USERINFO

KIND = "oidc"
WELL_KNOWN = "/.well-known/openid-configuration"
JWKS_REFETCH_INTERVAL = 10.0  # seconds between fetches for an unknown kid
OPENID = "openid"
_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


@dataclass(frozen=True, slots=True)
class Metadata:
    """The parts of a provider's discovery document confidp uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]  # id_token_signing_alg_values_supported
    sends_iss: bool  # authorization_response_iss_parameter_supported (RFC 9207 §3)


def parse_metadata(document: Any, connector: Connector) -> Metadata:
    """Discovery §4.3: the document's issuer is the one configured; every endpoint is a URL
    confidp may call (https, or http on loopback with allow_http)."""
    issuer = str(connector.settings["issuer"])
    if not isinstance(document, dict):
        raise UpstreamError("the discovery document is not a JSON object", "invalid_discovery")
    if document.get("issuer") != issuer:
        raise UpstreamError(f"the discovery document's issuer is "
                            f"{str(document.get('issuer'))[:200]!r}, not {issuer!r}",
                            "invalid_discovery")
    allow_http = bool(connector.settings.get("allow_http"))
    for key in (*_ENDPOINTS, "userinfo_endpoint"):
        value = document.get(key)
        if value is None and key == "userinfo_endpoint":
            continue
        problem = upstream_url_problem(value, allow_http) if isinstance(value, str) else \
            "is missing"
        if problem:
            raise UpstreamError(f"the discovery document's {key} {problem}",
                                "invalid_discovery")
    algorithms = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    return Metadata(issuer, document["authorization_endpoint"], document["token_endpoint"],
                    document["jwks_uri"], document.get("userinfo_endpoint"),
                    tuple(str(a) for a in algorithms if isinstance(a, str)),
                    document.get("authorization_response_iss_parameter_supported") is True)


class OidcSource:
    kind = KIND

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.id = connector.id
        self.display_name = connector.name
        self._refresh = float(seconds(str(connector.settings["discovery_refresh"])))

    def _key(self, what: str, context: CallbackContext) -> tuple[str, str, str]:
        # the issuer is part of the key: an edited issuer is a different provider
        return (context.tenant.id, self.id, f"{what} {self.connector.settings['issuer']}")

    async def metadata(self, context: CallbackContext) -> Metadata:
        key = self._key(DISCOVERY, context)
        cached = context.outbound.cached(key, context.now)
        if isinstance(cached, Metadata):
            return cached
        url = str(self.connector.settings["issuer"]) + WELL_KNOWN
        document = await context.outbound.json(context.tenant.id, self.connector, DISCOVERY,
                                               "GET", url)
        try:
            metadata = parse_metadata(document, self.connector)
        except UpstreamError as error:
            context.outbound.record_error(context.tenant.id, self.connector, DISCOVERY, error)
            raise
        context.outbound.keep(key, metadata, context.now + self._refresh)
        return metadata

    async def jwks(self, context: CallbackContext, metadata: Metadata,
                   want: str | None) -> Mapping[str, Any]:
        """The provider's key set; fetched again when it lacks ``want`` (a kid), unless it
        was fetched within ``JWKS_REFETCH_INTERVAL``."""
        key = self._key(JWKS, context)
        cached = context.outbound.cached(key, context.now)
        if cached is not None:
            fetched_at, keys = cached
            if want is None or want in key_ids(keys) or \
                    context.now - fetched_at < JWKS_REFETCH_INTERVAL:
                return dict(keys)
        keys = await context.outbound.json(context.tenant.id, self.connector, JWKS, "GET",
                                           metadata.jwks_uri)
        if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
            error = UpstreamError("the JWKS is not a key set", "invalid_jwks")
            context.outbound.record_error(context.tenant.id, self.connector, JWKS, error)
            raise error
        context.outbound.keep(key, (context.now, keys), context.now + self._refresh)
        return dict(keys)

    async def login_url(self, upstream: UpstreamRequest, context: CallbackContext) -> str:
        metadata = await self.metadata(context)
        scopes = [OPENID, *(s for s in self.connector.settings["scopes"] if s != OPENID)]
        return upstream_oauth.authorization_url(metadata.authorization_endpoint,
                                                self.connector, upstream, scopes, nonce=True)

    async def callback(self, params: Mapping[str, str], upstream: UpstreamRequest,
                       context: CallbackContext) -> Identity:
        upstream_oauth.check_error(params)
        metadata = await self.metadata(context)
        # RFC 9207 §2.4: a response from another issuer (a mix-up) is refused
        if ("iss" in params or metadata.sends_iss) and params.get("iss") != metadata.issuer:
            raise UpstreamError("the callback's iss is not the provider's issuer",
                                "wrong_issuer")
        code = upstream_oauth.code_of(params)
        tokens = await upstream_oauth.exchange_code(context, self.connector,
                                                    metadata.token_endpoint, code, upstream)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise UpstreamError("the token response has no id_token", "invalid_id_token")
        claims = await self._verified(context, metadata, id_token, upstream,
                                      str(tokens["access_token"]))
        if self.connector.settings.get("userinfo") and metadata.userinfo_endpoint:
            claims = {**await self._userinfo(context, metadata.userinfo_endpoint,
                                             str(tokens["access_token"]), claims["sub"]),
                      **claims}
        identity = federated.map_identity(self.connector, claims, issuer=metadata.issuer,
                                          now=context.now)
        return federated.admitted(self.connector, context.tenant, identity)

    async def _verified(self, context: CallbackContext, metadata: Metadata, id_token: str,
                        upstream: UpstreamRequest, access_token: str) -> dict[str, Any]:
        try:
            header = token_header(id_token)
            kid = header.get("kid")
            keys = await self.jwks(context, metadata, str(kid) if kid is not None else None)
            if kid is not None and str(kid) not in key_ids(keys):
                raise UpstreamTokenError("unknown_key", f"the ID token is signed by a key the "
                                         f"provider does not publish (kid {str(kid)[:64]!r})")
            claims = verify_signature(id_token, keys, metadata.algorithms)
            check_claims(claims, issuer=metadata.issuer,
                         client_id=str(self.connector.settings["client_id"]),
                         nonce=upstream.nonce, now=context.now, access_token=access_token,
                         alg=str(header.get("alg")))
        except UpstreamTokenError as exc:
            error = UpstreamError(exc.detail, exc.reason)
            context.outbound.record_error(context.tenant.id, self.connector, "id_token",
                                          error)
            raise error from None
        return claims

    async def _userinfo(self, context: CallbackContext, endpoint: str, access_token: str,
                        subject: str) -> dict[str, Any]:
        """Core §5.3.2: the userinfo's sub must be the ID token's, else it is not used."""
        info = await context.outbound.json(
            context.tenant.id, self.connector, USERINFO, "GET", endpoint,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
        if not isinstance(info, dict) or info.get("sub") != subject:
            error = UpstreamError("the userinfo's sub is not the ID token's", "invalid_userinfo")
            context.outbound.record_error(context.tenant.id, self.connector, USERINFO, error)
            raise error
        return info

    async def revalidate(self, identity: Identity, tenant: Tenant,
                         now: float) -> Identity | None:
        connector = tenant.connector(self.id)
        return federated.revalidated(
            connector if connector is not None and connector.type == KIND else None, tenant,
            identity)


def build(tenant: Tenant, settings: Mapping[str, Any]) -> OidcSource:
    connector = tenant.connector(str(settings["id"]))
    assert connector is not None  # declared_sources gives only the tenant's connectors
    return OidcSource(connector)
