"""RFC 6749 §6 with rotation (RFC 9700 §4.14.2): every use returns a new refresh token; a
rotated token used again revokes its whole family. Scope may narrow, never widen."""

from __future__ import annotations

import time
from typing import Any

from confidp.model import Application, Tenant
from confidp.oauth.echo import quoted_list
from confidp.oauth.errors import InvalidRequest, InvalidScope
from confidp.oauth.scopes import OFFLINE_ACCESS
from confidp.oauth.tokens import Grant, InvalidGrant, TokenService, digest, still_valid
from confidp.store.kinds import REFRESH, REFRESH_USED

GRANT_TYPE = "refresh_token"
REUSED = InvalidGrant("The refresh token was already used; every token issued with it is "
                      "revoked.")


async def run(service: TokenService, tenant: Tenant, client: Application,
              form: dict[str, str]) -> dict[str, Any]:
    token = form.get("refresh_token")
    if not token:
        raise InvalidRequest("Send refresh_token.")
    store = service.store(tenant)
    key = digest(token)
    record = await store.get(REFRESH, key)
    if record is None:
        used = await store.get(REFRESH_USED, key)
        if used is not None and used["tenant"] == tenant.id:
            await service.revoke_family(used["family"], tenant)
            raise REUSED
        raise InvalidGrant("The refresh token is invalid or expired.")
    if record["tenant"] != tenant.id or record["client_id"] != client.client_id:
        raise InvalidGrant("The refresh token was not issued to this client.")
    if "refresh_token" not in client.grant_types or OFFLINE_ACCESS not in client.scopes:
        raise InvalidGrant("This client may no longer use refresh tokens.")
    family = await service.live_family(tenant, record)
    if family is None:
        raise InvalidGrant("The refresh token was revoked or has expired.")
    user, granted = still_valid(tenant, client, record)
    scopes = granted
    if form.get("scope"):
        requested = tuple(dict.fromkeys(t for t in form["scope"].split(" ") if t))
        wider = [s for s in requested if s not in granted]
        if wider:
            raise InvalidScope("The scope may only narrow on refresh.",
                               f"Not granted: {quoted_list(wider)}.")
        scopes = requested
    issued = await service.prepare(tenant, Grant(
        client=client, scopes=scopes, user=user, auth_time=record.get("auth_time"),
        family=record["family"], family_record=family, refresh_scopes=granted))
    # Using the token up is the one arbiter, in the same atomic step as recording what it
    # issues: of concurrent uses exactly one succeeds, and the others are reuse (RFC 9700
    # §4.14.2), which revokes the family; a store lost before this step leaves the token unused.
    remaining = tenant.lifetimes.refresh_token_absolute - (time.time() - family["created_at"])
    used = (REFRESH_USED, key, {"tenant": tenant.id, "family": record["family"]},
            max(remaining, 1))
    if not await store.consume(REFRESH, key, [used, *issued.writes]):
        await service.revoke_family(record["family"], tenant)
        raise REUSED
    return issued.response
