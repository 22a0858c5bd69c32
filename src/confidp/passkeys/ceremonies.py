"""The two WebAuthn ceremonies, through py_webauthn: registration (WebAuthn L2 §7.1) and
authentication (§7.2), as the options a browser passes to ``navigator.credentials`` and the
verification of what it sends back. Every check of §7.1/§7.2 is py_webauthn's (challenge,
origin, RP ID hash, user presence, user verification, signature, signature counter); this
module chooses what is asked for and what is required, and says which rule refused a
response so that a person reads a useful message and an operator a useful log line.

- Attestation: ``none`` (§5.4.7): confidp does not restrict which authenticators people use,
  so it asks for no attestation statement and keeps none.
- Algorithms: ES256, EdDSA and RS256 (COSE -7, -8, -257), what authenticators make.
- Discoverable credentials (§6.2.2, "resident keys") are required when the passkey may sign
  the person in without a password, preferred otherwise.
- User verification (§6.2.3) is required or preferred, as the tenant's policy says; always
  required for a passwordless sign-in.
- Signature counter (§6.1.1, §7.2 step 21): a counter that does not increase, where the
  authenticator keeps one, refuses the response and is logged as a possibly cloned
  authenticator. Synced passkeys report 0 every time, which is accepted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_backup_flags,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from confidp.passkeys.challenges import CEREMONY_TIMEOUT_MS
from confidp.passkeys.credentials import PasskeyCredential
from confidp.passkeys.errors import PasskeyRefused, Reason
from confidp.passkeys.relying_party import RelyingParty

log = logging.getLogger("confidp.passkeys")
ALGORITHMS = [COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.EDDSA,
              COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256]
MAX_RESPONSE = 32 * 1024  # characters of a credential's JSON: real ones are under 2 KB
_TRANSPORTS = {transport.value for transport in AuthenticatorTransport}


def _user_verification(required: bool) -> UserVerificationRequirement:
    return (UserVerificationRequirement.REQUIRED if required
            else UserVerificationRequirement.PREFERRED)


def _descriptors(credentials: Sequence[PasskeyCredential]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(
        id=credential.credential_id,
        transports=[AuthenticatorTransport(t) for t in credential.transports if t in _TRANSPORTS])
        for credential in credentials]


def _json(options: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(options_to_json(options))
    return data


def registration_options(rp: RelyingParty, *, challenge: bytes, user_handle: bytes,
                         username: str, display_name: str,
                         existing: Sequence[PasskeyCredential], user_verification: bool,
                         discoverable: bool) -> dict[str, Any]:
    """``PublicKeyCredentialCreationOptions`` (§5.4) as JSON, base64url for binary values;
    the person's credentials already registered are excluded (§5.4 excludeCredentials)."""
    return _json(generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_name=username, user_id=user_handle,
        user_display_name=display_name, challenge=challenge, timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=(ResidentKeyRequirement.REQUIRED if discoverable
                          else ResidentKeyRequirement.PREFERRED),
            user_verification=_user_verification(user_verification)),
        exclude_credentials=_descriptors(existing), supported_pub_key_algs=ALGORITHMS))


def authentication_options(rp: RelyingParty, *, challenge: bytes,
                           allowed: Sequence[PasskeyCredential],
                           user_verification: bool) -> dict[str, Any]:
    """``PublicKeyCredentialRequestOptions`` (§5.5) as JSON. No ``allowed`` credentials:
    the authenticator offers its discoverable ones (a passwordless sign-in)."""
    return _json(generate_authentication_options(
        rp_id=rp.id, challenge=challenge, timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=_descriptors(allowed),
        user_verification=_user_verification(user_verification)))


@dataclass(frozen=True, slots=True)
class Registration:
    """A parsed ``navigator.credentials.create()`` response, not verified yet."""

    credential: RegistrationCredential
    challenge: bytes


@dataclass(frozen=True, slots=True)
class Assertion:
    """A parsed ``navigator.credentials.get()`` response, not verified yet."""

    credential: AuthenticationCredential
    challenge: bytes

    @property
    def credential_id(self) -> bytes:
        return self.credential.raw_id

    @property
    def user_handle(self) -> bytes | None:
        return self.credential.response.user_handle


def _checked_size(text: str | None) -> str:
    if not text:
        raise PasskeyRefused(Reason.MALFORMED, "no credential was sent (no JavaScript?)")
    if len(text) > MAX_RESPONSE:
        raise PasskeyRefused(Reason.MALFORMED, f"a credential of {len(text)} characters")
    return text


