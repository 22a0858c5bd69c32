from __future__ import annotations

import base64
import dataclasses
import hashlib
from typing import Any

import pytest

from confidp.config.loader import validate_file
from confidp.identity.local import identity_of
from confidp.model import Tenant
from confidp.oauth.claims import at_hash, id_token_claims, user_claims
from confidp.oauth.client_auth import InvalidClient, parse_credentials, registered_client
from confidp.oauth.errors import InvalidRequest
from confidp.oauth.scopes import STANDARD_SCOPES
from tests.config.test_pkce_and_claims_rules import result_of, with_user
from tests.support import REPO


def example(name: str) -> Tenant:
    result = validate_file(str(REPO / "tenants" / name), (REPO / "tenants" / name).read_bytes(),
                           themes=None, environ={})
    assert result.tenant is not None
    return result.tenant


ACME = example("acme.yaml")
GLOBEX = example("globex.yaml")
ALICE = ACME.users["alice"]


def test_claims_by_scope() -> None:
    assert user_claims(ACME, identity_of(ALICE), ["openid"]) == {"sub": "alice"}
    assert user_claims(ACME, identity_of(ALICE), ["openid", "email"]) == {
        "sub": "alice", "email": "alice@example.com", "email_verified": True}
    assert user_claims(ACME, identity_of(ALICE), ["profile"]) == {
        "sub": "alice", "name": "Alice Liddell", "given_name": "Alice",
        "family_name": "Liddell", "preferred_username": "alice"}
    assert user_claims(ACME, identity_of(ALICE), ["orders.read"]) == {"sub": "alice",
                                                         "customer_number": "C-1042"}
    assert user_claims(ACME, identity_of(ALICE), ["groups"])["groups"] == ["customers"]
    assert user_claims(ACME, identity_of(ALICE), ["unknown.scope"]) == {"sub": "alice"}


def test_at_hash_is_left_half_of_sha256() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.e30.sig"
    expected = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()[:16])
    assert at_hash(token) == expected.rstrip(b"=").decode()


def test_id_token_claims() -> None:
    claims = id_token_claims(ACME, identity_of(ALICE), client_id="portal-spa",
                             scopes=["openid", "email"], now=1000, auth_time=900, nonce="n",
                             access_token="a.b.c")
    assert claims == {"sub": "alice", "email": "alice@example.com", "email_verified": True,
                      "iss": "http://localhost:8000/acme", "aud": "portal-spa", "iat": 1000,
                      "exp": 1600, "auth_time": 900, "at_hash": at_hash("a.b.c"),
                      "nonce": "n", "amr": ["pwd"]}  # RFC 8176: how alice signed in


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_parse_credentials() -> None:
    assert parse_credentials(basic("billing", "s%3Ae"), {}).secret == "s:e"  # form-encoded
    post = parse_credentials(None, {"client_id": "billing", "client_secret": "x"})
    assert (post.method, post.client_id, post.secret) == ("client_secret_post", "billing", "x")
    assert parse_credentials(None, {"client_id": "portal-spa"}).method == "none"


@pytest.mark.parametrize(("header", "form", "error"), [
    (None, {}, InvalidClient),
    ("Bearer abc", {}, InvalidClient),
    ("Basic !!!", {}, InvalidClient),
    ("Basic " + base64.b64encode(b"no-colon").decode(), {}, InvalidClient),
    (basic("billing", "x"), {"client_secret": "y"}, InvalidRequest),
    (basic("billing", "x"), {"client_id": "other"}, InvalidRequest),
])
def test_bad_credentials(header: str | None, form: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        parse_credentials(header, form)


def test_method_must_be_the_registered_one() -> None:
    assert registered_client(GLOBEX, parse_credentials(basic("billing", "x"), {})).client_id \
        == "billing"
    with pytest.raises(InvalidClient, match="client_secret_basic"):
        registered_client(GLOBEX, parse_credentials(None, {"client_id": "billing",
                                                           "client_secret": "x"}))
    with pytest.raises(InvalidClient, match="client_secret_basic"):
        registered_client(GLOBEX, parse_credentials(None, {"client_id": "billing"}))
    with pytest.raises(InvalidClient, match="Unknown client"):
        registered_client(GLOBEX, parse_credentials(None, {"client_id": "portal-spa"}))
    with pytest.raises(InvalidClient, match="none"):
        registered_client(ACME, parse_credentials(basic("portal-spa", "x"), {}))


def test_every_standard_claim_by_its_scope() -> None:
    """OpenID Connect Core §5.4: profile, email, address and phone release §5.1's claims."""
    tenant = result_of(with_user()).tenant
    alice = tenant.users["alice"]
    local = identity_of(alice)
    assert user_claims(tenant, local, ["openid", "profile"]) == {
        "sub": "alice", "name": "Alice Liddell", "given_name": "Alice",
        "family_name": "Liddell", "middle_name": "Pleasance", "nickname": "Ali",
        "preferred_username": "alice.l", "profile": "https://example.com/people/alice",
        "picture": "https://cdn.example.com/a.png", "website": "http://alice.example.org/",
        "gender": "female", "birthdate": "1852-05-04", "zoneinfo": "Europe/London",
        "locale": "en-GB", "updated_at": 1735689600}
    assert user_claims(tenant, local, ["openid", "phone"]) == {
        "sub": "alice", "phone_number": "+44 20 7946 0958", "phone_number_verified": True}
    assert user_claims(tenant, local, ["openid", "address"]) == {"sub": "alice", "address": {
        "street_address": "1 Rabbit Hole Lane\nWonderland", "locality": "Oxford",
        "postal_code": "OX1 1AA", "country": "United Kingdom"}}
    assert set(user_claims(tenant, local, ["openid", "profile", "email", "address", "phone"])
               ) == {"sub", *STANDARD_SCOPES["profile"][1], "email", "email_verified",
                     "address", "phone_number", "phone_number_verified"}
    # absent values are left out, and a *_verified flag never comes without its value
    sparse = dataclasses.replace(alice, phone_number=None, address=None,
                                 preferred_username=None)
    assert user_claims(tenant, identity_of(sparse), ["phone", "address"]) == {"sub": "alice"}
    assert user_claims(tenant, identity_of(sparse), ["profile"])["preferred_username"] == "alice"
