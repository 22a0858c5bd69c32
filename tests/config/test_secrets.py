"""Secret fields (``writeOnly`` in the schema): whatever is wrong with what was written there,
no message repeats it, and a plaintext password is called one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from confidp.config.loader import validate_file
from confidp.config.schema import LOOKS_PLAINTEXT, secret_path, tenant_schema
from confidp.diff import describe_change
from tests.support import ALICE_HASH, dump, tenant_doc

SECRET = "Tr0ub4dor&3-s3cret"  # what a person might type where a hash belongs


def secret_app(client_secret: Any) -> dict[str, Any]:
    return {"client_id": "billing", "name": "Billing", "type": "confidential",
            "client_secret": client_secret, "grant_types": ["client_credentials"],
            "scopes": ["openid"]}


def errors_of(doc: dict[str, Any] | str) -> list[str]:
    text = doc if isinstance(doc, str) else dump(doc).decode()
    result = validate_file("acme.yaml", text.encode(), themes=None, environ={})
    return [str(error) for error in [*result.errors, *result.warnings]]


def user_with(password_hash: Any) -> dict[str, Any]:
    return tenant_doc("https://id.example.com", users=[
        {"username": "bob", "password_hash": password_hash}])


def test_schema_marks_the_secret_fields_write_only() -> None:
    assert secret_path(("users", 3, "password_hash"))
    assert secret_path(("applications", 0, "client_secret"))
    assert secret_path(("applications", 0, "client_secret", "hash"))
    assert secret_path(("applications", 0, "client_secret", "anything", 2))
    assert not secret_path(("users", 0, "username"))
    assert not secret_path(("applications", 0, "redirect_uris", 0))
    assert not secret_path(("users", 0, "claims", "password_hash"))  # a claim's name


def _property_names(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield from node.get("properties", {}).items()
        for key, value in node.items():
            yield from _property_names(value, f"{path}/{key}")
    elif isinstance(node, list):
        for value in node:
            yield from _property_names(value, path)


def test_every_field_named_like_a_secret_is_write_only() -> None:
    """A future field called *password*, *secret* or *hash* must be marked too."""
    for name, sub in _property_names(tenant_schema()):
        if sub.get("type") == "boolean":  # a switch holds no secret (passwordless)
            continue
        if any(word in name for word in ("password", "secret", "hash")):
            assert sub.get("writeOnly") is True, name


@pytest.mark.parametrize("value", [SECRET, "hunter2", 123456, 12.5])
def test_a_plaintext_password_is_called_one_and_never_shown(value: Any) -> None:
    [error] = errors_of(user_with(value))
    assert error == f"acme.yaml:17:18: $.users[0].password_hash: {LOOKS_PLAINTEXT}"
    assert str(value) not in error


@pytest.mark.parametrize(("value", "says"), [
    ("$argon2id$v=19$m=65536,t=3", "is not a complete argon2id hash"),
    ("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "a hash of another kind"),
])
def test_a_wrong_hash_is_described_without_being_shown(value: str, says: str) -> None:
    [error] = errors_of(user_with(value))
    assert says in error and "(the value is not shown)" in error
    assert value not in error and value[10:] not in error


def test_client_secret_written_inline_names_the_three_forms() -> None:
    [error] = errors_of(tenant_doc("https://id.example.com", applications=[secret_app(SECRET)]))
    assert error == (
        "acme.yaml:8:18: $.applications[0].client_secret: this looks like a plaintext secret, "
        "which a tenant file never holds: give one of {hash: …}, {env: …} or {file: …} "
        "instead, e.g. {hash: <the output of `confidp hash-password`>} (the value is not "
        "shown)")


@pytest.mark.parametrize("client_secret", [
    {"hash": SECRET},
    {"hash": SECRET, "env": "BILLING_SECRET"},
    {SECRET: None},
    {"hash": [SECRET, SECRET]},
    [SECRET],
])
def test_no_message_about_a_client_secret_shows_what_was_written(client_secret: Any) -> None:
    errors = errors_of(tenant_doc("https://id.example.com",
                                  applications=[secret_app(client_secret)]))
    assert errors
    assert not [error for error in errors if SECRET in error]


def test_keys_inside_a_secret_field_are_not_shown() -> None:
    """Duplicate or non-string keys are found by the YAML layer: not shown either."""
    text = dump(tenant_doc("https://id.example.com", applications=[
        secret_app({"env": "X"})])).decode().replace(
        "    env: X\n", f"    env: X\n    {SECRET}: 1\n    {SECRET}: 2\n    123456: 3\n")
    errors = errors_of(text)
    assert errors and not [error for error in errors if SECRET in error or "123456" in error]


def test_a_valid_hash_is_still_accepted() -> None:
    assert errors_of(user_with(ALICE_HASH)) == []


def test_change_descriptions_never_carry_a_secret() -> None:
    """The reload log line for a changed secret says that it changed, not to what."""
    old_doc = tenant_doc("https://id.example.com", applications=[
        secret_app({"hash": ALICE_HASH})])
    new_hash = ALICE_HASH.replace("klIv", "klIw")
    new_doc = tenant_doc("https://id.example.com", applications=[
        secret_app({"hash": new_hash})], users=[{"username": "alice",
                                                "password_hash": new_hash}])
    old = validate_file("acme.yaml", dump(old_doc), themes=None, environ={}).tenant
    new = validate_file("acme.yaml", dump(new_doc), themes=None, environ={}).tenant
    assert old is not None and new is not None
    described = describe_change(old, new)
    assert described == "billing changed: client_secret; user alice changed: password"
    assert "klI" not in described
