"""The WebAuthn verification rules (confidp.passkeys), pure: options from py_webauthn,
responses from a software authenticator (tests/passkeys/authenticator.py), verification by
py_webauthn as confidp calls it. No HTTP, no browser."""

from __future__ import annotations

import json
import logging
import os

import pytest

from confidp.passkeys import ceremonies
from confidp.passkeys.ceremonies import (
    authentication_options,
    parse_assertion,
    parse_registration,
    registration_options,
    verify_assertion,
    verify_registration,
)
from confidp.passkeys.challenges import b64url
from confidp.passkeys.credentials import PasskeyCredential
from confidp.passkeys.errors import PasskeyRefused, Reason
from confidp.passkeys.relying_party import RelyingParty
from tests.passkeys.authenticator import SoftAuthenticator

RP = RelyingParty("localhost", "http://localhost:8000", "Acme")
HANDLE = os.urandom(32)


def _options(*, uv: bool = True, existing: tuple[PasskeyCredential, ...] = ()) -> dict:
    return registration_options(RP, challenge=os.urandom(32), user_handle=HANDLE,
                                username="alice", display_name="Alice", existing=existing,
                                user_verification=uv, discoverable=True)


def _registered(authenticator: SoftAuthenticator, *, uv: bool = True) -> PasskeyCredential:
    options = _options(uv=uv)
    registered = verify_registration(RP, parse_registration(authenticator.create(options)),
                                     user_verification=uv)
    return PasskeyCredential(registered.credential_id, "alice-sub", registered.public_key,
                             registered.sign_count, registered.transports, HANDLE, "Laptop",
                             1000.0, backup_eligible=registered.backup_eligible)


def _get_options(uv: bool = True, allowed: tuple[PasskeyCredential, ...] = ()) -> dict:
    return authentication_options(RP, challenge=os.urandom(32), allowed=allowed,
                                  user_verification=uv)


def test_registration_options_ask_for_no_attestation_and_a_discoverable_credential() -> None:
    options = _options()
    assert options["attestation"] == "none"
    assert options["rp"] == {"id": "localhost", "name": "Acme"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert options["user"]["id"] == b64url(HANDLE)


def test_registration_excludes_the_persons_credentials() -> None:
    credential = _registered(SoftAuthenticator(RP.origin))
    options = _options(existing=(credential,))
    assert [c["id"] for c in options["excludeCredentials"]] == [b64url(credential.credential_id)]
    assert options["excludeCredentials"][0]["transports"] == ["internal"]


def test_a_registration_is_verified_and_its_key_kept() -> None:
    credential = _registered(SoftAuthenticator(RP.origin))
    assert credential.sign_count == 1
    assert credential.amr == "hwk"
    synced = _registered(SoftAuthenticator(RP.origin, counts=False, backup_eligible=True))
    assert synced.amr == "swk" and synced.sign_count == 0


def test_a_registration_without_user_verification_is_refused_when_required() -> None:
    authenticator = SoftAuthenticator(RP.origin, user_verified=False)
    options = _options(uv=True)
    with pytest.raises(PasskeyRefused) as refused:
        verify_registration(RP, parse_registration(authenticator.create(options)),
                            user_verification=True)
    assert refused.value.reason is Reason.USER_VERIFICATION
    # preferred only: accepted
    verify_registration(RP, parse_registration(authenticator.create(_options(uv=False))),
                        user_verification=False)


@pytest.mark.parametrize("origin, rp_id", [("http://localhost:8001", None),
                                           ("https://localhost:8000", None),
                                           ("http://evil.example", None),
                                           (None, "evil.example")])
def test_a_registration_for_another_origin_or_rp_is_refused(origin: str | None,
                                                            rp_id: str | None) -> None:
    authenticator = SoftAuthenticator(RP.origin)
    response = authenticator.create(_options(), origin=origin, rp_id=rp_id)
    with pytest.raises(PasskeyRefused) as refused:
        verify_registration(RP, parse_registration(response), user_verification=True)
    assert refused.value.reason is Reason.INVALID


def test_the_challenge_is_read_from_the_response_itself() -> None:
    options = _options()
    registration = parse_registration(SoftAuthenticator(RP.origin).create(options))
    assert b64url(registration.challenge) == options["challenge"]


@pytest.mark.parametrize("text", [None, "", "{}", "not json", '{"id": 1}', "[]",
                                  "x" * (ceremonies.MAX_RESPONSE + 1),
                                  json.dumps({"id": "AA", "rawId": "AA", "type": "public-key",
                                              "response": {"clientDataJSON": "e30",
                                                           "attestationObject": "oA"}})])
def test_malformed_responses_are_refused_as_such(text: str | None) -> None:
    for parse in (parse_registration, parse_assertion):
        with pytest.raises(PasskeyRefused) as refused:
            parse(text)
        assert refused.value.reason is Reason.MALFORMED


def test_an_assertion_is_verified_and_its_counter_returned() -> None:
    authenticator = SoftAuthenticator(RP.origin)
    credential = _registered(authenticator)
    options = _get_options()
    assert "allowCredentials" not in options or options["allowCredentials"] == []
    assertion = parse_assertion(authenticator.get(options))
    assert assertion.user_handle == HANDLE
    result = verify_assertion(RP, assertion, credential, user_verification=True)
    assert result.sign_count == 2 and result.user_verified


def test_second_factor_options_list_the_persons_credentials() -> None:
    credential = _registered(SoftAuthenticator(RP.origin))
    options = _get_options(uv=False, allowed=(credential,))
    assert options["userVerification"] == "preferred"
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(credential.credential_id)]


