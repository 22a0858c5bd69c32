"""The upstream step: sign-in through an upstream identity provider (a ``CallbackSource``:
OpenID Connect, OAuth 2.0, GitHub), Dex's callback connector flow.

- ``{issuer}/upstream`` starts a trip: POST from a button of the login page (with the
  sign-in's CSRF token), or GET when the sign-in goes to one connector straight away (the
  application accepts only it, or the request's ``connector`` hint names it).
- The trip's secrets (state, nonce, PKCE verifier: RFC 6749 §10.12, OpenID Connect Core
  §3.1.2.1, RFC 7636) are made here. The ``state`` sent upstream is a random 256-bit value
  (providers limit its length, so the sign-in request does not travel in it); the trip is
  kept in the store under its digest, sealed, bound to this browser's flow cookie, for the
  rest of the sign-in's lifetime.
- ``{issuer}/callback/{connector}`` is the redirect URI registered at the provider. The
  trip is taken once (a replayed callback finds nothing), only in the browser that started
  it (another browser's state is refused and left for its owner), only for the connector it
  was started for; then the source checks the provider's answer and the step passes with
  the identity it vouches for.

A provider's ``access_denied`` goes back to the application as ``access_denied`` (as a
denied consent does); every other failure (unreachable, timeout, a bad token, a person the
connector does not allow) is a themed page saying what happened, with the way back to the
application, never a 500 and never a hang (``confidp.outbound`` bounds every request).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from types import MappingProxyType

from sanic import HTTPResponse

from confidp import audit
from confidp.context import AppRequest
from confidp.identity.sources import (
    CallbackContext,
    CallbackSource,
    NotAllowed,
    UpstreamDenied,
    UpstreamError,
    UpstreamRequest,
)
from confidp.model import Tenant
from confidp.oauth.errors import AccessDenied, FlowError, LoginRequired, OAuthError, SignInExpired
from confidp.oauth.records import UpstreamFlow, load, save
from confidp.oauth.tokens import digest
from confidp.registry import Snapshot
from confidp.web.cookies import flow_cookie, read_cookie
from confidp.web.forms import form_value
from confidp.web.pages import redirect
from confidp.web.pending import load_pending
from confidp.web.sessions import load_session
from confidp.web.signin.accepted import (
    accepted,
    callback_sources,
    needs_authentication,
    straight_to,
)
from confidp.web.signin.finish import finisher_of
from confidp.web.signin.steps import (
    Outcome,
    Passed,
    PrefixHandler,
    SignIn,
    Stage,
    advance,
    begin,
    sealed,
)

log = logging.getLogger("confidp.upstream")
FLOW_PURPOSE = b"confidp upstream flow"
CALLBACK_PREFIX = "/callback/"
CONNECTOR_FIELD = "connector"
MAX_STATE = 128
AGAIN = "Go back to the application and sign in again."
UNAVAILABLE = "This sign-in method is not available."


class UpstreamFailed(FlowError):
    """An upstream sign-in that failed: the source's words, its status (502, 403)."""

    def __init__(self, error: UpstreamError) -> None:
        super().__init__(error.description, AGAIN)
        self.status = error.status
        self.error = "access_denied" if error.status == 403 else "temporarily_unavailable"


class UpstreamStep:
    name = "upstream"
    stage = Stage.AUTHENTICATE
    path = "/upstream"

    @property
    def prefixed(self) -> Mapping[str, PrefixHandler]:
        """``{issuer}/callback/{connector}``: where providers send the browser back."""
        return {CALLBACK_PREFIX: callback}

    async def needed(self, sign_in: SignIn) -> bool:
        """Only when the sign-in goes to one connector straight away; otherwise the login
        page (the password step) offers the connectors as buttons."""
        return needs_authentication(sign_in) and straight_to(sign_in) is not None

    def interaction_required(self) -> OAuthError:
        return LoginRequired("The user is not signed in.")

    async def show(self, sign_in: SignIn) -> HTTPResponse:
        source = straight_to(sign_in)
        assert source is not None  # needed() said so
        return await start(sign_in, source, 302)

    async def submit(self, sign_in: SignIn) -> Outcome:
        """A button of the login page."""
        chosen = form_value(sign_in.request, CONNECTOR_FIELD)
        source = next((s for s in callback_sources(sign_in) if s.id == chosen), None)
        if source is None:
            raise FlowError(UNAVAILABLE, AGAIN)
        return await start(sign_in, source, 303)


STEP = UpstreamStep()


def callback_url(tenant: Tenant, connector_id: str) -> str:
    return f"{tenant.issuer}{CALLBACK_PREFIX}{connector_id}"


def context_of(sign_in: SignIn) -> CallbackContext:
    ctx = sign_in.request.app.ctx
    return CallbackContext(sign_in.tenant, ctx.outbound, sign_in.now)


