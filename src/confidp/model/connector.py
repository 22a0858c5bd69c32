"""A connector a tenant file declares (``connectors:``): an identity source beyond the file's
own users, by type (``oidc``, ``oauth2``, ``github``, ``ldap``). The model keeps the
connector's keys as the file gives them, with the schema's defaults of its type applied and
its secrets read (``confidp.config.secret_refs``): each type's module in
``confidp.identity`` reads the keys it documents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from confidp.model.secret import Secret

_NONE: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A secret a connector sends upstream (a client secret, an LDAP bind password), read
    from an environment variable or a file when the tenant file loaded. ``source`` says
    where it came from and is safe to log; ``value`` is empty when it was not read
    (``confidp check`` without ``--resolve-secrets``)."""

    value: Secret
    source: str  # "env CORP_SECRET", "file /run/secrets/corp"


@dataclass(frozen=True, slots=True)
class Connector:
    id: str
    type: str  # a key of confidp.identity.registry.SOURCE_TYPES
    name: str  # the login page's button (default: the id)
    settings: Mapping[str, Any] = field(default_factory=lambda: _NONE)  # defaults applied
    secrets: Mapping[str, SecretRef] = field(default_factory=lambda: _NONE)  # by key
    base_dir: str = "."  # the tenant file's directory: relative ca_file names start here

    def secret(self, key: str) -> Secret | None:
        ref = self.secrets.get(key)
        return ref.value if ref is not None else None
