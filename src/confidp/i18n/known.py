"""Texts that other modules write in English and pages show: the standard scopes' descriptions
(``confidp.oauth.scopes``) and the descriptions of errors a person can meet on a page
(``confidp.oauth.errors``, the sign-in flow). Listed here so that the catalogue extraction
finds them; a page shows them translated through the ``localized`` filter, and any text not
listed here (a description that quotes a request value, say) in English, marked ``lang="en"``.

``tests/i18n/test_catalogues.py`` checks that every standard scope's description and every
error class's default description and detail are listed.
"""

from __future__ import annotations

from confidp.i18n.messages import lazy

STANDARD_SCOPE_DESCRIPTIONS = (
    lazy("Sign you in"),
    lazy("Your name, username and profile details"),
    lazy("Your email address"),
    lazy("Your postal address"),
    lazy("Your phone number"),
    lazy("Your group memberships"),
    lazy("Stay signed in to the application when you are away"),
)

ERROR_TEXTS = (
    # the seed documents' messages (clients match on them in JSON; pages translate them)
    lazy("Missing required OAuth parameters."),
    lazy("Only response_type=code is supported."),
    lazy("Missing PKCE parameters."),
    lazy("Invalid authorization context."),
    lazy("Tenant context mismatch."),
    lazy("Invalid PKCE parameters."),
    # confidp.oauth.errors defaults
    lazy("The request is invalid."),
    lazy("This sign-in request has expired or was already used."),
    lazy("Go back to the application and sign in again."),
    # the sign-in flow
    lazy("This sign-in request was started for another tenant. Go back to the application "
         "and sign in again."),
    lazy("This sign-in request was started in another browser."),
    lazy("Go back to the application and sign in again. If this keeps happening, allow "
         "cookies for this site."),
    lazy("This form has expired."),
    lazy("The session presented belongs to another tenant."),
    lazy("Choose Allow or Deny."),
    lazy("The sign-in service is temporarily unavailable. Try again shortly."),
    # second factors
    lazy("A second factor is required to sign in here, and none of the methods allowed can "
         "be used."),
    lazy("Ask your administrator to help you set one up."),
    lazy("Your second factors cannot be checked right now."),
    lazy("Try again later. If this keeps happening, tell your administrator."),
    lazy("This form has expired or was not sent from this site."),
    lazy("Open your account page again."),
    # sign-in through an upstream identity provider (confidp.identity.sources,
    # confidp.web.signin.upstream)
    lazy("The identity provider's answer could not be used."),
    lazy("The identity provider did not answer. Try again in a moment."),
    lazy("The sign-in was cancelled at the identity provider."),
    lazy("Your account may not sign in here."),
    lazy("This sign-in method is not available."),
    lazy("The identity provider's answer is malformed."),
    lazy("This sign-in was started with another identity provider."),
    # sign-out
    lazy("This sign-out form has expired or was not sent from this site."),
    lazy("Nothing was changed. If you want to sign out, open the application's sign-out link "
         "again."),
)
