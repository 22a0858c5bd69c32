"""RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5, §4.6): the code exists, is unexpired and unused,
was issued to this client in this tenant with this redirect URI, and the verifier matches.
A replayed code fails and revokes the tokens it issued (RFC 6749 §4.1.2, RFC 9700 §4.2.1)."""

from __future__ import annotations

from typing import Any

from confidp.model import Application, Tenant
from confidp.oauth import pkce
from confidp.oauth.errors import InvalidRequest
from confidp.oauth.tokens import (
    Grant,
    InvalidGrant,
    TokenService,
    digest,
    new_family,
    still_valid,
)
from confidp.store.kinds import CODE, CODE_USED

GRANT_TYPE = "authorization_code"


async def run(service: TokenService, tenant: Tenant, client: Application,
              form: dict[str, str]) -> dict[str, Any]:
    code, redirect_uri = form.get("code"), form.get("redirect_uri")
    if not code or not redirect_uri:
        raise InvalidRequest("Send code and redirect_uri.")
    key = digest(code)
    store = service.store(tenant)
    record = await store.take(CODE, key)
    if record is None:
        used = await store.get(CODE_USED, key)
        if used is not None and used["tenant"] == tenant.id:
            await service.revoke_family(used["family"], tenant)
            raise InvalidGrant("The authorization code was already used; the tokens issued "
                               "with it are revoked.")
        raise InvalidGrant("The authorization code is invalid or expired.")
    if record["tenant"] != tenant.id or record["client_id"] != client.client_id:
        raise InvalidGrant("The authorization code was not issued to this client.")
    if record["redirect_uri"] != redirect_uri:
        raise InvalidGrant("redirect_uri differs from the one of the authorization request.")
    verifier = form.get("code_verifier")
    if not verifier or not pkce.verify(verifier, record["code_challenge"]):
        raise InvalidGrant("code_verifier does not match the code_challenge.")
    user, scopes = still_valid(tenant, client, record)
    # The checks above do not await: the marker follows the take at once, before anything is
    # issued, so a replay racing this request finds it and revokes what this one issues.
    family = new_family()
    await store.put(CODE_USED, key, {"tenant": tenant.id, "family": family},
                            max(tenant.lifetimes.access_token,
                                tenant.lifetimes.refresh_token_absolute))
    return await service.issue(tenant, Grant(
        client=client, scopes=scopes, user=user, auth_time=record["auth_time"],
        nonce=record.get("nonce"), family=family))
