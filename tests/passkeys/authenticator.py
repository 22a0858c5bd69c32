"""A software authenticator for tests: it answers WebAuthn options the way a browser and an
authenticator together do (client data JSON, authenticator data, a "none" attestation, an
ES256 signature), so the ceremonies are tested on real responses, with every flag and
counter under the test's control. It only makes test data: verifying is py_webauthn's."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from confidp.passkeys.challenges import b64url, from_b64url

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


@dataclass
class SoftKey:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    rp_id: str
    counter: int = 0


@dataclass
class SoftAuthenticator:
    origin: str
    user_verified: bool = True
    counts: bool = True  # keeps a signature counter (a synced passkey does not: always 0)
    backup_eligible: bool = False
    keys: list[SoftKey] = field(default_factory=list)
    username: str = ""  # whose (for the tests' own bookkeeping)

    def _flags(self, attested: bool = False) -> int:
        flags = UP | (UV if self.user_verified else 0)
        flags |= (BE | BS) if self.backup_eligible else 0
        return flags | (AT if attested else 0)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge,
                           "origin": origin or self.origin, "crossOrigin": False}).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None,
               rp_id: str | None = None) -> str:
        """navigator.credentials.create(options): the JSON a browser posts."""
        rp = rp_id or options["rp"]["id"]
        key = SoftKey(os.urandom(32), ec.generate_private_key(ec.SECP256R1()),
                      from_b64url(options["user"]["id"]), rp)
        numbers = key.private_key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})
        if self.counts:
            key.counter += 1
        auth_data = (hashlib.sha256(rp.encode()).digest()
                     + bytes([self._flags(attested=True)]) + struct.pack(">I", key.counter)
                     + bytes(16) + struct.pack(">H", len(key.credential_id))
                     + key.credential_id + cose)
        self.keys.append(key)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return json.dumps({
            "id": b64url(key.credential_id), "rawId": b64url(key.credential_id),
            "type": "public-key", "clientExtensionResults": {},
            "response": {"clientDataJSON": b64url(client_data),
                         "attestationObject": b64url(attestation),
                         "transports": ["internal"]}})

    def get(self, options: dict[str, Any], *, key: SoftKey | None = None,
            origin: str | None = None, rp_id: str | None = None,
            counter: int | None = None) -> str:
        """navigator.credentials.get(options) with ``key`` (the last one made by default)."""
        key = key or self.keys[-1]
        if self.counts:
            key.counter += 1
        used_counter = key.counter if counter is None else counter
        rp = rp_id or options.get("rpId") or key.rp_id
        auth_data = (hashlib.sha256(rp.encode()).digest() + bytes([self._flags()])
                     + struct.pack(">I", used_counter))
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = key.private_key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                         ec.ECDSA(hashes.SHA256()))
        return json.dumps({
            "id": b64url(key.credential_id), "rawId": b64url(key.credential_id),
            "type": "public-key", "clientExtensionResults": {},
            "response": {"clientDataJSON": b64url(client_data),
                         "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature),
                         "userHandle": b64url(key.user_handle)}})
