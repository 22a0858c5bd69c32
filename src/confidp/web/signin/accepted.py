"""What the authentication steps of a sign-in agree on: whether it still needs someone to
authenticate, and through which sources (``confidp.identity.choice``).

A sign-in needs authentication when no step of it established an identity yet and there is
no session, or the session is too old for ``prompt=login``/``max_age`` (OpenID Connect Core
§3.1.2.1), or it was made through a source the application does not accept (a person signed
in with a tenant-file password does not reach an application that accepts only the
corporate provider)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from confidp.identity.sources import CallbackSource
from confidp.oauth.authorize import needs_login

if TYPE_CHECKING:
    from confidp.web.signin.steps import SignIn


def accepted(sign_in: SignIn) -> tuple[str, ...]:
    """The ids of the sources the sign-in's application accepts, in the page's order."""
    return sign_in.request.app.ctx.sources.of(sign_in.tenant).accepted(sign_in.tenant,
                                                                        sign_in.application)


def needs_authentication(sign_in: SignIn) -> bool:
    if sign_in.pending.identity is not None:  # a step of this sign-in established it
        return False
    session = sign_in.session
    if session is None:
        return True
    if session.identity.source not in accepted(sign_in):
        return True
    return needs_login(session.auth_time, sign_in.pending.created_at, sign_in.pending.request,
                       sign_in.now)


def callback_sources(sign_in: SignIn) -> list[CallbackSource]:
    """The upstream connectors the application accepts, in the login page's order."""
    sources = sign_in.request.app.ctx.sources.of(sign_in.tenant)
    found = (sources.callback_source(source_id) for source_id in accepted(sign_in))
    return [source for source in found if source is not None]


def accepts_passwords(sign_in: SignIn) -> bool:
    """Whether the login page shows the password form: a password source is accepted."""
    sources = sign_in.request.app.ctx.sources.of(sign_in.tenant)
    return any(True for _ in sources.password_sources(accepted(sign_in)))


def straight_to(sign_in: SignIn) -> CallbackSource | None:
    """The upstream connector to send the browser to with no choice page: the one the
    request's ``connector`` hint names, if the application accepts it; else the only source
    the application accepts, if it is an upstream one."""
    upstream = callback_sources(sign_in)
    hint = sign_in.pending.request.connector
    if hint is not None:
        chosen = next((source for source in upstream if source.id == hint), None)
        if chosen is not None:
            return chosen
    if len(upstream) == 1 and not accepts_passwords(sign_in):
        return upstream[0]
    return None
