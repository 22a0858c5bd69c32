"""Request values quoted back in error descriptions: whole when they are reasonable, never cut
in the middle of a word without saying so, never carrying a control character, a quote or a
backslash (RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E), always bounded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.flow import authorize_url, query_of, seed_params
from tests.support import ALICE_HASH, Server, free_port, running_server, tenant_doc, write_tenant

pytestmark = pytest.mark.e2e
JSON = {"Accept": "application/json"}
RFC6749_DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
HOSTILE = 'x"\\\x00\x1b[31m\x7f\u202eé' + "y" * 5000
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628 §3.4, 44 characters


@pytest.fixture
def idp(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> Iterator[Server]:
    port = free_port()
    doc = tenant_doc(f"http://127.0.0.1:{port}/acme")
    doc["scopes"] = [{"name": "orders.read", "description": "Read your orders"}]
    doc["applications"].append({
        "client_id": "billing", "name": "Billing", "type": "confidential",
        "client_secret": {"hash": ALICE_HASH}, "grant_types": ["client_credentials"],
        "scopes": ["orders.read"]})
    write_tenant(tenants_dir, "acme.yaml", doc)
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server:
        yield server


def token_error(idp: Server, form: dict[str, str]) -> str:
    response = httpx.post(f"{idp.base}/acme/token", data=form, auth=("billing", "wonderland"))
    assert response.status_code == 400, response.text
    description = response.json()["error_description"]
    assert isinstance(description, str)
    return description


def assert_clean(description: str) -> None:
    assert RFC6749_DESCRIPTION.fullmatch(description), description
    assert len(description) < 300, description


def test_a_registered_grant_type_is_named_whole(idp: Server) -> None:
    description = token_error(idp, {"grant_type": DEVICE_CODE})
    assert description == f"grant_type '{DEVICE_CODE}' is not supported."


def test_a_long_grant_type_is_cut_after_a_separator_with_an_ellipsis(idp: Server) -> None:
    description = token_error(idp, {"grant_type": "urn:ietf:params:oauth:grant-type:" + "x" * 60})
    assert description == "grant_type 'urn:ietf:params:oauth:grant-type:...' is not supported."
    unbroken = token_error(idp, {"grant_type": "g" * 100})
    assert unbroken == f"grant_type '{'g' * 64}...' is not supported."


def test_a_hostile_grant_type_is_never_echoed_raw(idp: Server) -> None:
    description = token_error(idp, {"grant_type": HOSTILE[:2000]})
    assert_clean(description)
    assert description.startswith("grant_type 'x????[31m???yyy")
    assert description.endswith("...' is not supported.")


def test_a_hostile_client_credentials_scope_is_never_echoed_raw(idp: Server) -> None:
    scope = " ".join(f'a"{index}\\' for index in range(40))
    description = token_error(idp, {"grant_type": "client_credentials", "scope": scope})
    assert_clean(description)
    assert description.endswith("'a?0?', 'a?1?', 'a?2?', 'a?3?', 'a?4?' and 35 more.")


def test_authorize_details_never_echo_raw_values(idp: Server) -> None:
    with httpx.Client(base_url=idp.base, headers=JSON) as client:
        unknown = client.get(authorize_url("/acme", seed_params(client_id=HOSTILE[:1500])))
        assert unknown.status_code == 400
        assert_clean(unknown.json()["detail"])
        response_type = client.get(authorize_url("/acme", seed_params(
            response_type="code id_token token")))
        assert response_type.json()["detail"] == "Got response_type='code id_token token'."
        # a scope the client may not use goes back to it (an error redirect): the description
        # in the Location is clean too
        scope = client.get(authorize_url("/acme", seed_params(scope="openid " + HOSTILE[:100])))
        assert scope.status_code == 302
        description = query_of(scope.headers["location"])["error_description"]
        assert_clean(description)
        assert description.startswith("The application may not ask for 'x????[31m???y")


def test_not_found_never_echoes_the_host_or_path_raw(idp: Server) -> None:
    # a Host that is no host name (quotes, backslash, a control byte, non-ASCII) is refused
    # before routing, and not echoed either
    hostile = httpx.get(f"{idp.base}/{'a' * 3000}",
                        headers={**JSON, "Host": 'evil"\\\x01é.test'.encode("latin-1")})
    assert hostile.status_code == 400
    assert "evil" not in hostile.text
    response = httpx.get(f"{idp.base}/{'a' * 3000}",
                         headers={**JSON, "Host": "evil.test:8443"})
    assert response.status_code == 404
    description = response.json()["error_description"]
    assert_clean(description)
    assert description.startswith("No tenant has an issuer at evil.test:8443/aaaa")
    assert len(description) < 300
    endpoint = httpx.get(f"{idp.base}/acme/{'b' * 3000}", headers=JSON)
    assert_clean(endpoint.json()["error_description"])
