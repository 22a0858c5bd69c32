"""Secrets a tenant file names by reference, ``{env: NAME}`` or ``{file: path}``: read when
the file loads, never written in the file. Client secrets of applications may also be an
argon2id ``{hash: ...}`` (``confidp.config.build.resolve_client_secrets``); the secrets
connectors send upstream (``$defs/secret_reference``) must be readable, so they are references
only. Messages name the variable or the file as the tenant file does, never a byte of the
secret."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from confidp.config.errors import PathElement, Problem
from confidp.config.reading import MAX_SECRET_BYTES, UnreadableFile, read_regular_file
from confidp.config.schema import tenant_schema
from confidp.model.connector import Connector, SecretRef
from confidp.model.secret import Secret

SECRET_REFERENCE = "#/$defs/secret_reference"  # noqa: S105 - a schema reference
NOT_READ = "(not read)"


def read_reference(spec: Mapping[str, str], here: tuple[PathElement, ...], base_dir: FsPath,
                   environ: Mapping[str, str] | None) -> SecretRef | Problem:
    """The secret ``spec`` refers to, or the problem that stops it being read. With
    ``environ`` None (``confidp check`` without --resolve-secrets) nothing is read."""
    kind = "env" if "env" in spec else "file"
    named = spec[kind]
    if environ is None:
        return SecretRef(Secret(""), f"{kind} {named} {NOT_READ}")
    if kind == "env":
        value = environ.get(named)
        if not value:
            return Problem((*here, "env"), f"the environment variable {named} is not set or "
                           "empty")
        return SecretRef(Secret(value), f"env {named}")
    try:
        text = read_regular_file(base_dir / named, MAX_SECRET_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        return Problem((*here, "file"), f"{named} is not UTF-8 text")
    except UnreadableFile as exc:
        return Problem((*here, "file"), f"{named} {exc.message}")
    value = text.rstrip("\r\n")
    if not value:
        return Problem((*here, "file"), f"{named} is empty")
    return SecretRef(Secret(value), f"file {named}")


def secret_keys(connector_type: str) -> tuple[str, ...]:
    """The keys of a connector type that hold secret references (from the schema: a new
    type's secrets are found without code here)."""
    definition = tenant_schema()["$defs"].get(f"connector_{connector_type}", {})
    return tuple(key for key, sub in definition.get("properties", {}).items()
                 if sub.get("$ref") == SECRET_REFERENCE)


def resolve_connector_secrets(document: Mapping[str, Any], base_dir: FsPath,
                              environ: Mapping[str, str] | None
                              ) -> tuple[dict[int, dict[str, SecretRef]], list[Problem]]:
    """Each connector's secrets by key, per connector index, and what stopped any of them
    being read."""
    found: dict[int, dict[str, SecretRef]] = {}
    problems: list[Problem] = []
    for index, spec in enumerate(document.get("connectors", [])):
        found[index] = {}
        if "ca_file" in spec and environ is not None:
            problem = ca_file_problem(base_dir / spec["ca_file"])
            if problem:
                problems.append(Problem(("connectors", index, "ca_file"),
                                        f"{spec['ca_file']} {problem}"))
        for key in secret_keys(spec["type"]):
            if key not in spec:
                continue
            outcome = read_reference(spec[key], ("connectors", index, key), base_dir, environ)
            if isinstance(outcome, Problem):
                problems.append(outcome)
            else:
                found[index][key] = outcome
    return found, problems


def ca_file_problem(path: FsPath) -> str | None:
    """Why ``path`` cannot be a connector's trust store (PEM certificates), or None. Checked
    with the secrets (where the server runs, or ``confidp check --resolve-secrets``)."""
    try:
        ssl.create_default_context(cafile=str(path))
    except FileNotFoundError:
        return "does not exist"
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"is not a PEM file of certificates ({type(exc).__name__})"
    return None


def unread(connector: Connector) -> list[str]:
    """The keys of ``connector`` whose secrets were not read (for ``confidp check``)."""
    return [key for key, ref in connector.secrets.items() if ref.source.endswith(NOT_READ)]
