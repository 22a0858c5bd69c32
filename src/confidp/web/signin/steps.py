"""Sign-in as a small state machine (DESIGN.md "Identities and sign-in steps"): the steps a
person passes between /authorize and the application, in stage order, then a finisher.

    identify -> authenticate -> factor -> consent -> finish

A ``Step`` has a ``name``, a ``stage``, a ``path`` under the issuer (its page: GET shows it,
POST submits it), and says whether it is ``needed`` for a sign-in. The driver
(``proceed``) runs the first step that is needed and not yet passed in this sign-in, or, when
none is, the sign-in's finisher (``confidp.web.signin.finish``). A step that passes is recorded
in the sealed request (``confidp.web.pending``), which is sealed again for the next page;
once every authentication stage passed, the session starts with the identity the steps
established. ``prompt=none`` (OpenID Connect Core §3.1.2.1) answers the error of the first
step that would need the person.

The steps of an app are a ``Steps`` registry on its context; confidp's own are
``confidp.web.signin.STEPS``. The sign-in pages' routes come from it
(``confidp.web.tenant_routes``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from types import MappingProxyType
from typing import Protocol
from urllib.parse import quote

from sanic import HTTPResponse

from confidp import audit
from confidp.context import AppRequest
from confidp.identity.identity import Identity
from confidp.model import Application, Tenant
from confidp.oauth.authorize import revalidate
from confidp.oauth.errors import OAuthError
from confidp.registry import Snapshot
from confidp.store.tenant import TenantStore
from confidp.web.cookies import session_cookie, set_cookie
from confidp.web.forms import form_value
from confidp.web.pages import redirect
from confidp.web.pending import Pending, check_csrf, load_pending, seal
from confidp.web.sessions import Session, load_session, start_session
from confidp.web.signin.finish import ACCOUNT_FINISHER, account_application, finisher_of


class Stage(IntEnum):
    """When a step runs. The stages before CONSENT authenticate: the session starts once no
    step of theirs is needed any more."""

    IDENTIFY = 1  # who is signing in (a username, a choice of identity source)
    AUTHENTICATE = 2  # proving it (a password; an upstream provider; a passkey)
    FACTOR = 3  # further factors a policy requires
    CONSENT = 4  # what the person agrees to (the application's scopes)


@dataclass(frozen=True, slots=True)
class SignIn:
    """A sign-in in progress, as a step sees it."""

    request: AppRequest
    tenant: Tenant
    snapshot: Snapshot
    application: Application
    pending: Pending
    session: Session | None
    # what the steps work out about this sign-in, once per SignIn (``replace`` makes a new,
    # empty one): the second-factor demand, which every factor step and the guard ask for
    memo: dict[str, object] = field(default_factory=dict, init=False, repr=False,
                                    compare=False)

    @property
    def identity(self) -> Identity | None:
        """Who the steps so far established: the session's, once it started."""
        return self.session.identity if self.session is not None else self.pending.identity

    @property
    def store(self) -> TenantStore:
        return self.request.app.ctx.tenant_store(self.tenant)

    @property
    def now(self) -> float:
        return self.request.app.ctx.clock()

    def page_url(self, step: Step) -> str:
        """The URL of ``step``'s page for this sign-in (``pending`` must be sealed)."""
        assert self.pending.sealed is not None
        return f"{self.tenant.issuer_path}{step.path}?request={quote(self.pending.sealed)}"


@dataclass(frozen=True, slots=True)
class Passed:
    """A step's outcome when it passed; an authentication step says whom it established."""

    identity: Identity | None = None


Outcome = Passed | HTTPResponse  # or a response: the step's page again, with an error


class Step(Protocol):
    @property
    def name(self) -> str:
        """Unique; recorded in the sealed request when the step passes."""

    @property
    def stage(self) -> Stage: ...

    @property
    def path(self) -> str:
        """Its page under the issuer, e.g. ``/login``."""

    async def needed(self, sign_in: SignIn) -> bool:
        """Whether this sign-in needs the step (it was not passed in this sign-in yet)."""

    async def show(self, sign_in: SignIn) -> HTTPResponse:
        """The step's page."""

    async def submit(self, sign_in: SignIn) -> Outcome:
        """The step's form, back (its CSRF token already checked)."""

    def interaction_required(self) -> OAuthError:
        """The error for ``prompt=none`` when the step is needed (OpenID Connect Core
        §3.1.2.6: login_required, consent_required, interaction_required)."""


Handler = Callable[[AppRequest, Tenant, Snapshot], Awaitable[HTTPResponse]]
# a page whose last path segment is a name (``/callback/<connector>``)
PrefixHandler = Callable[[AppRequest, Tenant, Snapshot, str], Awaitable[HTTPResponse]]


class Steps:
    """An app's sign-in steps in the order they run: by stage, then as registered."""

    def __init__(self, steps: Iterable[Step]) -> None:
        registered = list(steps)
        self._steps = tuple(sorted(registered, key=lambda step: step.stage))
        names = [step.name for step in self._steps]
        paths = [step.path for step in self._steps]
        if len(set(names)) != len(names) or len(set(paths)) != len(paths):
            raise ValueError(f"sign-in steps need unique names and paths: {names}, {paths}")
        self.endpoints: Mapping[str, Mapping[str, Handler]] = MappingProxyType({
            step.path: MappingProxyType({"GET": _shown(step), "POST": _submitted(step)})
            for step in self._steps})
        # a step's pages under a prefix (``prefixed``: prefix -> GET handler)
        self.prefixed: Mapping[str, PrefixHandler] = MappingProxyType({
            prefix: handler for step in self._steps
            for prefix, handler in getattr(step, "prefixed", {}).items()})

    def __iter__(self) -> Iterator[Step]:
        return iter(self._steps)

    def plus(self, step: Step, *, before: str | None = None) -> Steps:
        """These steps and ``step``: within its stage, last, or before the step named
        ``before``."""
        steps = list(self._steps)
        at = next((i for i, s in enumerate(steps) if s.name == before), len(steps))
        return Steps([*steps[:at], step, *steps[at:]])

    def before(self, step: Step) -> Iterator[Step]:
        for other in self._steps:
            if other is step:
                return
            yield other


