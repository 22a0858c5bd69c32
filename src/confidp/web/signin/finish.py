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
from confidp.model import Application, Tenant
from confidp.oauth.authorize import ErrorRedirect, authorization_response_uri
from confidp.oauth.codes import code_record, new_code
from confidp.oauth.errors import FlowError, LoginRequired, OAuthError, SignInExpired
from confidp.oauth.records import write
from confidp.oauth.tokens import digest
from confidp.web.errors import error_redirect
from confidp.web.pages import redirect
from confidp.web.pending import CODE_FINISHER, Pending, use_pending

ACCOUNT_FINISHER = "account"
ACCOUNT_PATH = "/account"
# not a client id a tenant file can use (the schema's pattern has no spaces)
ACCOUNT_CLIENT_ID = "confidp account"

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


class AccountFinisher:
    """A sign-in to the account page ({issuer}/account, confidp.web.account): once every
    step passed, back to the page, signed in (a fresh sign-in when it was a re-authentication
    before changing a factor)."""

    async def finish(self, sign_in: SignIn, status: int) -> HTTPResponse:
        if sign_in.session is None:
            raise SignInExpired()
        if not await use_pending(sign_in.store, sign_in.tenant, sign_in.pending, sign_in.now):
            raise SignInExpired()
        return redirect(f"{sign_in.tenant.issuer_path}{ACCOUNT_PATH}", 303)

    async def fail(self, sign_in: SignIn, error: OAuthError, status: int) -> HTTPResponse:
        """Shown here: the account page has no client to send an error to."""
        await use_pending(sign_in.store, sign_in.tenant, sign_in.pending, sign_in.now)
        raise FlowError(error.description, error.detail)


def account_application(tenant: Tenant) -> Application:
    """The account page, as the application its sign-ins are for: the tenant's own, with the
    tenant's second-factor rules only (confidp.mfa.policy), no consent, no tokens."""
    return Application(
        client_id=ACCOUNT_CLIENT_ID, name=tenant.display_name, type="confidential",
        token_endpoint_auth_method="none",  # noqa: S106 - a method name, no secret
        redirect_uris=frozenset({f"{tenant.issuer}{ACCOUNT_PATH}"}),
        post_logout_redirect_uris=frozenset(), scopes=frozenset({"openid"}),
        grant_types=frozenset(), require_consent=False,
        id_token_signed_response_alg="RS256")  # noqa: S106 - an algorithm name


FINISHERS: Mapping[str, Finisher] = MappingProxyType({
    CODE_FINISHER: CodeFinisher(),
    ACCOUNT_FINISHER: AccountFinisher(),
})


def finisher_of(pending: Pending) -> Finisher:
    finisher = FINISHERS.get(pending.finisher)
    if finisher is None:  # sealed by a version of confidp that had it
        raise SignInExpired()
    return finisher
