"""The grants of the token endpoint (RFC 6749 §4.1.3, §6, §4.4). Each validates the request
against the stored grant and the current tenant, then asks the TokenService to issue.

``GRANTS`` is the token endpoint's registry: every grant type of
``confidp.oauth.grant_types.GRANT_TYPES`` with the function that runs it. Adding a grant is a
new module here, its ``GrantType`` there, and one line below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

from confidp.model import Application, Tenant
from confidp.oauth.grant_types import GRANT_TYPES
from confidp.oauth.grants import authorization_code, client_credentials, refresh_token
from confidp.oauth.tokens import TokenService

GrantRunner = Callable[[TokenService, Tenant, Application, dict[str, str]],
                       Awaitable[dict[str, Any]]]

GRANTS: Mapping[str, GrantRunner] = MappingProxyType({
    authorization_code.GRANT_TYPE: authorization_code.run,
    refresh_token.GRANT_TYPE: refresh_token.run,
    client_credentials.GRANT_TYPE: client_credentials.run,
})
if GRANTS.keys() != GRANT_TYPES.keys():  # pragma: no cover - a programming error
    raise RuntimeError("confidp.oauth.grants.GRANTS and grant_types.GRANT_TYPES differ")
