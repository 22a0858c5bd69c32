"""A signed-in person, whichever source vouched for them (Dex's ``connector.Identity``).

An ``Identity`` is what a session, an authorization code and a refresh token carry: the
subject it is known by (OpenID Connect Core §2 ``sub``, stable for the person), the identity
source that vouched for it (``local``, or a connector's id), the claims it may release, its
groups, how it authenticated (RFC 8176 ``amr`` values) and when (``auth_time``). It is stored
as JSON (``to_json``/``from_json``) inside the records of ``confidp.oauth.records``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

LOCAL = "local"  # the tenant file's users (confidp.identity.local)
# RFC 8176 §2: authentication method reference values
PASSWORD = "pwd"  # noqa: S105 - an amr value (a password was used), not a password

_NO_CLAIMS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Upstream:
    """The identity at an upstream provider a connector signed the person in with."""

    issuer: str
    subject: str


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    source: str  # the identity source's id: "local", or a connector's id
    username: str  # what the person is shown as (the consent page, the sign-out page)
    claims: Mapping[str, Any] = field(default_factory=lambda: _NO_CLAIMS)  # OIDC Core §5.1
    groups: tuple[str, ...] = ()
    amr: tuple[str, ...] = ()  # RFC 8176 values, in the order used
    auth_time: float = 0.0  # when the person authenticated (wall-clock seconds)
    acr: str | None = None  # OIDC Core §2, when a source or step sets one
    upstream: Upstream | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"subject": self.subject, "source": self.source,
                                "username": self.username, "auth_time": self.auth_time}
        if self.claims:
            data["claims"] = dict(self.claims)
        if self.groups:
            data["groups"] = list(self.groups)
        if self.amr:
            data["amr"] = list(self.amr)
        if self.acr is not None:
            data["acr"] = self.acr
        if self.upstream is not None:
            data["upstream"] = [self.upstream.issuer, self.upstream.subject]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Identity:
        upstream = data.get("upstream")
        return cls(
            subject=str(data["subject"]), source=str(data["source"]),
            username=str(data["username"]),
            claims=MappingProxyType(dict(data.get("claims", {}))),
            groups=tuple(data.get("groups", ())), amr=tuple(data.get("amr", ())),
            auth_time=float(data["auth_time"]), acr=data.get("acr"),
            upstream=Upstream(str(upstream[0]), str(upstream[1])) if upstream else None)
