"""One list of grant types: the token endpoint's registry, discovery, the tenant file's
schema and its rules all follow ``confidp.oauth.grant_types.GRANT_TYPES``."""

from __future__ import annotations

from confidp.config.schema import defaults_of, tenant_schema
from confidp.oauth.grant_types import AUTHORIZATION_CODE, GRANT_TYPES
from confidp.oauth.grants import GRANTS
from confidp.web.discovery import metadata
from tests.oauth.test_claims_and_client_auth import ACME


def test_the_schema_enum_is_the_registry() -> None:
    application = tenant_schema()["$defs"]["application"]["properties"]["grant_types"]
    assert set(application["items"]["enum"]) == set(GRANT_TYPES) == set(GRANTS)
    assert defaults_of("application")["grant_types"] == [AUTHORIZATION_CODE]


def test_discovery_lists_every_grant() -> None:
    assert metadata(ACME)["grant_types_supported"] == sorted(GRANT_TYPES)
