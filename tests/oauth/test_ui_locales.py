"""ui_locales (OpenID Connect Core §3.1.2.1) is read by /authorize and carried in the sealed
sign-in request, so the login and consent pages after it keep the language."""

from __future__ import annotations

import pytest

from confidp.config.loader import validate_file
from confidp.model import Tenant
from confidp.oauth.authorize import AuthorizationRequest, validate_authorization_request
from tests.support import dump, tenant_doc

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def _tenant() -> Tenant:
    result = validate_file("acme.yaml", dump(tenant_doc("https://id.example.com")),
                           themes=None, environ={})
    assert result.tenant is not None
    return result.tenant


def _params(**extra: str) -> list[tuple[str, str]]:
    return list({"client_id": "portal-spa", "redirect_uri": "https://portal.example.com/callback",
                 "response_type": "code", "scope": "openid", "state": "s",
                 "code_challenge": CHALLENGE, "code_challenge_method": "S256",
                 **extra}.items())


def test_ui_locales_are_read_well_formed_tags_only_never_an_error() -> None:
    request = validate_authorization_request(_params(ui_locales="de-CH fr x_y EN"), _tenant())
    assert request.ui_locales == ("de-ch", "fr", "en")
    assert validate_authorization_request(_params(), _tenant()).ui_locales == ()
    assert validate_authorization_request(_params(ui_locales="!!"), _tenant()).ui_locales == ()


def test_the_sealed_form_carries_them_and_stays_as_it_was_without() -> None:
    request = validate_authorization_request(_params(ui_locales="ar fr"), _tenant())
    fields = request.to_fields()
    assert fields[-1] == "ar fr"
    assert AuthorizationRequest.from_fields(fields) == request
    plain = validate_authorization_request(_params(), _tenant())
    assert len(plain.to_fields()) == 10  # a sign-in sealed by the previous version reads back
    assert AuthorizationRequest.from_fields(plain.to_fields()) == plain


def test_a_sealed_form_with_more_fields_is_refused() -> None:
    fields = validate_authorization_request(_params(), _tenant()).to_fields()
    with pytest.raises(ValueError):
        AuthorizationRequest.from_fields([*fields, "de", "", "corp", "extra"])


@pytest.mark.parametrize("extra", [
    {"acr_values": "urn:confidp:acr:2fa"},
    {"connector": "corp"},
    {"acr_values": "urn:confidp:acr:2fa", "connector": "corp", "ui_locales": "de"},
    {"connector": "corp", "ui_locales": "ja"},
])
def test_acr_values_and_the_connector_hint_survive_the_sealed_form_together(
        extra: dict[str, str]) -> None:
    """Step 7's connector hint and Step 8's acr_values share the sealed form's optional tail:
    each reads back as it was, whichever of them a request has."""
    request = validate_authorization_request(_params(**extra), _tenant())
    assert request.connector == extra.get("connector")
    assert request.acr_values == tuple(extra.get("acr_values", "").split())
    assert AuthorizationRequest.from_fields(request.to_fields()) == request
