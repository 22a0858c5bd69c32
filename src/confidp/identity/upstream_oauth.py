"""The OAuth 2.0 parts every upstream connector shares (RFC 6749 §4.1, RFC 7636, RFC 9207):
the authorization request confidp sends the browser with, the error a provider sends back,
and the code exchange with client authentication (§2.3.1: client_secret_basic, the id and
secret form-urlencoded first; client_secret_post; none)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx

from confidp.identity.sources import (
    CallbackContext,
    UpstreamDenied,
    UpstreamError,
    UpstreamRequest,
)
from confidp.model import Connector
from confidp.outbound import TOKEN, parse_json

ACCESS_DENIED = "access_denied"
MAX_ERROR_TEXT = 200


def authorization_url(endpoint: str, connector: Connector, upstream: UpstreamRequest,
                      scopes: Sequence[str], *, nonce: bool, pkce: bool = True) -> str:
    """RFC 6749 §4.1.1 with PKCE S256 (RFC 7636 §4.3) and, for OpenID Connect, the nonce
    (Core §3.1.2.1); the endpoint's own query is kept."""
    params: dict[str, str] = {
        **connector.settings.get("authorize_params", {}),
        "response_type": "code", "client_id": str(connector.settings["client_id"]),
        "redirect_uri": upstream.callback_url, "state": upstream.state}
    if scopes:
        params["scope"] = " ".join(scopes)
    if nonce:
        params["nonce"] = upstream.nonce
    if pkce:
        # imported here: confidp.oauth.pkce needs the token service, which needs the sources
        from confidp.oauth.pkce import s256

        params["code_challenge"] = s256(upstream.code_verifier)
        params["code_challenge_method"] = "S256"
    parts = urlsplit(endpoint)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def check_error(params: Mapping[str, str]) -> None:
    """RFC 6749 §4.1.2.1: the provider's error, if it sent one."""
    error = params.get("error")
    if error is None:
        return
    described = params.get("error_description", "")[:MAX_ERROR_TEXT]
    detail = f"the provider answered {error[:64]!r}" + (f": {described}" if described else "")
    if error == ACCESS_DENIED:
        raise UpstreamDenied(detail)
    raise UpstreamError(detail, "provider_error")


def code_of(params: Mapping[str, str]) -> str:
    code = params.get("code")
    if not code or len(code) > 4096:
        raise UpstreamError("the provider's answer has no code", "invalid_callback")
    return code


async def exchange_code(context: CallbackContext, connector: Connector, token_endpoint: str,
                        code: str, upstream: UpstreamRequest, *, pkce: bool = True,
                        auth_method: str | None = None) -> Mapping[str, Any]:
    """RFC 6749 §4.1.3-4.1.4: the token response for ``code``; the client authenticates
    as ``auth_method`` says, else as the connector's ``token_endpoint_auth_method``."""
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": upstream.callback_url}
    if pkce:
        form["code_verifier"] = upstream.code_verifier
    client_id = str(connector.settings["client_id"])
    secret = connector.secret("client_secret")
    method = auth_method or connector.settings.get("token_endpoint_auth_method") or (
        "client_secret_basic" if secret is not None else "none")
    headers = {"Accept": "application/json"}
    auth: httpx.BasicAuth | None = None
    if method == "client_secret_basic" and secret is not None:
        # RFC 6749 §2.3.1: each part form-urlencoded before Basic
        auth = httpx.BasicAuth(quote(client_id, safe=""), quote(secret.reveal(), safe=""))
    else:
        form["client_id"] = client_id
        if method == "client_secret_post" and secret is not None:
            form["client_secret"] = secret.reveal()
    outbound = context.outbound
    tenant_id = context.tenant.id
    response = await outbound.request(tenant_id, connector, TOKEN, "POST", token_endpoint,
                                      data=form, headers=headers, auth=auth)
    try:
        body = parse_json(response.content)
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        failure = UpstreamError(f"the token endpoint answered {response.status_code}"
                                + (f" {str(error)[:64]!r}" if error else ""), "token_error")
        outbound.record_error(tenant_id, connector, TOKEN, failure)
        raise failure
    if "error" in body:  # GitHub answers 200 with an error member
        failure = UpstreamError(f"the token endpoint answered {str(body['error'])[:64]!r}",
                                "token_error")
        outbound.record_error(tenant_id, connector, TOKEN, failure)
        raise failure
    if not isinstance(body.get("access_token"), str):
        failure = UpstreamError("the token response has no access_token", "token_error")
        outbound.record_error(tenant_id, connector, TOKEN, failure)
        raise failure
    return body
