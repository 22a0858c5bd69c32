"""Which password source checks a password typed into the login form, when an application
accepts more than one (the tenant file's users and an ``ldap`` connector, or two
directories).

The form then shows a choice ("Sign in with": the tenant's own accounts, each directory by
its connector's ``name``), preselecting the one the request's ``connector`` hint names, else
the first, and only the chosen source checks the password. Trying each source in turn would
send a password meant for one to the others: a local user's typo would reach the directory
(counting towards its lockout policy, e.g. Active Directory's) and a directory password would
be tried against the tenant file; a username known to both would sign in as whichever
accepted the password. With one password source accepted there is no choice and it checks
every password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from confidp.identity.sources import PasswordSource
from confidp.web.signin.accepted import accepted

if TYPE_CHECKING:
    from confidp.web.signin.steps import SignIn

SOURCE_FIELD = "source"


def offered_sources(sign_in: SignIn) -> list[PasswordSource]:
    """The password sources this sign-in's application accepts, in the tenant's order."""
    sources = sign_in.request.app.ctx.sources.of(sign_in.tenant)
    return list(sources.password_sources(accepted(sign_in)))


def chosen_source(sign_in: SignIn, chosen: str | None) -> PasswordSource | None:
    """The source that checks this form's password: the only one offered, or the one the
    form chose among those offered (None: the choice is not one of them)."""
    offered = offered_sources(sign_in)
    if len(offered) == 1:
        return offered[0]
    return next((source for source in offered if source.id == chosen), None)


def choices(sign_in: SignIn) -> list[dict[str, str]]:
    """What the form's choice lists (nothing when there is one source)."""
    offered = offered_sources(sign_in)
    if len(offered) < 2:
        return []
    return [{"id": source.id, "name": source.display_name, "kind": source.kind}
            for source in offered]
