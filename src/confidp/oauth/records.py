"""Every record the flows keep in the store, as frozen dataclasses: the one module that knows
their JSON. The store stays generic (JSON objects by kind and key, confidp.store.kinds); each
record type names its kind, and ``load``/``write`` move it in and out of a tenant's store.

A record a person's state depends on reads older shapes too: records written before identities
were carried (a session, code or refresh token naming only a subject) come back as an identity
of the ``local`` source, which re-validates it against the tenant file when it is used, so an
upgrade ends no session and no refresh token. A record that cannot be read at all (written by
another program, or damaged) is treated as absent, never as a server error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, TypeVar

from confidp.identity.identity import LOCAL, PASSWORD, Identity
from confidp.store.base import Record, Write
from confidp.store.kinds import (
    ACCESS,
    CODE,
    CODE_USED,
    CONSENT,
    FAMILY,
    FAMILY_REVOKED,
    PENDING_USED,
    REFRESH,
    REFRESH_REUSE,
    REFRESH_USED,
    SESSION,
    UPSTREAM_FLOW,
)
from confidp.store.tenant import TenantStore

log = logging.getLogger("confidp.store")


class StoredRecord(Protocol):
    KIND: ClassVar[str]

    def to_json(self) -> Record: ...

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self: ...


R = TypeVar("R", bound=StoredRecord)


def _identity(data: Mapping[str, Any]) -> Identity:
    """The identity a record carries; a record older than identities names a local user."""
    if "identity" in data:
        return Identity.from_json(data["identity"])
    return Identity(subject=str(data["subject"]), source=LOCAL,
                    username=str(data.get("username", data["subject"])), amr=(PASSWORD,),
                    auth_time=float(data.get("auth_time") or 0.0))


@dataclass(frozen=True, slots=True)
class Session:
    """A login session; its key is the SHA-256 of the session cookie."""

    KIND: ClassVar[str] = SESSION
    tenant: str
    identity: Identity
    created_at: float
    last_seen: float

    def to_json(self) -> Record:
        return {"tenant": self.tenant, "identity": self.identity.to_json(),
                "created_at": self.created_at, "last_seen": self.last_seen}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["tenant"]), _identity(data), float(data["created_at"]),
                   float(data["last_seen"]))


@dataclass(frozen=True, slots=True)
class Code:
    """An authorization code's grant (RFC 6749 §4.1.2), by the SHA-256 of the code: all the
    token endpoint must check, and the identity it was issued for."""

    KIND: ClassVar[str] = CODE
    tenant: str
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    scopes: tuple[str, ...]
    nonce: str | None
    identity: Identity
    session: str  # the session's store key
    issued_at: float

    def to_json(self) -> Record:
        return {"tenant": self.tenant, "client_id": self.client_id,
                "redirect_uri": self.redirect_uri, "code_challenge": self.code_challenge,
                "code_challenge_method": self.code_challenge_method,
                "scopes": list(self.scopes), "nonce": self.nonce,
                "identity": self.identity.to_json(), "session": self.session,
                "issued_at": self.issued_at}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["tenant"]), str(data["client_id"]), str(data["redirect_uri"]),
                   data.get("code_challenge"), data.get("code_challenge_method"),
                   tuple(data["scopes"]), data.get("nonce"), _identity(data),
                   str(data.get("session", "")), float(data["issued_at"]))


@dataclass(frozen=True, slots=True)
class CodeUsed:
    """A redeemed code, by the SHA-256 of the code: the family it issued (replay revokes
    it)."""

    KIND: ClassVar[str] = CODE_USED
    tenant: str
    family: str

    def to_json(self) -> Record:
        return {"tenant": self.tenant, "family": self.family}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["tenant"]), str(data["family"]))


@dataclass(frozen=True, slots=True)
class Consent:
    """The scopes a person granted an application, by subject and client id."""

    KIND: ClassVar[str] = CONSENT
    scopes: tuple[str, ...]

    def to_json(self) -> Record:
        return {"scopes": list(self.scopes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(tuple(data["scopes"]))


@dataclass(frozen=True, slots=True)
class Access:
    """A live access token, by its ``jti``: deleted to revoke it. ``identity`` is whom it
    was issued for (None for client_credentials), what userinfo answers about."""

    KIND: ClassVar[str] = ACCESS
    tenant: str
    client_id: str
    family: str | None
    identity: Identity | None = None
    # an opaque token's claims (RFC 9068 §2.2 names), what introspection answers; None for a
    # JWT, which carries them itself
    claims: Mapping[str, Any] | None = None

    def to_json(self) -> Record:
        data: Record = {"tenant": self.tenant, "client_id": self.client_id,
                        "family": self.family}
        if self.identity is not None:
            data["identity"] = self.identity.to_json()
        if self.claims is not None:
            data["claims"] = dict(self.claims)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        identity = Identity.from_json(data["identity"]) if "identity" in data else None
        claims = data.get("claims")
        return cls(str(data["tenant"]), str(data["client_id"]), data.get("family"), identity,
                   dict(claims) if isinstance(claims, dict) else None)


@dataclass(frozen=True, slots=True)
class Refresh:
    """A refresh token, by its SHA-256: the grant it continues."""

    KIND: ClassVar[str] = REFRESH
    tenant: str
    client_id: str
    scopes: tuple[str, ...]
    family: str
    identity: Identity

    def to_json(self) -> Record:
        return {"tenant": self.tenant, "client_id": self.client_id,
                "scopes": list(self.scopes), "family": self.family,
                "identity": self.identity.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["tenant"]), str(data["client_id"]), tuple(data["scopes"]),
                   str(data["family"]), _identity(data))


@dataclass(frozen=True, slots=True)
class Family:
    """A grant family, by its id: the refresh token and access tokens of one login at one
    client, revoked together."""

    KIND: ClassVar[str] = FAMILY
    tenant: str
    client_id: str
    subject: str
    created_at: float
    current: str | None = None  # the SHA-256 of its current refresh token
    jtis: tuple[str, ...] = ()  # its latest access tokens

    def to_json(self) -> Record:
        return {"tenant": self.tenant, "client_id": self.client_id, "subject": self.subject,
                "created_at": self.created_at, "current": self.current,
                "jtis": list(self.jtis)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["tenant"]), str(data["client_id"]), str(data["subject"]),
                   float(data["created_at"]), data.get("current"),
                   tuple(data.get("jtis", ())))


@dataclass(frozen=True, slots=True)
class FamilyRevoked:
    """Present once a family is revoked; never cleared by a later write."""

    KIND: ClassVar[str] = FAMILY_REVOKED
    tenant: str

    def to_json(self) -> Record:
        return {"tenant": self.tenant}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["tenant"]))


@dataclass(frozen=True, slots=True)
class RefreshUsed:
    """A rotated refresh token, by its SHA-256: the family it belonged to."""

    KIND: ClassVar[str] = REFRESH_USED
    tenant: str
    family: str

    def to_json(self) -> Record:
        return {"tenant": self.tenant, "family": self.family}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["tenant"]), str(data["family"]))


@dataclass(frozen=True, slots=True)
class RefreshReuse:
    """A refresh token just rotated, while it may be presented again (its reuse interval):
    the SHA-256 of the successor a retry gets."""

    KIND: ClassVar[str] = REFRESH_REUSE
    tenant: str
    family: str
    successor: str

    def to_json(self) -> Record:
        return {"tenant": self.tenant, "family": self.family, "successor": self.successor}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["tenant"]), str(data["family"]), str(data["successor"]))


@dataclass(frozen=True, slots=True)
class PendingUsed:
    """A sign-in that finished (or failed back to the client): its forms are used up."""

    KIND: ClassVar[str] = PENDING_USED
    tenant: str

    def to_json(self) -> Record:
        return {"tenant": self.tenant}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["tenant"]))


@dataclass(frozen=True, slots=True)
class UpstreamFlow:
    """A sign-in away at an upstream identity provider, kept under the digest of the state
    sent there (confidp.web.signin.upstream): the connector, the sign-in request and the
    secrets of the trip (nonce, PKCE verifier), sealed, so a copy of the store reveals
    nothing usable; taken once by the callback."""

    KIND: ClassVar[str] = UPSTREAM_FLOW
    tenant: str
    sealed: str

    def to_json(self) -> Record:
        return {"tenant": self.tenant, "sealed": self.sealed}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["tenant"]), str(data["sealed"]))


def write(record: StoredRecord, key: str, ttl: float) -> Write:
    """``record`` as one write of a ``put_many``, ``claim`` or ``consume``."""
    return (record.KIND, key, record.to_json(), ttl)


async def save(store: TenantStore, record: StoredRecord, key: str, ttl: float) -> None:
    await store.put(record.KIND, key, record.to_json(), ttl)


async def load(store: TenantStore, kind: type[R], key: str) -> R | None:
    """The record of ``kind`` at ``key``, or None when there is none (or it is unreadable)."""
    data = await store.get(kind.KIND, key)
    if data is None:
        return None
    try:
        return kind.from_json(data)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        log.warning("unreadable %s record ignored: %s", kind.KIND, type(exc).__name__)
        return None
