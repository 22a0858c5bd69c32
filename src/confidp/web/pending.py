"""The sign-in request while the person signs in (the "pending" request): sealed into the URL
of each sign-in page, never stored, and used once.

/authorize does not store the request: it seals it (confidp.sealing) into the page's URL with
its tenant, lifetime, a digest of the browser's flow cookie (a page opened in another browser,
or forged by another site, is refused), a CSRF token for its forms, the sign-in steps passed
so far and the identity established so far (only between two authentication steps: once
every one passed, the session carries it), and the finisher that ends it (``code``). Each step
that passes seals the request again with itself recorded, so the next page's URL says how
far the sign-in got.

Only its use is recorded: a sign-in has a random key, kept through every re-sealing, and the
step that finishes it (the code, or an error sent back to the client) claims that key, so every
page of a finished sign-in is used up at once, and two racing submissions finish it once.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from confidp.context import AppRequest
from confidp.identity.identity import Identity
from confidp.model import Tenant
from confidp.oauth.authorize import AuthorizationRequest
from confidp.oauth.errors import TENANT_MISMATCH, FlowError, InvalidRequest, SignInExpired
from confidp.oauth.records import PendingUsed, load, write
from confidp.oauth.tokens import digest
from confidp.sealing import Sealer
from confidp.store.base import Write
from confidp.store.tenant import TenantStore
from confidp.web.cookies import flow_cookie, read_cookie

SIGN_IN_PURPOSE = b"confidp sign-in request"
# keeps a login URL under 8 KiB, the request line many proxies accept (nginx's default); a
# usual request seals to about 500 characters
MAX_SEALED_LENGTH = 6 * 1024
CODE_FINISHER = "code"  # confidp.web.signin.finish
# 1: the request only (read for sign-ins begun before an upgrade); 2: with its steps
_SEALED_VERSION = 2
_FIRST_VERSION = 1


@dataclass(frozen=True, slots=True)
class Pending:
    """A sign-in request. ``sealed`` is its sealed form, which its pages carry: None until it
    is sealed, which happens only when the browser must come back for a page."""

    request: AuthorizationRequest
    created_at: float
    expires_at: float
    binding: str  # SHA-256 of the browser's flow cookie
    csrf_token: str
    used_key: str  # the store key that marks this sign-in used
    passed: tuple[str, ...] = ()  # the names of the sign-in steps passed, in order
    identity: Identity | None = None  # established so far, while no session carries it
    finisher: str = CODE_FINISHER
    sealed: str | None = None
    handed_out: bool = False  # sealed into a page's URL at least once: its use must be marked

    def passing(self, step: str, identity: Identity | None) -> Pending:
        """This request with ``step`` passed (and who it established), to seal anew."""
        passed = self.passed if step in self.passed else (*self.passed, step)
        return replace(self, passed=passed,
                       identity=identity if identity is not None else self.identity,
                       sealed=None)

    def handed_over(self) -> Pending:
        """This request once the session carries its identity."""
        return replace(self, identity=None, sealed=None)


def new_pending(tenant: Tenant, request: AuthorizationRequest, now: float,
                binding: str) -> Pending:
    """A sign-in request just validated, for the browser whose flow cookie is ``binding``."""
    return Pending(request, now, now + tenant.lifetimes.login, digest(binding),
                   secrets.token_urlsafe(32), secrets.token_urlsafe(24))


def seal(sealer: Sealer, tenant: Tenant, pending: Pending) -> Pending:
    """``pending`` with its sealed form."""
    if pending.sealed is not None:
        return pending
    data = json.dumps([
        _SEALED_VERSION, tenant.id, pending.created_at, pending.expires_at, pending.binding,
        pending.csrf_token, pending.request.to_fields(), pending.used_key, list(pending.passed),
        pending.identity.to_json() if pending.identity else None, pending.finisher],
        separators=(",", ":"))
    sealed = sealer.seal(data.encode(), SIGN_IN_PURPOSE)
    if len(sealed) > MAX_SEALED_LENGTH:
        raise InvalidRequest("Malformed request parameters.", "The parameters are too long "
                             "together: keep state, nonce and login_hint to about 4 KB in all.")
    return replace(pending, sealed=sealed, handed_out=True)


def _unsealed(sealed: str, fields: list[Any]) -> tuple[str, Pending]:
    """The tenant id and the request of a sealed form's fields."""
    version = fields[0]
    if version == _FIRST_VERSION:
        _, tenant_id, created_at, expires_at, binding, csrf, request = fields
        # its use is marked by the digest of its sealed form, as the version that sealed it did
        return tenant_id, Pending(AuthorizationRequest.from_fields(request), created_at,
                                  expires_at, binding, csrf, digest(sealed), sealed=sealed,
                                  handed_out=True)
    if version != _SEALED_VERSION:
        raise ValueError(version)
    (_, tenant_id, created_at, expires_at, binding, csrf, request, used_key, passed,
     identity, finisher) = fields
    return tenant_id, Pending(
        AuthorizationRequest.from_fields(request), float(created_at), float(expires_at),
        str(binding), str(csrf), str(used_key), tuple(str(name) for name in passed),
        Identity.from_json(identity) if identity is not None else None, str(finisher), sealed,
        handed_out=True)


async def load_pending(request: AppRequest, tenant: Tenant, sealed: str | None) -> Pending:
    """The sign-in request a sign-in page carries, if it was sealed by this server, for this
    tenant, in this browser, is within its lifetime (the shorter of the lifetime it was given
    and the tenant's current one) and was not used yet."""
    if not sealed or len(sealed) > MAX_SEALED_LENGTH:
        raise SignInExpired()
    ctx = request.app.ctx
    data = ctx.sealer.unseal(sealed, SIGN_IN_PURPOSE)
    if data is None:
        raise SignInExpired()
    try:
        tenant_id, pending = _unsealed(sealed, json.loads(data))
    except (ValueError, TypeError, KeyError, IndexError):  # only another confidp version
        raise SignInExpired() from None
    if tenant_id != tenant.id:
        raise FlowError(TENANT_MISMATCH, "This sign-in request was started for another "
                        "tenant. Go back to the application and sign in again.")
    # this tenant's own request from here on: its pages (and an error page's way back to the
    # application) follow it (confidp.web.locale, confidp.web.way_back)
    request.ctx.sign_in_request = pending.request
    if ctx.clock() >= min(pending.expires_at, pending.created_at + tenant.lifetimes.login):
        raise SignInExpired()
    binding = read_cookie(request, flow_cookie(tenant)) or ""
    if not hmac.compare_digest(digest(binding), pending.binding):
        raise FlowError("This sign-in request was started in another browser.",
                        "Go back to the application and sign in again. If this keeps "
                        "happening, allow cookies for this site.")
    if await load(ctx.tenant_store(tenant), PendingUsed, pending.used_key) is not None:
        raise SignInExpired()
    return pending


async def use_pending(store: TenantStore, tenant: Tenant, pending: Pending, now: float,
                      writes: Sequence[Write] = ()) -> bool:
    """Marks a sign-in used and makes ``writes``, in one atomic step: True for the one caller
    that did."""
    if not pending.handed_out:  # never left this server, so never seen before: nothing to mark
        if writes:
            await store.put_many(writes)
        return True
    used = write(PendingUsed(tenant.id), pending.used_key, max(1.0, pending.expires_at - now))
    return await store.claim(*used, writes)


def check_csrf(pending: Pending, token: str | None) -> None:
    if not token or not hmac.compare_digest(token.encode(), pending.csrf_token.encode()):
        raise FlowError("This form has expired.", "Go back to the application and sign in "
                        "again.")
