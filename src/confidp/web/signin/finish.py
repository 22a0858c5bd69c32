"""How a sign-in ends once no step is needed: its finisher, named by the sealed request. The
``code`` finisher sends the browser back to the application with an authorization code, or
with an error (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207). Device authorization (RFC 8628) will add
its own: the approval of a user code.

Finishing uses the sign-in up (``confidp.web.pending.use_pending``) in the same atomic step
that stores what it issues: a double submit cannot issue two codes, and a store lost before
that step uses up nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from sanic import HTTPResponse

from confidp import audit
from confidp.oauth.authorize import ErrorRedirect, authorization_response_uri
from confidp.oauth.codes import code_record, new_code
from confidp.oauth.errors import LoginRequired, OAuthError, SignInExpired
from confidp.oauth.records import write
from confidp.oauth.tokens import digest
from confidp.web.errors import error_redirect
from confidp.web.pages import redirect
from confidp.web.pending import CODE_FINISHER, Pending, use_pending

if TYPE_CHECKING:
    from confidp.web.signin.steps import SignIn


class Finisher(Protocol):
    async def finish(self, sign_in: SignIn, status: int) -> HTTPResponse:
        """Every step passed: what the sign-in was for."""

    async def fail(self, sign_in: SignIn, error: OAuthError, status: int) -> HTTPResponse:
        """The sign-in ends with ``error`` (a denial, prompt=none that needs the person)."""


class CodeFinisher:
    """The authorization code flow's end (RFC 6749 §4.1.2)."""

    async def finish(self, sign_in: SignIn, status: int) -> HTTPResponse:
        session = sign_in.session
        if session is None:  # no step signed anyone in
            return await self.fail(sign_in, LoginRequired("The user is not signed in."),
                                   status)
        code = new_code()
        auth_request = sign_in.pending.request
        record = code_record(sign_in.tenant, sign_in.application, auth_request,
                             session.identity, session.key, sign_in.now)
        if not await use_pending(sign_in.store, sign_in.tenant, sign_in.pending,
                                 record.issued_at, [write(
                                     record, digest(code),
                                     sign_in.tenant.lifetimes.authorization_code)]):
            raise SignInExpired()
        audit.emit(sign_in.request, audit.CODE_ISSUED, tenant=sign_in.tenant,
                   client_id=record.client_id, subject=session.identity.subject,
                   connector=session.identity.source, scope=" ".join(record.scopes),
                   code_id=digest(code)[:16])
        return redirect(authorization_response_uri(auth_request.redirect_uri, {
            "code": code, "state": auth_request.state, "iss": sign_in.tenant.issuer}), status)

    async def fail(self, sign_in: SignIn, error: OAuthError, status: int) -> HTTPResponse:
        """Back to the (verified) redirect URI with the error, state and iss (RFC 6749
        §4.1.2.1, RFC 9207)."""
        assert error.redirectable
        await use_pending(sign_in.store, sign_in.tenant, sign_in.pending, sign_in.now)
        auth_request = sign_in.pending.request
        return error_redirect(ErrorRedirect(error, auth_request.redirect_uri,
                                            auth_request.state), sign_in.tenant.issuer, status)


FINISHERS: Mapping[str, Finisher] = MappingProxyType({
    CODE_FINISHER: CodeFinisher(),
})


def finisher_of(pending: Pending) -> Finisher:
    finisher = FINISHERS.get(pending.finisher)
    if finisher is None:  # sealed by a version of confidp that had it
        raise SignInExpired()
    return finisher
