"""Routing a request to a tenant by issuer host and longest path prefix."""

from __future__ import annotations

import pytest

from confidp.config.loader import validate_file
from confidp.model import Tenant
from confidp.registry import FileStatus, Registry, Snapshot
from tests.support import dump, tenant_doc


def tenant(name: str, issuer: str) -> Tenant:
    result = validate_file(f"{name}.yaml", dump(tenant_doc(issuer)), themes=None, environ={})
    assert result.tenant is not None, result.errors
    return result.tenant


def snapshot(*tenants: Tenant) -> Snapshot:
    files = {f"{t.id}.yaml": FileStatus(f"{t.id}.yaml", t.id, t, "h", 0.0) for t in tenants}
    return Snapshot(1, files, frozenset({"default"}), "v")


ROOT = tenant("root", "https://id.example.com")
ACME = tenant("acme", "https://id.example.com/acme")
ACME_EU = tenant("acmeeu", "https://id.example.com/acme/eu")
LOCAL = tenant("local", "http://localhost:8000/acme")
SNAP = snapshot(ROOT, ACME, ACME_EU, LOCAL)


@pytest.mark.parametrize(("host", "path", "expected", "rest"), [
    ("id.example.com", "/acme/authorize", "acme", "/authorize"),
    ("id.example.com", "/acme", "acme", ""),
    ("id.example.com", "/acme/", "acme", "/"),
    ("id.example.com", "/acme/eu/token", "acmeeu", "/token"),
    ("id.example.com", "/acmex/authorize", "root", "/acmex/authorize"),  # segment boundary
    ("id.example.com", "/authorize", "root", "/authorize"),
    ("ID.Example.com", "/acme/token", "acme", "/token"),
    ("id.example.com:443", "/acme/token", "acme", "/token"),
    ("localhost:8000", "/acme/authorize", "local", "/authorize"),
])
def test_resolves_by_host_and_longest_prefix(host: str, path: str, expected: str,
                                             rest: str) -> None:
    found = SNAP.resolve(host, path)
    assert found is not None
    assert (found[0].id, found[1]) == (expected, rest)


@pytest.mark.parametrize(("host", "path"), [
    ("other.example.com", "/acme/authorize"),
    ("localhost:8001", "/acme/authorize"),
    ("localhost", "/acme/authorize"),
    ("localhost:8000", "/globex/authorize"),
    ("", "/acme"),
])
def test_unknown_host_or_path(host: str, path: str) -> None:
    assert SNAP.resolve(host, path) is None


def test_issuers_are_listed_sorted() -> None:
    assert SNAP.issuers() == ["http://localhost:8000/acme", "https://id.example.com",
                              "https://id.example.com/acme", "https://id.example.com/acme/eu"]


def test_swap_is_one_reference() -> None:
    registry = Registry(SNAP)
    held = registry.snapshot
    newer = snapshot(ROOT)
    registry.swap(newer)
    assert registry.snapshot is newer
    assert held.resolve("id.example.com", "/acme/x") is not None  # old snapshot unchanged
    assert newer.resolve("id.example.com", "/acme/x")[0].id == "root"  # type: ignore[index]
