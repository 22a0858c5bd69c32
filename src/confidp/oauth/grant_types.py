"""The grant types confidp implements (RFC 6749 §4.1, §4.4, §6), as words and the rules that
go with them: the one list that the token endpoint's dispatcher (``confidp.oauth.grants``
keys its grants by it), discovery's ``grant_types_supported``, the tenant file's rules and the
schema's ``grant_types`` enum (checked by a test) all follow.

Kept free of the grants' code (and of the JOSE library it needs), so that ``confidp check``
reads it without loading the token machinery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from confidp.oauth.scopes import OFFLINE_ACCESS

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type, not a secret
CLIENT_CREDENTIALS = "client_credentials"


@dataclass(frozen=True, slots=True)
class GrantType:
    """A grant type and what an application that lists it must have (config rules)."""

    name: str
    confidential_only: bool = False  # public applications may not use it
    needs_scope: str | None = None  # the application must list this scope, and vice versa
    needs_redirect_uris: bool = False  # the application must register redirect URIs


GRANT_TYPES: Mapping[str, GrantType] = MappingProxyType({grant.name: grant for grant in (
    # RFC 6749 §4.1: codes go to a registered redirect URI
    GrantType(AUTHORIZATION_CODE, needs_redirect_uris=True),
    # RFC 6749 §6; OIDC Core §11: refresh tokens are issued for offline_access
    GrantType(REFRESH_TOKEN, needs_scope=OFFLINE_ACCESS),
    # RFC 6749 §4.4: "MUST only be used by confidential clients"
    GrantType(CLIENT_CREDENTIALS, confidential_only=True),
)})
