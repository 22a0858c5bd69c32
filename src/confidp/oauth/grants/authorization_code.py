"""RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5, §4.6): the code exists, is unexpired and unused,
was issued to this client in this tenant with this redirect URI, and the verifier matches (or,
for a code issued without PKCE, none is sent: RFC 9700 §2.1.1).
A replayed code fails and revokes the tokens it issued (RFC 6749 §4.1.2, RFC 9700 §4.2.1).

The code is used up in the same atomic step that records its tokens (``consume``): of two
requests racing with one code exactly one gets tokens, and a store lost before that step leaves the
code unused, so the client's retry works instead of being taken for a replay.

Unlike a refresh token, a code has no window for retries: RFC 6749 §4.1.2 says a code used
twice MUST be denied, so a retry after a step that ran but whose answer was lost (a dropped
connection, a step Redis ran after a stall) is denied and revokes what the first use issued,
which the client never got. Nothing durable is lost: the person's session is untouched, so the
application's new sign-in completes without a password."""

from __future__ import annotations

from typing import Any

from confidp.model import Application, Tenant
from confidp.oauth import pkce
from confidp.oauth.errors import InvalidRequest
from confidp.oauth.grant_types import AUTHORIZATION_CODE
from confidp.oauth.records import Code, CodeUsed, load, write
from confidp.oauth.tokens import (
    Grant,
    InvalidGrant,
    TokenService,
    digest,
    new_family,
    still_valid,
)
from confidp.store.kinds import CODE, FAMILIES_OF

GRANT_TYPE = AUTHORIZATION_CODE


async def run(service: TokenService, tenant: Tenant, client: Application,
              form: dict[str, str]) -> dict[str, Any]:
    code, redirect_uri = form.get("code"), form.get("redirect_uri")
    if not code or not redirect_uri:
        raise InvalidRequest("Send code and redirect_uri.")
    key = digest(code)
    store = service.store(tenant)
    record = await load(store, Code, key)
    if record is None:
        raise await _used_or_unknown(service, tenant, key)
    try:
        if record.tenant != tenant.id or record.client_id != client.client_id:
            raise InvalidGrant("The authorization code was not issued to this client.")
        if record.redirect_uri != redirect_uri:
            raise InvalidGrant("redirect_uri differs from the one of the authorization "
                               "request.")
        pkce.check_verifier(record.code_challenge, form.get("code_verifier"), client)
        identity = await still_valid(service, tenant, client, record.identity, record.scopes)
    except InvalidGrant:
        await store.delete(CODE, key)  # a failed attempt uses the code up
        raise
    family = new_family()
    issued = await service.prepare(tenant, Grant(
        client=client, scopes=record.scopes, identity=identity, nonce=record.nonce,
        family=family))
    if "refresh_token" in issued.response and identity is not None:
        # indexed before it exists, like sessions (confidp.oauth.everywhere)
        await store.add_member(FAMILIES_OF, identity.subject, family,
                               tenant.lifetimes.refresh_token_absolute)
    used = write(CodeUsed(tenant.id, family), key,
                 max(tenant.lifetimes.access_token, tenant.lifetimes.refresh_token_absolute))
    if not await store.consume(CODE, key, [used, *issued.writes]):
        # another request used it since it was read: this one is the replay
        raise await _used_or_unknown(service, tenant, key)
    return issued.response


async def _used_or_unknown(service: TokenService, tenant: Tenant, key: str) -> InvalidGrant:
    """The error for a code that is not there; a code already redeemed also revokes what it
    issued."""
    used = await load(service.store(tenant), CodeUsed, key)
    if used is not None and used.tenant == tenant.id:
        await service.revoke_family(used.family, tenant)
        return InvalidGrant("The authorization code was already used; the tokens issued with "
                            "it are revoked.")
    return InvalidGrant("The authorization code is invalid or expired.")
