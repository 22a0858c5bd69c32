"""The registered credentials, kept in the enrolment store (confidp.mfa.enrolments: a file per
person in the state directory, or Redis; encrypted, compare-and-set), as the ceremonies need
them (``confidp.passkeys.credentials.PasskeyStore``).

Two links beside the records find a person without a username: the user handle (random, one
per person: ``Factors.user_handle``) and each credential id lead to the subject, so a
passwordless sign-in finds whose passkey answered, and a credential id registered once in a
tenant cannot be registered again (WebAuthn L2 §7.1 step 22).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import replace

from confidp.mfa.enrolments import Enrolments, change
from confidp.mfa.factors import Factors, WebAuthnCredential
from confidp.passkeys.challenges import b64url, from_b64url
from confidp.passkeys.credentials import MAX_PASSKEYS, PasskeyCredential

HANDLE_LINK = "webauthn-user:"  # + the user handle (base64url) -> its subject
CREDENTIAL_LINK = "webauthn-credential:"  # + the credential id (base64url) -> its subject


def _stored(credential: PasskeyCredential) -> WebAuthnCredential:
    return WebAuthnCredential(
        credential_id=b64url(credential.credential_id),
        public_key=b64url(credential.public_key), sign_count=credential.sign_count,
        user_handle=b64url(credential.user_handle), name=credential.name,
        created_at=credential.created_at, transports=credential.transports,
        last_used_at=credential.last_used_at, discoverable=True,
        backed_up=credential.backup_eligible)


def credential_of(subject: str, stored: WebAuthnCredential) -> PasskeyCredential:
    return PasskeyCredential(
        credential_id=from_b64url(stored.credential_id), subject=subject,
        public_key=from_b64url(stored.public_key), sign_count=stored.sign_count,
        transports=stored.transports, user_handle=from_b64url(stored.user_handle),
        name=stored.name, created_at=stored.created_at, last_used_at=stored.last_used_at,
        backup_eligible=stored.backed_up)


class EnrolledPasskeys:
    """One tenant's passkeys in the enrolment store."""

    def __init__(self, enrolments: Enrolments, tenant_id: str) -> None:
        self._enrolments = enrolments
        self._tenant = tenant_id

    async def passkeys(self, subject: str) -> list[PasskeyCredential]:
        factors = await self._enrolments.load(self._tenant, subject)
        return [credential_of(subject, stored) for stored in factors.webauthn]

    async def user_handle(self, subject: str) -> bytes:
        def made(factors: Factors) -> Factors | None:
            if factors.user_handle is not None:
                return None
            return replace(factors, user_handle=b64url(secrets.token_bytes(32)))

        factors = await change(self._enrolments, self._tenant, subject, made) \
            or await self._enrolments.load(self._tenant, subject)
        assert factors.user_handle is not None
        # (again) after every change: a crash between the two leaves no handle unlinked
        if await self._enrolments.linked(self._tenant, HANDLE_LINK + factors.user_handle) \
                != subject:
            await self._enrolments.link(self._tenant, HANDLE_LINK + factors.user_handle,
                                        subject)
        return from_b64url(factors.user_handle)

    async def subject_of(self, user_handle: bytes) -> str | None:
        subject = await self._enrolments.linked(self._tenant, HANDLE_LINK + b64url(user_handle))
        if subject is None:
            return None
        factors = await self._enrolments.load(self._tenant, subject)  # still theirs?
        handle = factors.user_handle or ""
        return subject if hmac.compare_digest(handle, b64url(user_handle)) else None

    async def add_passkey(self, credential: PasskeyCredential) -> bool:
        credential_link = CREDENTIAL_LINK + b64url(credential.credential_id)
        owner = await self._enrolments.linked(self._tenant, credential_link)
        if owner is not None and owner != credential.subject:
            return False
        stored = _stored(credential)

        def added(factors: Factors) -> Factors | None:
            if factors.credential(stored.credential_id) is not None \
                    or len(factors.webauthn) >= MAX_PASSKEYS:
                return None
            return replace(factors, webauthn=(*factors.webauthn, stored))

        if await change(self._enrolments, self._tenant, credential.subject, added) is None:
            return False
        await self._enrolments.link(self._tenant, credential_link, credential.subject)
        return True

    async def passkey_used(self, credential: PasskeyCredential, sign_count: int,
                           now: float) -> bool:
        credential_id = b64url(credential.credential_id)

        def used(factors: Factors) -> Factors | None:
            stored = factors.credential(credential_id)
            if stored is None or stored.sign_count != credential.sign_count:
                return None  # removed, or another use came first
            updated = replace(stored, sign_count=sign_count, last_used_at=now)
            return replace(factors, webauthn=tuple(
                updated if c.credential_id == credential_id else c for c in factors.webauthn))

        return await change(self._enrolments, self._tenant, credential.subject,
                            used) is not None