async def start(sign_in: SignIn, source: CallbackSource, status: int) -> HTTPResponse:
    """Keep a new trip (sealed, under the digest of its state) and send the browser to the
    provider."""
    sign_in = sealed(sign_in)
    pending = sign_in.pending
    assert pending.sealed is not None
    upstream = UpstreamRequest(callback_url(sign_in.tenant, source.id),
                               state=secrets.token_urlsafe(32),
                               nonce=secrets.token_urlsafe(32),
                               code_verifier=secrets.token_urlsafe(48))
    try:
        location = await source.login_url(upstream, context_of(sign_in))
    except UpstreamError as error:
        raise failed(sign_in, source.id, error) from None
    ctx = sign_in.request.app.ctx
    data = json.dumps([source.id, pending.sealed, upstream.nonce, upstream.code_verifier,
                       pending.binding, upstream.callback_url], separators=(",", ":"))
    record = UpstreamFlow(sign_in.tenant.id, ctx.sealer.seal(data.encode(), FLOW_PURPOSE))
    ttl = max(1.0, pending.expires_at - sign_in.now)
    await save(sign_in.store, record, digest(upstream.state), ttl)
    return redirect(location, status)


def failed(sign_in: SignIn, connector_id: str, error: UpstreamError) -> UpstreamFailed:
    """Log and audit a failed trip (never a secret or token: ``detail`` names the check or
    the URL), and the error the person sees."""
    log.warning("sign-in through %s/%s failed (%s): %s", sign_in.tenant.id, connector_id,
                error.reason, error.detail)
    audit.emit(sign_in.request, audit.SIGNIN_FAILED, tenant=sign_in.tenant,
               client_id=sign_in.application.client_id, connector=connector_id,
               reason=audit.NOT_ALLOWED if isinstance(error, NotAllowed)
               else audit.UPSTREAM_ERROR, detail=error.reason)
    return UpstreamFailed(error)


def single_values(request: AppRequest) -> Mapping[str, str]:
    """The callback's query; a parameter given twice is refused (RFC 6749 §3.1)."""
    values: dict[str, str] = {}
    for name, value in request.query_args:
        if name in values:
            raise FlowError("The identity provider's answer is malformed.", AGAIN)
        values[name] = value
    return MappingProxyType(values)


async def callback(request: AppRequest, tenant: Tenant, snapshot: Snapshot,
                   connector_id: str) -> HTTPResponse:
    """``{issuer}/callback/{connector}``: the provider sends the browser back."""
    params = single_values(request)
    state = params.get("state", "")
    if not state or len(state) > MAX_STATE:
        raise FlowError("The identity provider's answer is malformed.", AGAIN)
    ctx = request.app.ctx
    store = ctx.tenant_store(tenant)
    key = digest(state)
    record = await load(store, UpstreamFlow, key)
    data = ctx.sealer.unseal(record.sealed, FLOW_PURPOSE) \
        if record is not None and record.tenant == tenant.id else None
    if data is None:  # never made, expired, or taken by an earlier callback
        raise SignInExpired()
    started_for, pending_sealed, nonce, verifier, binding, url = json.loads(data)
    if started_for != connector_id:
        raise FlowError("This sign-in was started with another identity provider.", AGAIN)
    # the browser that started the trip, and only it, may finish it; another browser's
    # attempt leaves the trip for its owner
    presented = read_cookie(request, flow_cookie(tenant)) or ""
    if digest(presented) != binding:
        raise FlowError("This sign-in request was started in another browser.",
                        "Go back to the application and sign in again. If this keeps "
                        "happening, allow cookies for this site.")
    if not await store.consume(UpstreamFlow.KIND, key):
        raise SignInExpired()  # a concurrent callback took it
    pending = await load_pending(request, tenant, pending_sealed)
    sign_in = await begin(request, tenant, snapshot, pending,
                          await load_session(request, tenant))
    source = ctx.sources.of(tenant).callback_source(connector_id)
    if source is None or connector_id not in accepted(sign_in):
        raise FlowError(UNAVAILABLE, AGAIN)  # removed or refused by a reload meanwhile
    upstream = UpstreamRequest(url, state, nonce, verifier)
    try:
        identity = await source.callback(params, upstream, context_of(sign_in))
    except UpstreamDenied as error:
        log.info("sign-in through %s/%s declined at the provider: %s", tenant.id,
                 connector_id, error.detail)
        audit.emit(request, audit.SIGNIN_FAILED, tenant=tenant,
                   client_id=sign_in.application.client_id, connector=connector_id,
                   reason=audit.UPSTREAM_ERROR, detail=error.reason)
        return await finisher_of(pending).fail(sign_in, AccessDenied(
            "The user denied the request at the identity provider."), 303)
    except UpstreamError as error:
        raise failed(sign_in, connector_id, error) from None
    return await advance(sign_in, STEP, Passed(identity))
