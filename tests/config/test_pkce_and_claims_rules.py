"""Tenant-file rules for per-application PKCE and the standard user claims (OpenID Connect
Core §5.1)."""

from __future__ import annotations

from typing import Any

from confidp.config.loader import validate_file
from tests.support import dump, tenant_doc


def result_of(doc: dict[str, Any]) -> Any:
    return validate_file("acme.yaml", dump(doc), themes=None, environ={"X": "s3cret"})


def messages(doc: dict[str, Any]) -> list[str]:
    return [f"{e.path}: {e.message}" for e in result_of(doc).errors]


def app(**overrides: Any) -> dict[str, Any]:
    base = {"client_id": "web", "name": "Web", "type": "public",
            "redirect_uris": ["https://web.example.com/cb"], "scopes": ["openid"]}
    base.update(overrides)
    return base


def test_require_pkce_false_only_for_confidential_applications() -> None:
    doc = tenant_doc("https://id.example.com", applications=[
        app(require_pkce=False),
        app(client_id="server", type="confidential", client_secret={"env": "X"},
            require_pkce=False),
        app(client_id="spa", require_pkce=True)])
    assert messages(doc) == [
        "$.applications[0].require_pkce: a public application must use PKCE: it has no "
        "secret, so PKCE is what ties its code to it (RFC 9700 §2.1.1); remove require_pkce: "
        "false, or make the application confidential"]
    del doc["applications"][0]
    tenant = result_of(doc).tenant
    assert tenant is not None
    assert tenant.applications["server"].require_pkce is False
    assert tenant.applications["spa"].require_pkce is True


def test_pkce_is_required_by_default() -> None:
    doc = tenant_doc("https://id.example.com", applications=[
        app(), app(client_id="server", type="confidential", client_secret={"env": "X"})])
    tenant = result_of(doc).tenant
    assert tenant is not None
    assert all(a.require_pkce for a in tenant.applications.values())


FULL_USER: dict[str, Any] = {
    "username": "alice", "password_hash": tenant_doc("x")["users"][0]["password_hash"],
    "name": "Alice Liddell", "given_name": "Alice", "family_name": "Liddell",
    "middle_name": "Pleasance", "nickname": "Ali", "preferred_username": "alice.l",
    "profile": "https://example.com/people/alice", "picture": "https://cdn.example.com/a.png",
    "website": "http://alice.example.org/", "gender": "female", "birthdate": "1852-05-04",
    "zoneinfo": "Europe/London", "locale": "en-GB", "updated_at": "2025-01-01T01:00:00+01:00",
    "email": "alice@example.com", "email_verified": True,
    "phone_number": "+44 20 7946 0958", "phone_number_verified": True,
    "address": {"street_address": "1 Rabbit Hole Lane\nWonderland", "locality": "Oxford",
                "postal_code": "OX1 1AA", "country": "United Kingdom"},
}


def with_user(**changes: Any) -> dict[str, Any]:
    return tenant_doc("https://id.example.com", users=[{**FULL_USER, **changes}])


def test_every_standard_claim_can_be_set_for_a_user() -> None:
    tenant = result_of(with_user()).tenant
    assert tenant is not None
    alice = tenant.users["alice"]
    assert (alice.middle_name, alice.nickname, alice.preferred_username) == (
        "Pleasance", "Ali", "alice.l")
    assert (alice.birthdate, alice.zoneinfo, alice.locale) == ("1852-05-04", "Europe/London",
                                                              "en-GB")
    assert alice.updated_at == 1735689600  # 2025-01-01T00:00:00Z
    assert (alice.phone_number, alice.phone_number_verified) == ("+44 20 7946 0958", True)
    assert alice.address is not None and alice.address["locality"] == "Oxford"
    assert result_of(with_user(updated_at=1700000000)).tenant.users["alice"].updated_at == \
        1700000000
    for birthdate in ("1852", "0000-02-29"):
        assert messages(with_user(birthdate=birthdate)) == []


def test_standard_claims_are_checked() -> None:
    cases = {
        "profile": ("ftp://example.com/alice", "'ftp://example.com/alice' is not valid here"),
        "picture": ("cdn.example.com/a.png", "is not valid here"),
        "website": ("https://", "is not valid here"),
        "birthdate": ("1852-02-30", "'1852-02-30' is not a date: write YYYY-MM-DD, YYYY, or "
                      "0000-MM-DD"),
        "zoneinfo": ("Europe/Wonderland", "'Europe/Wonderland' is not a time zone of the IANA "
                     "database"),
        "locale": ("en_GB", "is not valid here: The locale"),
        "updated_at": ("2025-01-01T00:00:00", "'2025-01-01T00:00:00' is not valid here"),
        "phone_number": ("call me", "is not valid here: The phone number"),
        "address": ({"street": "x"}, "unknown key 'street'"),
    }
    for field, (value, expected) in cases.items():
        found = messages(with_user(**{field: value}))
        assert len(found) == 1, (field, found)
        assert found[0].startswith(f"$.users[0].{field}"), found
        assert expected in found[0], (field, found)
    assert messages(with_user(updated_at="1969-12-31T23:59:59Z")) == [
        "$.users[0].updated_at: '1969-12-31T23:59:59Z' is not a time from 1970 on: write "
        "seconds since 1970, or an RFC 3339 time with a time zone such as "
        "2025-01-01T09:30:00Z"]
    assert messages(with_user(address={}, phone_number_verified=True)) == []


def test_standard_claims_cannot_come_from_free_claims_or_custom_scopes() -> None:
    doc = with_user(claims={"locale": "fr", "phone_number": "1", "address": "x"})
    doc["scopes"] = [{"name": "hr", "description": "HR", "claims": ["birthdate"]}]
    assert sorted(messages(doc)) == [
        "$.scopes[0].claims[0]: 'birthdate' is set by confidp itself and cannot be released "
        "by a custom scope",
        "$.users[0].claims.address: 'address' is set by confidp itself (or by a user field of "
        "that name); remove it from claims",
        "$.users[0].claims.locale: 'locale' is set by confidp itself (or by a user field of "
        "that name); remove it from claims",
        "$.users[0].claims.phone_number: 'phone_number' is set by confidp itself (or by a "
        "user field of that name); remove it from claims"]
