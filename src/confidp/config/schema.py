"""JSON Schema validation of a parsed tenant document, with messages a person can act on.

The schema (``tenant.schema.json``, JSON Schema 2020-12) is the single description of a tenant
file: editors read it through the ``# yaml-language-server`` comment, ``confidp schema`` prints
it, and this module checks it. jsonschema's own messages are rewritten here into what to change.

A field the schema marks ``writeOnly`` holds a secret (a password hash, a client secret): its
value is never repeated in a message, whatever is wrong with it, and a value that looks like a
plaintext password is called that.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from confidp.config.errors import PathElement, Problem

_TYPE_WORDS = {
    "object": "a mapping of keys",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}
LOOKS_PLAINTEXT = ("this looks like a plaintext password: store `confidp hash-password`'s "
                      "output instead")
# Validators whose message never repeats the value (the others may quote it)
_NEVER_ECHOING = frozenset({"type", "required", "minLength", "maxLength", "minItems", "maxItems",
                            "minProperties", "maxProperties"})
_PHC_PREFIX = re.compile(r"^\$[a-z0-9-]+\$")  # "$argon2id$", "$2b$", "$6$": a hash of some kind


def schema_text() -> str:
    return resources.files("confidp.config").joinpath("tenant.schema.json").read_text("utf-8")


@cache
def tenant_schema() -> Mapping[str, Any]:
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


def defaults(*path: str) -> dict[str, Any]:
    """The ``default`` of each property of the object at ``path`` (e.g. "lifetimes"): the
    schema documents each default, and it is the only place defaults are written."""
    node: Mapping[str, Any] = tenant_schema()
    for name in path:
        node = node["properties"][name]
    return {name: sub["default"] for name, sub in node["properties"].items() if "default" in sub}


def defaults_of(definition: str) -> dict[str, Any]:
    """The ``default`` of each property of ``$defs/<definition>`` (an item of a list, e.g.
    "application" or "user")."""
    node: Mapping[str, Any] = tenant_schema()["$defs"][definition]
    return {name: sub["default"] for name, sub in node["properties"].items() if "default" in sub}


def secret_path(path: Sequence[PathElement]) -> bool:
    """Whether ``path`` is, or is inside, a field the schema marks ``writeOnly``."""
    return _secret_path(tuple(0 if isinstance(element, int) else element for element in path))


@cache
def _secret_path(path: tuple[PathElement, ...]) -> bool:
    node: Any = tenant_schema()
    for element in path:
        node = _resolved(node)
        if node.get("writeOnly"):
            return True
        if isinstance(element, int):
            node = node.get("items")
        else:
            node = node.get("properties", {}).get(element, node.get("additionalProperties"))
        if not isinstance(node, Mapping):
            return False
    return bool(_resolved(node).get("writeOnly"))


def _resolved(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """``node`` with the local definition its ``$ref`` names merged under it."""
    reference = node.get("$ref")
    if not isinstance(reference, str) or not reference.startswith("#/$defs/"):
        return node
    target: Mapping[str, Any] = tenant_schema()["$defs"][reference.removeprefix("#/$defs/")]
    return {**_resolved(target), **node}


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(tenant_schema())


@cache
def _fast_validator() -> Any:
    return jsonschema_rs.validator_for(dict(tenant_schema()))


def is_valid_fast(document: Any) -> bool:
    """jsonschema-rs answers "valid?" about a hundred times faster than python-jsonschema,
    which matters when a server starts with a thousand tenants. It gives no messages we want
    to show, so a document it rejects (or cannot take, such as a YAML date) goes through
    ``schema_problems``. tests/config/test_schema.py checks the two agree."""
    try:
        return bool(_fast_validator().is_valid(document))
    except (ValueError, TypeError):
        return False


def schema_problems(document: Any) -> list[Problem]:
    """Every schema violation in ``document``, not only the first."""
    if is_valid_fast(document):
        return []
    problems: list[Problem] = []
    for error in _validator().iter_errors(document):
        problems.extend(_describe(error))
    return problems


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__  # e.g. a date: YAML reads 2024-01-01 as one


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _forms(schema: Mapping[str, Any]) -> str:
    """"{hash: …}, {env: …} or {file: …}": the keys of a give-exactly-one-of mapping."""
    forms = [f"{{{name}: …}}" for name in schema.get("properties", {})]
    return ", ".join(forms[:-1]) + f" or {forms[-1]}" if len(forms) > 1 else "".join(forms)


def _secret_value_problem(instance: Any) -> str:
    """What is wrong with a value given where a hash of a secret belongs, without saying it."""
    if isinstance(instance, str) and instance.startswith("$argon2id$"):
        return ("is not a complete argon2id hash (was it cut when copied?): store "
                "`confidp hash-password`'s output, whole (the value is not shown)")
    if isinstance(instance, str) and _PHC_PREFIX.match(instance):
        return ("is a hash of another kind; confidp takes argon2id only: store `confidp "
                "hash-password`'s output instead (the value is not shown)")
    return LOOKS_PLAINTEXT


def _describe_secret(error: ValidationError, path: tuple[PathElement, ...],
                     schema: Mapping[str, Any]) -> Iterator[Problem]:
    """The problems of a field that holds a secret, never quoting what was written."""
    instance = error.instance
    scalar = isinstance(instance, (str, int, float)) and not isinstance(instance, bool)
    match error.validator:
        case "type" | "minProperties" | "maxProperties" if "maxProperties" in schema:
            if scalar:
                example = (", e.g. {hash: <the output of `confidp hash-password`>}"
                           if "hash" in schema.get("properties", {}) else "")
                yield Problem(path, "this looks like a plaintext secret, which a tenant file "
                              f"never holds: give one of {_forms(schema)} instead{example} "
                              "(the value is not shown)")
            else:
                yield Problem(path, f"give exactly one of {_forms(schema)}")
        case "type" | "pattern" if scalar:
            yield Problem(path, _secret_value_problem(instance))
        case "additionalProperties":
            allowed = ", ".join(sorted(schema.get("properties", {})))
            yield Problem(path, "has a key that is not allowed (its name is not shown: it may be "
                          f"the secret itself); allowed keys: {allowed}")
        case validator if validator in _NEVER_ECHOING:
            yield from _describe_public(error, path, schema)
        case _:
            what = schema.get("description")
            yield Problem(path, "is not valid here (the value is not shown)"
                          + (f": {what}" if what else ""))


def _describe(error: ValidationError) -> Iterator[Problem]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if secret_path(path):
        yield from _describe_secret(error, path, _resolved(schema))
    else:
        yield from _describe_public(error, path, schema)


def _describe_public(error: ValidationError, path: tuple[PathElement, ...],
                     schema: Mapping[str, Any]) -> Iterator[Problem]:
    value: Any = error.validator_value  # the stubs allow "unset": never for a raised error
    instance: Any = error.instance
    match error.validator:
        case "additionalProperties":
            allowed = sorted(schema.get("properties", {}))
            for extra in sorted(set(instance) - set(allowed), key=str):
                close = difflib.get_close_matches(str(extra), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                yield Problem((*path, extra), f"unknown key {extra!r}{hint}; allowed keys: "
                              f"{', '.join(allowed)}", at_key=True)
        case "required":
            for name in value:
                if name not in instance:
                    yield Problem(path, f"missing required key {name!r}", at_key=True)
        case "type":
            wanted = value if isinstance(value, list) else [value]
            words = " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in wanted)
            yield Problem(path, f"must be {words}, not {_kind(instance)}")
        case "enum":
            choices = ", ".join(str(c) for c in value)
            yield Problem(path, f"must be one of: {choices} (got {_shown(instance)})")
        case "pattern" if "propertyNames" in error.schema_path:
            yield Problem((*path, instance), f"the key {_shown(instance)} is not valid: "
                          f"{schema.get('description', value)}", at_key=True)
        case "pattern":
            what = schema.get("description", f"the pattern {value}")
            yield Problem(path, f"{_shown(instance)} is not valid here: {what}")
        case "minLength":
            yield Problem(path, f"must have at least {value} character(s)")
        case "maxLength":
            yield Problem(path, f"must have at most {value} characters")
        case "minItems":
            yield Problem(path, f"must list at least {value} item(s)")
        case "maxItems":
            yield Problem(path, f"must list at most {value} items")
        case "uniqueItems":
            seen: set[str] = set()
            dupes = []
            for item in instance:
                key = json.dumps(item, sort_keys=True, default=str)
                if key in seen:
                    dupes.append(_shown(item))
                seen.add(key)
            yield Problem(path, f"lists {', '.join(dupes)} more than once")
        case "minimum":
            yield Problem(path, f"must be at least {value} (got {_shown(instance)})")
        case "maximum":
            yield Problem(path, f"must be at most {value} (got {_shown(instance)})")
        case "minProperties" | "maxProperties":
            yield Problem(path, f"give exactly one of {_forms(schema)}")
        case "anyOf" | "oneOf":
            yield Problem(path, f"must be a string, number, true/false or a list of them, not "
                          f"{_kind(instance)}")
        case _:
            yield Problem(path, error.message)
