"""An ``ldap`` connector's settings, from its tenant-file entry (the schema validated it;
defaults are the schema's, ``$defs/connector_ldap``). The names follow Dex's LDAP connector
(``userSearch``, ``groupSearch``, ``userMatchers``) in the tenant file's snake_case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from confidp.config.durations import seconds
from confidp.config.schema import tenant_schema
from confidp.model.secret import Secret

Scope = Literal["sub", "one"]
DN = "DN"  # a user matcher's user_attribute naming the entry's own DN (Dex's convention)
LDAPS = "ldaps"
LDAP = "ldap"
DEFAULT_PORTS = {LDAP: 389, LDAPS: 636}


@dataclass(frozen=True, slots=True)
class UserSearch:
    """How the person's entry is found: under ``base_dn``, matching ``filter`` and the typed
    username in one of ``username_attributes`` (RFC 4515 escaped)."""

    base_dn: str
    filter: str
    scope: Scope
    username_attributes: tuple[str, ...]
    id_attribute: str  # a stable, unique value: the subject is derived from it
    email_attribute: str | None
    name_attribute: str | None
    preferred_username_attribute: str
    email_verified: bool


@dataclass(frozen=True, slots=True)
class UserMatcher:
    """A group has the user when its ``group_attribute`` holds the user's ``user_attribute``
    (``DN``: the entry's DN)."""

    user_attribute: str
    group_attribute: str


@dataclass(frozen=True, slots=True)
class GroupSearch:
    base_dn: str
    filter: str
    scope: Scope
    user_matchers: tuple[UserMatcher, ...]
    name_attribute: str


@dataclass(frozen=True, slots=True)
class LdapSettings:
    host: str
    port: int
    use_ssl: bool  # ldaps://
    start_tls: bool  # ldap:// upgraded by StartTLS (RFC 4513 §3)
    ca_file: str | None  # PEM bundle; None: the system's trust store
    bind_dn: str
    bind_password: Secret
    connect_timeout: float  # seconds
    timeout: float  # seconds, each operation (a bind, a search)
    max_concurrent: int  # directory operations of this connector at once
    revalidate_interval: int  # seconds a positive re-check is trusted (0: every use)
    user_search: UserSearch
    group_search: GroupSearch | None
    allowed_groups: frozenset[str]

    @property
    def url(self) -> str:
        """The directory's URL as shown in /status and recorded as the upstream issuer."""
        scheme = LDAPS if self.use_ssl else LDAP
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def encrypted(self) -> bool:
        return self.use_ssl or self.start_tls


def parse_url(url: str) -> tuple[str, int, bool]:
    """``ldap://host[:port]`` or ``ldaps://host[:port]`` -> host, port, use_ssl. The schema
    checked the shape; a port out of range raises ValueError."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an ldap:// or ldaps:// URL: {url!r}")
    return parts.hostname, parts.port or DEFAULT_PORTS[scheme], scheme == LDAPS


def _with_defaults(key: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` (a nested object of the connector) with the schema's defaults of its keys:
    the schema is the only place a default is written."""
    node = tenant_schema()["$defs"]["connector_ldap"]["properties"][key]["properties"]
    return {**{name: sub["default"] for name, sub in node.items() if "default" in sub},
            **given}


def user_search_of(given: Mapping[str, Any]) -> UserSearch:
    spec = _with_defaults("user_search", given)
    usernames = tuple(spec["username"])
    return UserSearch(
        base_dn=spec["base_dn"], filter=spec["filter"], scope=spec["scope"],
        username_attributes=usernames, id_attribute=spec["id_attribute"],
        email_attribute=spec["email_attribute"], name_attribute=spec["name_attribute"],
        preferred_username_attribute=spec.get("preferred_username_attribute", usernames[0]),
        email_verified=spec["email_verified"])


def group_search_of(given: Mapping[str, Any] | None) -> GroupSearch | None:
    if given is None:
        return None
    spec = _with_defaults("group_search", given)
    return GroupSearch(
        base_dn=spec["base_dn"], filter=spec["filter"], scope=spec["scope"],
        user_matchers=tuple(UserMatcher(m["user_attribute"], m["group_attribute"])
                            for m in spec["user_matchers"]),
        name_attribute=spec["name_attribute"])


def settings_of(spec: Mapping[str, Any], bind_password: Secret,
                base_dir: str = ".") -> LdapSettings:
    """The settings of a validated connector entry, its defaults applied (the schema's);
    ``bind_password`` is its resolved ``{env:}``/``{file:}`` reference; a relative
    ``ca_file`` is relative to ``base_dir`` (the tenant file's directory)."""
    host, port, use_ssl = parse_url(spec["url"])
    ca_file = spec.get("ca_file")
    return LdapSettings(
        host=host, port=port, use_ssl=use_ssl, start_tls=spec["start_tls"],
        ca_file=str(Path(base_dir) / ca_file) if ca_file else None,
        bind_dn=spec["bind_dn"], bind_password=bind_password,
        connect_timeout=float(seconds(spec["connect_timeout"])),
        timeout=float(seconds(spec["timeout"])),
        max_concurrent=int(spec["max_concurrent"]),
        revalidate_interval=seconds(spec["revalidate_interval"]),
        user_search=user_search_of(spec["user_search"]),
        group_search=group_search_of(spec.get("group_search")),
        allowed_groups=frozenset(spec["allowed_groups"]))