def test_a_counter_that_does_not_increase_is_refused_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    authenticator = SoftAuthenticator(RP.origin)
    credential = _registered(authenticator)
    seen = credential.used(5, 2000.0)  # the server saw 5 already
    for counter in (5, 4):
        assertion = parse_assertion(authenticator.get(_get_options(), counter=counter))
        with caplog.at_level(logging.WARNING, "confidp.passkeys"), \
                pytest.raises(PasskeyRefused) as refused:
            verify_assertion(RP, assertion, seen, user_verification=True)
        assert refused.value.reason is Reason.SIGN_COUNT
    assert "cloned authenticator" in caplog.text and "alice-sub" in caplog.text
    assertion = parse_assertion(authenticator.get(_get_options(), counter=6))
    assert verify_assertion(RP, assertion, seen, user_verification=True).sign_count == 6


def test_an_authenticator_without_a_counter_is_accepted() -> None:
    authenticator = SoftAuthenticator(RP.origin, counts=False, backup_eligible=True)
    credential = _registered(authenticator)
    for _ in range(2):
        assertion = parse_assertion(authenticator.get(_get_options()))
        assert verify_assertion(RP, assertion, credential, user_verification=True).backed_up


def test_an_assertion_without_user_verification_is_refused_when_required() -> None:
    authenticator = SoftAuthenticator(RP.origin)
    credential = _registered(authenticator)
    authenticator.user_verified = False
    with pytest.raises(PasskeyRefused) as refused:
        verify_assertion(RP, parse_assertion(authenticator.get(_get_options())), credential,
                         user_verification=True)
    assert refused.value.reason is Reason.USER_VERIFICATION
    result = verify_assertion(RP, parse_assertion(authenticator.get(_get_options(uv=False))),
                              credential, user_verification=False)
    assert not result.user_verified


def test_an_assertion_by_another_key_or_for_another_origin_is_refused() -> None:
    authenticator = SoftAuthenticator(RP.origin)
    credential = _registered(authenticator)
    other = SoftAuthenticator(RP.origin)
    _registered(other)
    forged = json.loads(other.get(_get_options()))
    forged["id"] = forged["rawId"] = b64url(credential.credential_id)  # claims to be alice's key
    with pytest.raises(PasskeyRefused) as refused:
        verify_assertion(RP, parse_assertion(json.dumps(forged)), credential,
                         user_verification=True)
    assert refused.value.reason is Reason.INVALID
    for origin, rp_id in (("http://localhost:9999", None), (None, "example.com")):
        response = authenticator.get(_get_options(), origin=origin, rp_id=rp_id)
        with pytest.raises(PasskeyRefused) as refused:
            verify_assertion(RP, parse_assertion(response), credential, user_verification=True)
        assert refused.value.reason is Reason.INVALID


def test_an_assertion_for_another_credential_id_is_unknown() -> None:
    authenticator = SoftAuthenticator(RP.origin)
    first = _registered(authenticator)
    _registered(authenticator)  # the authenticator now answers with its second key
    with pytest.raises(PasskeyRefused) as refused:
        verify_assertion(RP, parse_assertion(authenticator.get(_get_options())), first,
                         user_verification=True)
    assert refused.value.reason is Reason.UNKNOWN_CREDENTIAL