def passed(sign_in: SignIn, step: Step) -> bool:
    """Whether ``step`` passed in this sign-in and still stands: an authentication step only
    while the identity it established is there (not once the session ended meanwhile)."""
    return step.name in sign_in.pending.passed and (
        step.stage >= Stage.CONSENT or sign_in.identity is not None)


async def first_needed(sign_in: SignIn, steps: Iterable[Step]) -> Step | None:
    """The first of ``steps`` this sign-in needs and has not passed."""
    for step in steps:
        if not passed(sign_in, step) and await step.needed(sign_in):
            return step
    return None


def _steps_of(sign_in: SignIn) -> Steps:
    return sign_in.request.app.ctx.steps


def sealed(sign_in: SignIn) -> SignIn:
    """``sign_in`` with its request sealed (to send the browser to a page)."""
    if sign_in.pending.sealed is not None:
        return sign_in
    return replace(sign_in, pending=seal(sign_in.request.app.ctx.sealer, sign_in.tenant,
                                         sign_in.pending))


async def proceed(sign_in: SignIn, status: int) -> HTTPResponse:
    """What comes next for a valid sign-in request: the page of the first step it needs, or
    its finisher's answer. With ``prompt=none``, a step that needs the person is an error
    sent back to the client."""
    finisher = finisher_of(sign_in.pending)
    step = await first_needed(sign_in, _steps_of(sign_in))
    if step is None:
        return await finisher.finish(sign_in, status)
    if "none" in sign_in.pending.request.prompt:
        return await finisher.fail(sign_in, step.interaction_required(), status)
    sign_in = sealed(sign_in)
    return redirect(sign_in.page_url(step), status)


async def advance(sign_in: SignIn, step: Step, passed: Passed) -> HTTPResponse:
    """``step`` passed: record it (an identity it established is a ``signin.succeeded`` audit
    event), start the session once no authentication step is needed any more, and go on (303:
    the answer to a form)."""
    if (established := passed.identity) is not None:  # by whichever step and source
        audit.emit(sign_in.request, audit.SIGNIN_SUCCEEDED, tenant=sign_in.tenant,
                   client_id=sign_in.application.client_id, subject=established.subject,
                   connector=established.source, username=established.username,
                   amr=list(established.amr))
    sign_in = replace(sign_in, pending=sign_in.pending.passing(step.name, passed.identity))
    authentication = [s for s in _steps_of(sign_in) if s.stage < Stage.CONSENT]
    cookie = None
    identity = sign_in.pending.identity
    if identity is not None and await first_needed(sign_in, authentication) is None:
        session, cookie = await start_session(sign_in.request, sign_in.tenant, identity)
        started = replace(sign_in, session=session, pending=sign_in.pending.handed_over())
        started.memo.update(sign_in.memo)  # the same person, the same factors
        sign_in = started
    response = await proceed(sign_in, 303)
    if cookie is not None:
        set_cookie(response, sign_in.tenant, session_cookie(sign_in.tenant), cookie)
    return response


async def begin(request: AppRequest, tenant: Tenant, snapshot: Snapshot, pending: Pending,
                session: Session | None) -> SignIn:
    """The sign-in ``pending`` continues, its request checked again against the current
    tenant (a client, redirect URI or scope removed by a reload stops it at once)."""
    application = account_application(tenant) if pending.finisher == ACCOUNT_FINISHER \
        else revalidate(pending.request, tenant)
    return SignIn(request, tenant, snapshot, application, pending, session)


def _shown(step: Step) -> Handler:
    async def show(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
        """GET: the step's page when it is the one this sign-in needs now; else on to the one
        it needs (or its finish)."""
        pending = await load_pending(request, tenant, request.args.get("request"))
        sign_in = await begin(request, tenant, snapshot, pending,
                              await load_session(request, tenant))
        if await first_needed(sign_in, _steps_of(sign_in)) is step:
            return await step.show(sign_in)
        return await proceed(sign_in, 302)
    return show


def _submitted(step: Step) -> Handler:
    async def submit(request: AppRequest, tenant: Tenant, snapshot: Snapshot) -> HTTPResponse:
        """POST: the step's form. A step that comes earlier and is needed (the session ended
        meanwhile) goes first."""
        pending = await load_pending(request, tenant, form_value(request, "request"))
        check_csrf(pending, form_value(request, "csrf_token"))
        earlier = list(_steps_of_request(request).before(step))
        session = await load_session(request, tenant) if earlier else None
        sign_in = await begin(request, tenant, snapshot, pending, session)
        if (needed := await first_needed(sign_in, earlier)) is not None:
            return redirect(sealed(sign_in).page_url(needed), 303)
        outcome = await step.submit(sign_in)
        if isinstance(outcome, HTTPResponse):
            return outcome
        return await advance(sign_in, step, outcome)
    return submit


def _steps_of_request(request: AppRequest) -> Steps:
    return request.app.ctx.steps

