"""Registered credentials kept in the store (until the enrolment store is merged)."""

from __future__ import annotations

import secrets
from typing import Any

from confidp.oauth.tokens import digest
from confidp.passkeys.challenges import b64url, from_b64url
from confidp.passkeys.credentials import MAX_PASSKEYS, PasskeyCredential
from confidp.store.tenant import TenantStore

_KEPT = 10 * 365 * 86400.0
PASSKEYS = "passkeys"  # sha256(subject) -> the person's credentials
PASSKEY_ID = "passkey_id"  # sha256(credential id) -> its subject
USER_HANDLE = "passkey_handle"  # sha256(subject) -> the person's user handle
HANDLE_SUBJECT = "passkey_handle_subject"  # sha256(user handle) -> its subject


def _to_json(c: PasskeyCredential) -> dict[str, Any]:
    return {"id": b64url(c.credential_id), "subject": c.subject,
            "public_key": b64url(c.public_key), "sign_count": c.sign_count,
            "transports": list(c.transports), "user_handle": b64url(c.user_handle),
            "name": c.name, "created_at": c.created_at, "last_used_at": c.last_used_at,
            "backup_eligible": c.backup_eligible}


def _from_json(d: dict[str, Any]) -> PasskeyCredential:
    return PasskeyCredential(from_b64url(d["id"]), d["subject"], from_b64url(d["public_key"]),
                             int(d["sign_count"]), tuple(d["transports"]),
                             from_b64url(d["user_handle"]), d["name"], float(d["created_at"]),
                             d["last_used_at"], bool(d["backup_eligible"]))


class StoredPasskeys:
    def __init__(self, store: TenantStore) -> None:
        self._store = store

    async def passkeys(self, subject: str) -> list[PasskeyCredential]:
        record = await self._store.get(PASSKEYS, digest(subject))
        return [_from_json(c) for c in record["credentials"]] if record else []

    async def user_handle(self, subject: str) -> bytes:
        record = await self._store.get(USER_HANDLE, digest(subject))
        if record is not None:
            return from_b64url(record["handle"])
        handle = secrets.token_bytes(32)
        await self._store.claim(USER_HANDLE, digest(subject), {"handle": b64url(handle)}, _KEPT,
                                [(HANDLE_SUBJECT, digest(b64url(handle)),
                                  {"subject": subject}, _KEPT)])
        record = await self._store.get(USER_HANDLE, digest(subject))
        assert record is not None
        return from_b64url(record["handle"])

    async def subject_of(self, user_handle: bytes) -> str | None:
        record = await self._store.get(HANDLE_SUBJECT, digest(b64url(user_handle)))
        return str(record["subject"]) if record else None

    async def add_passkey(self, credential: PasskeyCredential) -> bool:
        existing = await self.passkeys(credential.subject)
        if len(existing) >= MAX_PASSKEYS:
            return False
        if not await self._store.claim(PASSKEY_ID, digest(b64url(credential.credential_id)),
                                       {"subject": credential.subject}, _KEPT):
            return False
        await self._save(credential.subject, [*existing, credential])
        return True

    async def passkey_used(self, credential: PasskeyCredential, sign_count: int,
                           now: float) -> bool:
        existing = await self.passkeys(credential.subject)
        for index, stored in enumerate(existing):
            if stored.credential_id == credential.credential_id:
                if stored.sign_count != credential.sign_count:
                    return False
                existing[index] = stored.used(sign_count, now)
                await self._save(credential.subject, existing)
                return True
        return False

    async def _save(self, subject: str, credentials: list[PasskeyCredential]) -> None:
        await self._store.put(PASSKEYS, digest(subject),
                              {"credentials": [_to_json(c) for c in credentials]}, _KEPT)