def parse_registration(text: str | None) -> Registration:
    """The response as the browser sent it (JSON), with the challenge its client data names;
    ``PasskeyRefused`` (MALFORMED) for anything else."""
    try:
        credential = parse_registration_credential_json(_checked_size(text))
        challenge = parse_client_data_json(credential.response.client_data_json).challenge
    except PasskeyRefused:
        raise
    except Exception as exc:  # py_webauthn raises several types for malformed input
        raise PasskeyRefused(Reason.MALFORMED, f"not a registration response: {exc}") from None
    return Registration(credential, challenge)


def parse_assertion(text: str | None) -> Assertion:
    try:
        credential = parse_authentication_credential_json(_checked_size(text))
        challenge = parse_client_data_json(credential.response.client_data_json).challenge
    except PasskeyRefused:
        raise
    except Exception as exc:
        raise PasskeyRefused(Reason.MALFORMED, f"not an authentication response: {exc}") \
            from None
    return Assertion(credential, challenge)


@dataclass(frozen=True, slots=True)
class Registered:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: tuple[str, ...]
    backup_eligible: bool
    user_verified: bool


def verify_registration(rp: RelyingParty, registration: Registration, *,
                        user_verification: bool) -> Registered:
    """WebAuthn L2 §7.1 steps 5-24 (py_webauthn), for the challenge the response names (its
    ticket was checked by the caller)."""
    try:
        verified = verify_registration_response(
            credential=registration.credential, expected_challenge=registration.challenge,
            expected_rp_id=rp.id, expected_origin=rp.origin,
            require_user_verification=user_verification, supported_pub_key_algs=ALGORITHMS)
    except InvalidRegistrationResponse as exc:
        raise PasskeyRefused(_registration_reason(registration, user_verification),
                             str(exc)) from None
    transports = registration.credential.response.transports or []
    return Registered(
        credential_id=verified.credential_id, public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=tuple(str(t.value) for t in transports)[:8],
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        user_verified=verified.user_verified)


def _registration_reason(registration: Registration, user_verification: bool) -> Reason:
    """Which rule refused it, for the message (py_webauthn made the decision)."""
    try:
        flags = parse_attestation_object(
            registration.credential.response.attestation_object).auth_data.flags
    except Exception:
        return Reason.INVALID
    return Reason.USER_VERIFICATION if user_verification and not flags.uv else Reason.INVALID


@dataclass(frozen=True, slots=True)
class Authenticated:
    sign_count: int
    user_verified: bool
    backed_up: bool


def verify_assertion(rp: RelyingParty, assertion: Assertion, stored: PasskeyCredential, *,
                     user_verification: bool) -> Authenticated:
    """WebAuthn L2 §7.2 steps 7-21 (py_webauthn) against the stored credential, for the
    challenge the response names (its ticket was checked by the caller)."""
    if assertion.credential_id != stored.credential_id:
        raise PasskeyRefused(Reason.UNKNOWN_CREDENTIAL, "the credential ids differ")
    try:
        verified = verify_authentication_response(
            credential=assertion.credential, expected_challenge=assertion.challenge,
            expected_rp_id=rp.id, expected_origin=rp.origin,
            credential_public_key=stored.public_key,
            credential_current_sign_count=stored.sign_count,
            require_user_verification=user_verification)
    except InvalidAuthenticationResponse as exc:
        reason = _assertion_reason(assertion, stored, user_verification)
        if reason is Reason.SIGN_COUNT:
            log.warning("passkey refused: its signature counter did not increase (a cloned "
                        "authenticator?): subject %s, stored count %d: %s", stored.subject,
                        stored.sign_count, exc)
        raise PasskeyRefused(reason, str(exc)) from None
    flags = parse_backup_flags(parse_authenticator_data(
        assertion.credential.response.authenticator_data).flags)
    return Authenticated(verified.new_sign_count, verified.user_verified,
                         flags.credential_backed_up)


def _assertion_reason(assertion: Assertion, stored: PasskeyCredential,
                      user_verification: bool) -> Reason:
    """Which rule refused it, for the message and the log (py_webauthn made the decision)."""
    try:
        data = parse_authenticator_data(assertion.credential.response.authenticator_data)
    except Exception:
        return Reason.INVALID
    if user_verification and not data.flags.uv:
        return Reason.USER_VERIFICATION
    if (data.sign_count > 0 or stored.sign_count > 0) and data.sign_count <= stored.sign_count:
        return Reason.SIGN_COUNT
    return Reason.INVALID
