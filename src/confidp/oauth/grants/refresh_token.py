"""RFC 6749 §6 with rotation (RFC 9700 §4.14.2): every use returns a new refresh token; a
rotated token used again revokes its whole family. Scope may narrow, never widen.

A retry is not reuse. The new refresh token (the successor) is derived from the one presented
under the server key (``TokenService.successor``), and the step that uses a token up also
writes a reuse-window marker that the store expires ``lifetimes.refresh_token_reuse_interval``
after that step ran (30 s by default; ``0s``: no window). Presented again while the marker
lives and while the successor is unused, the token gets the same successor back, with a fresh
access and ID token: a response lost on the way, or a 503 after a store stall whose step the
store ran late, costs the client nothing. Two concurrent uses of one token both succeed, with
the same successor. Outside the window, or once the successor was used, it is reuse, as RFC
9700 §4.14.2 says: the family is revoked.

The window is timed by the store's own clock from when the step actually ran, never from when
the request began: a step that Redis runs seconds late (after a stall) opens its window then,
and the window always closes ``interval`` later.
"""

from __future__ import annotations

from typing import Any, NoReturn

from confidp.model import Application, Tenant
from confidp.oauth.echo import quoted_list
from confidp.oauth.errors import InvalidRequest, InvalidScope
from confidp.oauth.grant_types import REFRESH_TOKEN
from confidp.oauth.liveness import live_family
from confidp.oauth.records import Family, Refresh, RefreshReuse, RefreshUsed, load, write
from confidp.oauth.scopes import OFFLINE_ACCESS
from confidp.oauth.tokens import Grant, InvalidGrant, TokenService, digest, still_valid
from confidp.store.base import Write
from confidp.store.kinds import REFRESH

GRANT_TYPE = REFRESH_TOKEN


class RefreshTokenReused(InvalidGrant):
    """RFC 9700 §4.14.2: a rotated refresh token presented again."""

    default_description = ("The refresh token was already used; every token issued with it "
                           "is revoked.")

    def __init__(self, subject: str | None = None) -> None:
        super().__init__()
        self.subject = subject  # whose family was revoked (for the audit event)


async def run(service: TokenService, tenant: Tenant, client: Application,
              form: dict[str, str]) -> dict[str, Any]:
    token = form.get("refresh_token")
    if not token:
        raise InvalidRequest("Send refresh_token.")
    store = service.store(tenant)
    key = digest(token)
    record = await load(store, Refresh, key)
    if record is None:
        return await _presented_again(service, tenant, client, form, token)
    _check_client(record, tenant, client)
    family = await _live_family(service, tenant, record)
    successor = service.successor(tenant, record.family, token)
    issued = await service.prepare(tenant, await _grant(service, tenant, client, form, record,
                                                        family, successor))
    # Using the token up is the one arbiter, in the same atomic step as recording what it
    # issues and opening its reuse window: of concurrent uses exactly one does it; the others
    # (and a retry of a step the store ran after the request gave up) find the window open
    # and get the same successor. A store lost before this step leaves the token unused.
    remaining = tenant.lifetimes.refresh_token_absolute - (service.clock() - family.created_at)
    writes: list[Write] = [write(RefreshUsed(tenant.id, record.family), key, max(remaining, 1))]
    interval = tenant.lifetimes.refresh_token_reuse_interval
    if interval > 0:
        writes.append(write(RefreshReuse(tenant.id, record.family, digest(successor)), key,
                            interval))
    if not await store.consume(REFRESH, key, [*writes, *issued.writes]):
        return await _presented_again(service, tenant, client, form, token)
    return issued.response


async def _presented_again(service: TokenService, tenant: Tenant, client: Application,
                           form: dict[str, str], token: str) -> dict[str, Any]:
    """A token that is not (or no longer) there: unknown, or used. A used one gets its
    successor again within its reuse window while the successor is unused; otherwise it is
    reuse, and its family is revoked."""
    store = service.store(tenant)
    key = digest(token)
    used = await load(store, RefreshUsed, key)
    if used is None or used.tenant != tenant.id:
        raise InvalidGrant("The refresh token is invalid or expired.")
    window = await load(store, RefreshReuse, key) \
        if tenant.lifetimes.refresh_token_reuse_interval > 0 else None
    successor = service.successor(tenant, used.family, token)
    if window is None or window.tenant != tenant.id:
        await _reused(service, tenant, used.family)
    if window.successor != digest(successor):
        # the server key changed since the token was used: the successor cannot be given
        # again, but this is still a retry within the window, not reuse
        raise InvalidGrant("The refresh token was already used; use the one issued for it.")
    record = await load(store, Refresh, window.successor)
    if record is None or record.client_id != client.client_id:
        await _reused(service, tenant, used.family)  # the successor was used (or revoked)
    _check_client(record, tenant, client)
    family = await _live_family(service, tenant, record)
    issued = await service.prepare(tenant, await _grant(service, tenant, client, form, record,
                                                        family, successor))
    # the successor is written again as it is, in one step that fails if it was used since
    if not await store.consume(REFRESH, window.successor, issued.writes):
        await _reused(service, tenant, used.family)
    return issued.response


def _check_client(record: Refresh, tenant: Tenant, client: Application) -> None:
    if record.tenant != tenant.id or record.client_id != client.client_id:
        raise InvalidGrant("The refresh token was not issued to this client.")
    if REFRESH_TOKEN not in client.grant_types or OFFLINE_ACCESS not in client.scopes:
        raise InvalidGrant("This client may no longer use refresh tokens.")


async def _live_family(service: TokenService, tenant: Tenant, record: Refresh) -> Family:
    family = await live_family(service, tenant, record.family)
    if family is None:
        raise InvalidGrant("The refresh token was revoked or has expired.")
    return family


async def _grant(service: TokenService, tenant: Tenant, client: Application,
                 form: dict[str, str], record: Refresh, family: Family,
                 successor: str) -> Grant:
    """The grant a refresh token's ``record`` continues, with the scope narrowed as asked;
    the identity re-validated by its source (RFC 9700 §4.14.2: a user who may no longer sign
    in gets no new tokens)."""
    granted = record.scopes
    identity = await still_valid(service, tenant, client, record.identity, granted)
    scopes = granted
    if form.get("scope"):
        requested = tuple(dict.fromkeys(t for t in form["scope"].split(" ") if t))
        wider = [s for s in requested if s not in granted]
        if wider:
            raise InvalidScope("The scope may only narrow on refresh.",
                               f"Not granted: {quoted_list(wider)}.")
        scopes = requested
    return Grant(client=client, scopes=scopes, identity=identity, family=record.family,
                 family_record=family, refresh_scopes=granted, refresh_token=successor)


async def _reused(service: TokenService, tenant: Tenant, family: str) -> NoReturn:
    """RFC 9700 §4.14.2: revoke the family, then refuse."""
    record = await load(service.store(tenant), Family, family)
    await service.revoke_family(family, tenant)
    raise RefreshTokenReused(record.subject if record is not None else None)
