"""The schema: well-formed, documented, and rejecting each kind of mistake at the right place."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from confidp.config.loader import check_files, validate_file
from confidp.config.schema import is_valid_fast, schema_text, tenant_schema
from confidp.config.yaml_positions import YamlSyntaxError, parse_yaml
from tests.support import REPO

THEMES = frozenset({"default", "midnight"})


def errors_of(text: str, name: str = "acme.yaml") -> list[str]:
    result = validate_file(name, text.encode(), themes=THEMES, environ={})
    return [str(e) for e in result.errors]


def test_schema_is_valid_2020_12_with_versioned_id() -> None:
    schema = tenant_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/v1.json")


def test_repository_schema_file_is_the_packaged_one() -> None:
    assert (REPO / "schema" / "tenant.schema.json").read_text() == schema_text()


def _properties(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{path}.{name}", sub
        for key, value in node.items():
            yield from _properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _properties(value, f"{path}[{index}]")


def test_every_property_has_a_description_and_examples_that_validate() -> None:
    schema = tenant_schema()
    properties = list(_properties(schema, "#"))
    assert len(properties) > 50
    for where, sub in properties:
        assert sub.get("description"), f"{where} has no description"
        assert sub.get("examples"), f"{where} has no examples"
        # the property's own schema, with the definitions its $ref may point at
        validator = Draft202012Validator({"$defs": schema["$defs"], **sub})
        for example in sub["examples"]:
            errors = list(validator.iter_errors(example))
            assert not errors, f"example {example!r} of {where} is invalid: {errors[0].message}"


def test_strict_everywhere() -> None:
    def objects(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield node
            for value in node.values():
                yield from objects(value)
        elif isinstance(node, list):
            for value in node:
                yield from objects(value)

    definitions = tenant_schema()["$defs"]

    def discriminated(node: dict[str, Any]) -> bool:
        """A union keyed by a property (``connector``'s ``type``): each ``then`` branch is a
        strict definition of its own."""
        branches = [rule.get("then", {}).get("$ref", "") for rule in node.get("allOf", [])]
        return bool(branches) and all(
            ref.startswith("#/$defs/") and definitions[ref.removeprefix("#/$defs/")].get(
                "additionalProperties") is False for ref in branches)

    for node in objects(tenant_schema()):
        assert node.get("additionalProperties") is False or discriminated(node), \
            node.get("description")


def test_examples_in_the_repository_are_valid() -> None:
    results = check_files(sorted((REPO / "tenants").glob("*.yaml")), themes=THEMES, environ={})
    assert [r.tenant_id for r in results] == ["acme", "globex"]
    for result in results:
        assert result.errors == []
        assert result.tenant is not None
    acme = results[0].tenant
    assert acme is not None
    assert acme.issuer == "http://localhost:8000/acme"
    portal = acme.applications["portal-spa"]
    assert portal.is_public
    assert portal.redirect_uris == {"https://portal.example.com/callback",
                                    "http://127.0.0.1:9999/callback"}
    assert portal.scopes == {"openid", "profile", "email", "offline_access", "orders.read"}
    assert acme.user("ALICE") is acme.users["alice"]
    globex = results[1].tenant
    assert globex is not None and globex.theme.name == "midnight"
    assert globex.applications["billing"].type == "confidential"


def test_every_example_starts_with_the_schema_comment() -> None:
    for path in (REPO / "tenants").glob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schema/tenant.schema.json"


BASE = """\
issuer: https://id.example.com
display_name: Acme
applications:
  - client_id: portal-spa
    name: Portal
    type: public
    redirect_uris: [https://portal.example.com/callback]
    scopes: [openid]
"""


def test_base_document_is_valid() -> None:
    assert errors_of(BASE) == []


MISTAKES = [
    (BASE + "colour: red\n",
     "acme.yaml:9:1: $.colour: unknown key 'colour'"),
    (BASE.replace("    scopes:", "    scops: [openid]\n    scopes:"),
     "acme.yaml:8:5: $.applications[0].scops: unknown key 'scops' (did you mean 'scopes'?)"),
    (BASE.replace("display_name: Acme\n", ""),
     "acme.yaml:1:1: $: missing required key 'display_name'"),
    (BASE.replace("type: public", "type: publik"),
     "acme.yaml:6:11: $.applications[0].type: must be one of: public, confidential "
     "(got 'publik')"),
    (BASE + "lifetimes:\n  access_token: 10 minutes\n",
     "acme.yaml:10:17: $.lifetimes.access_token: '10 minutes' is not valid here: A duration"),
    (BASE + "lifetimes:\n  access_token: 600\n",
     "acme.yaml:10:17: $.lifetimes.access_token: must be a string, not a whole number"),
    (BASE + "users:\n  - username: bob\n    password_hash: hunter2\n",
     "acme.yaml:11:20: $.users[0].password_hash: this looks like a plaintext password: store "
     "`confidp hash-password`'s output instead"),
    (BASE + "theme:\n  colors:\n    primary: 'red;}body{display:none'\n",
     "acme.yaml:11:14: $.theme.colors.primary: 'red;}body{display:none' is not valid here"),
    (BASE.replace("scopes: [openid]", "scopes: []"),
     "acme.yaml:8:13: $.applications[0].scopes: must list at least 1 item(s)"),
    (BASE.replace("scopes: [openid]", "scopes: [openid, openid]"),
     "acme.yaml:8:13: $.applications[0].scopes: lists 'openid' more than once"),
    (BASE + "login_throttle:\n  max_failures_per_user: 0\n",
     "acme.yaml:10:26: $.login_throttle.max_failures_per_user: must be at least 1 (got 0)"),
    (BASE.replace("    scopes: [openid]", "    scopes: [openid]\n    client_secret: {}"),
     "acme.yaml:9:20: $.applications[0].client_secret: give exactly one of {hash: …}, {env: …} "
     "or {file: …}"),
    (BASE + "users:\n  - username: bob\n    password_hash: "
     "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA\n    claims:\n      bad key: 1\n",
     "acme.yaml:13:7: $.users[0].claims[\"bad key\"]: the key 'bad key' is not valid"),
    ("- just\n- a list\n", "acme.yaml:1:1: $: the top level must be a mapping"),
    ("", "acme.yaml:1:1: $: the file is empty"),
    ("issuer: [unclosed\n", "acme.yaml:1:9: $: YAML syntax error: the list opened with '[' here "
     "is never closed"),
]


@pytest.mark.parametrize(("text", "expected"), MISTAKES)
def test_each_kind_of_mistake_is_reported_at_its_line(text: str, expected: str) -> None:
    errors = errors_of(text)
    assert any(e.startswith(expected) for e in errors), errors


YAML_DATE = BASE + "users:\n  - username: 2024-01-01\n    password_hash: x\n"


@pytest.mark.parametrize("text", [BASE, YAML_DATE, *(text for text, _ in MISTAKES)])
def test_fast_and_full_validators_agree(text: str) -> None:
    """The fast path (jsonschema-rs) and the reporting path (jsonschema) must agree, or a file
    could be accepted that the report would reject."""
    try:
        parsed = parse_yaml(text.encode())
    except YamlSyntaxError:
        return
    if not isinstance(parsed.data, dict):
        return
    full = not list(Draft202012Validator(tenant_schema()).iter_errors(parsed.data))
    assert is_valid_fast(parsed.data) == full


def test_all_errors_of_a_file_come_at_once() -> None:
    text = BASE.replace("type: public", "type: publik") + "colour: red\nlifetimes: {login: x}\n"
    errors = errors_of(text)
    assert len(errors) == 3
    assert [e.split(":")[1] for e in errors] == ["6", "9", "10"]  # sorted by line


def test_schema_prints_as_json() -> None:
    assert json.loads(schema_text())["title"] == "confidp tenant"


def test_schema_matches_file_in_repo_byte_for_byte() -> None:
    assert Path(REPO / "schema" / "tenant.schema.json").is_symlink()


@pytest.mark.parametrize(("key", "value"), [
    ("id_token_signed_response_alg", "HS256"),  # a shared-secret MAC: never for ID tokens here
    ("id_token_signed_response_alg", "none"),
    ("access_token_signing_alg", "RS512"),
    ("access_token_signing_alg", "Ed25519"),
    ("access_token_format", "paseto"),
])
def test_unknown_token_algorithms_and_formats_are_refused(key: str, value: str) -> None:
    text = BASE + f"    {key}: {value}\n"
    errors = errors_of(text)
    assert errors and key in errors[0], errors


def test_token_algorithms_and_formats_are_built_into_the_model() -> None:
    text = (BASE + "    id_token_signed_response_alg: ES256\n    access_token_signing_alg: ES256\n"
            "  - client_id: api\n    name: API\n    type: public\n"
            "    redirect_uris: [https://api.example.com/cb]\n    scopes: [openid]\n"
            "    access_token_format: opaque\n    access_token_signing_alg: EdDSA\n")
    result = validate_file("acme.yaml", text.encode(), themes=THEMES, environ={})
    assert result.tenant is not None, result.errors
    spa, api = result.tenant.applications["portal-spa"], result.tenant.applications["api"]
    assert (spa.id_token_signed_response_alg, spa.access_token_signing_alg) == ("ES256", "ES256")
    assert api.access_token_format == "opaque"
    # an opaque application's signing algorithm is not used: no key for it
    assert result.tenant.signing_algorithms == {"RS256", "ES256"}
