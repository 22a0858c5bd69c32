"""Tenant file -> validated ``Tenant``, and the cross-file rule, in one pipeline.

The same pipeline serves ``confidp check`` and the server's (re)loads, so CI and production
can never disagree about what is valid:

    bytes --parse_yaml--> data + positions --schema--> --rules--> --secrets--> build_tenant

Every problem of a file is collected and placed (file:line:col), not only the first. Warnings
(what is accepted but advised against) are collected the same way and never reject a file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from confidp.config.build import build_connectors, build_tenant, resolve_client_secrets
from confidp.config.errors import WARNING, ConfigError, Problem, json_path
from confidp.config.reading import UnreadableFile, read_tenant_file
from confidp.config.rules import RuleContext, check_document
from confidp.config.schema import schema_problems, secret_path
from confidp.config.secret_refs import resolve_connector_secrets
from confidp.config.yaml_positions import Positions, YamlSyntaxError, parse_yaml
from confidp.model import ClientSecret, SecretRef, Tenant

TENANT_SUFFIXES = (".yaml", ".yml")


def tenant_id_of(path: str | os.PathLike[str]) -> str:
    """The tenant id a file gives: its name without the suffix (``Path.stem``)."""
    return os.path.splitext(os.path.basename(path))[0]


def is_tenant_file_name(name: str) -> bool:
    return not name.startswith(".") and name.endswith(TENANT_SUFFIXES)


def duplicate_id_problem(tenant_id: str, owner: str) -> str:
    """Two files giving one tenant id (acme.yaml and acme.yml, or two directories)."""
    return (f"the tenant id {tenant_id!r} is already given by {owner}; rename or remove one "
            "of the two files")


def content_hash(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(slots=True)
class FileResult:
    """The outcome of validating one version of one tenant file."""

    tenant_id: str
    source: str
    content_hash: str
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigError] = field(default_factory=list)
    tenant: Tenant | None = None
    # The node tree behind positions is large: it is kept only while the file is validated,
    # then only the issuer's place (for the cross-file rule) is kept.
    positions: Positions = field(default_factory=Positions)
    issuer_at: tuple[int, int] = (1, 1)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, problem: Problem) -> None:
        line, col = problem.where or self.positions.locate(problem.path, problem.at_key)
        if problem.warning:
            self.warnings.append(ConfigError(self.source, line, col, json_path(problem.path),
                                             problem.message, WARNING))
        else:
            self.errors.append(ConfigError(self.source, line, col, json_path(problem.path),
                                           problem.message))


def unreadable(source: str, message: str) -> FileResult:
    """The result for a tenant-file name that could not be read (``confidp.config.reading``)."""
    result = FileResult(tenant_id_of(source), source, "")
    result.errors.append(ConfigError(source, 1, 1, "$", f"the file {message}"))
    return result


def _inside_secret(problem: Problem) -> Problem:
    """A YAML-level problem (duplicate key, key that is not a string) inside a secret field,
    said without the names it would quote: they may be the secret itself."""
    for end in range(len(problem.path) + 1):
        if secret_path(problem.path[:end]):
            return Problem(problem.path[:end], "a key in here is duplicated or is not a string "
                           "(not shown: this field holds a secret)", where=problem.where)
    return problem


def validate_file(source: str, raw: bytes, *, themes: frozenset[str] | None,
                  environ: Mapping[str, str] | None,
                  base_dir: FsPath | None = None) -> FileResult:
    """Validate one tenant file's bytes and build its model. ``source`` is the path shown in
    errors; a relative client-secret file is looked up in ``base_dir`` (default: the directory
    of ``source``). ``environ`` is where env secrets are read from; None (``confidp check`` in a
    GitOps CI that has no secrets) checks the file itself without reading env or file secrets."""
    tenant_id = tenant_id_of(source)
    result = FileResult(tenant_id, source, content_hash(raw))
    try:
        parsed = parse_yaml(raw)
    except YamlSyntaxError as exc:
        result.errors.append(ConfigError(source, exc.line, exc.col, "$", exc.message))
        return result
    result.positions = parsed.positions
    for problem in parsed.problems:
        result.add(_inside_secret(problem))
    document = parsed.data
    if document is None and not parsed.problems:
        result.add(Problem((), "the file is empty: a tenant needs at least issuer and "
                           "display_name"))
    elif document is not None and not isinstance(document, dict):
        result.add(Problem((), "the top level must be a mapping of keys (issuer: ..., "
                           "display_name: ...)"))
    if not isinstance(document, dict):
        _sort(result)
        _release_positions(result)
        return result
    problems = schema_problems(document)
    if not problems:
        problems = check_document(document, RuleContext(tenant_id, themes))
    secrets: dict[int, ClientSecret] = {}
    upstream_secrets: dict[int, dict[str, SecretRef]] = {}
    directory = FsPath(source).parent if base_dir is None else base_dir
    if result.ok and not any(not problem.warning for problem in problems):
        secrets, unresolved = resolve_client_secrets(document, directory, environ)
        problems.extend(unresolved)
        upstream_secrets, unresolved = resolve_connector_secrets(document, directory, environ)
        problems.extend(unresolved)
    for problem in problems:
        result.add(problem)
    if result.ok:
        result.tenant = build_tenant(tenant_id, source, document, secrets, build_connectors(
            document, upstream_secrets, directory))
    _sort(result)
    _release_positions(result)
    return result


def _release_positions(result: FileResult) -> None:
    result.issuer_at = result.positions.locate(("issuer",))
    result.positions = Positions()


def _sort(result: FileResult) -> None:
    result.errors.sort(key=lambda e: (e.line, e.col, e.path))
    result.warnings.sort(key=lambda e: (e.line, e.col, e.path))


def settle_issuers(fresh: Mapping[str, FileResult], unchanged: Mapping[str, Tenant],
                   last_good: Mapping[str, Tenant]) -> dict[str, Tenant]:
    """Apply the cross-file rule, one tenant per issuer route (host and path), and return the
    tenants to serve by id.

    ``fresh`` are the files just validated, ``unchanged`` the tenants whose files did not change
    and ``last_good`` the versions ``fresh`` files served before. A new version that would share
    a route with another tenant is rejected (its last good version keeps serving); versions that
    served together before never conflict, so existing tenants are never taken down by a new
    file. With no history (``confidp check``, first start) every claimant is rejected.
    """
    serving: dict[str, Tenant] = dict(unchanged)
    for tenant_id, result in fresh.items():
        if result.tenant is not None:
            serving[tenant_id] = result.tenant
        elif tenant_id in last_good:
            serving[tenant_id] = last_good[tenant_id]
    while True:
        claimants: dict[tuple[str, str], list[Tenant]] = {}
        for tenant in serving.values():
            claimants.setdefault((tenant.issuer_host, tenant.issuer_path), []).append(tenant)
        rejected = False
        for group in claimants.values():
            if len(group) < 2:
                continue
            for tenant in group:
                claimant = fresh.get(tenant.id)
                if claimant is None or claimant.tenant is not tenant:
                    continue
                result = claimant
                others = ", ".join(sorted(t.source for t in group if t is not tenant))
                message = (f"{tenant.issuer!r} routes to the same host and path as the "
                           f"issuer of {others}; each tenant needs its own issuer")
                result.add(Problem(("issuer",), message, where=result.issuer_at))
                result.tenant = None
                _sort(result)
                if tenant.id in last_good:
                    serving[tenant.id] = last_good[tenant.id]
                else:
                    del serving[tenant.id]
                rejected = True
        if not rejected:
            return serving


def check_files(paths: Iterable[FsPath], *, themes: frozenset[str] | None,
                environ: Mapping[str, str] | None) -> list[FileResult]:
    """``confidp check``: validate files as the server would, including across files."""
    results: list[FileResult] = []
    by_id: dict[str, FileResult] = {}
    for path in paths:
        source = str(path)
        try:
            raw = read_tenant_file(path)
        except UnreadableFile as exc:
            results.append(unreadable(source, exc.message))
            continue
        result = validate_file(source, raw, themes=themes, environ=environ)
        if result.tenant_id in by_id:
            result.add(Problem((), duplicate_id_problem(result.tenant_id,
                                                        by_id[result.tenant_id].source)))
            result.tenant = None
        else:
            by_id[result.tenant_id] = result
        results.append(result)
    settle_issuers({r.tenant_id: r for r in by_id.values()}, {}, {})
    return results
