"""The tenant cache (confidp.tenant_cache): a restart serves unchanged tenants from the state
directory, exactly as validating them would; anything else about the file makes it ignored."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pickle
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from confidp.registry import FileStatus, Snapshot
from confidp.reload import Reloader
from confidp.server_key import ServerKey
from confidp.tenant_cache import (
    _DISPATCH,
    _PURPOSE,
    MAGIC,
    Cached,
    CacheWriteFailed,
    TenantCache,
    cacheable,
    keep,
)
from tests.support import ALICE_HASH, REPO, tenant_doc, write_tenant

KEY = ServerKey(bytes(range(32)))


def start(tenants: Path, themes: Path, cached: Cached | None = None,
          environ: dict[str, str] | None = None) -> tuple[Snapshot, Reloader]:
    reloader = Reloader(tenants, themes, settle=0, environ=environ or {})
    snapshot, _ = reloader.load(None, cached=cached)
    assert snapshot is not None
    return snapshot, reloader


def outcome(status: FileStatus) -> tuple[Any, ...]:
    """All a start decides about a file but the moment it did."""
    return (status.tenant_id, status.serving, status.served_hash, status.errors,
            status.rejected_hash, status.warnings, status.issuer_at)


def a_mixed_directory(tenants: Path) -> None:
    """Valid tenants, one with warnings, one whose secret is read from the environment, two
    claiming one issuer, and an invalid file."""
    write_tenant(tenants, "acme.yaml", tenant_doc("https://id.example.com/acme"))
    write_tenant(tenants, "warned.yaml", tenant_doc(
        "https://id.example.com/warned", applications=[{
            "client_id": "cli", "name": "CLI", "type": "public",
            "redirect_uris": ["http://localhost:8400/callback"], "scopes": ["openid"]}]))
    write_tenant(tenants, "billing.yaml", tenant_doc(
        "https://id.example.com/billing", applications=[{
            "client_id": "billing", "name": "Billing", "type": "confidential",
            "client_secret": {"env": "BILLING_SECRET"}, "grant_types": ["client_credentials"],
            "scopes": ["openid"]}]))
    write_tenant(tenants, "one.yaml", tenant_doc("https://id.example.com/same"))
    write_tenant(tenants, "two.yaml", tenant_doc("https://id.example.com/same"))
    (tenants / "broken.yaml").write_text("issuer: [unclosed\n")


def test_a_start_from_the_cache_decides_exactly_what_validating_decides(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path) -> None:
    a_mixed_directory(tenants_dir)
    environ = {"BILLING_SECRET": "first-value"}
    fresh, _ = start(tenants_dir, themes_dir, environ=environ)
    cache = TenantCache(tmp_path / "state", KEY)
    assert cache.save(fresh) == 2  # acme and warned: billing reads the environment
    cached = cache.load()
    assert cached is not None and sorted(cached.entries) == ["acme.yaml", "warned.yaml"]
    again, reloader = start(tenants_dir, themes_dir, cached, environ=environ)
    assert (reloader.from_cache, reloader.validated) == (2, 4)
    assert not reloader.cache_themes_differ
    assert {n: outcome(s) for n, s in again.files.items()} == \
        {n: outcome(s) for n, s in fresh.files.items()}
    assert fresh.files["warned.yaml"].warnings  # the warnings came through the cache
    assert again.routes.keys() == fresh.routes.keys()
    assert again.tenant("acme") == fresh.tenant("acme")
    assert again.tenant("acme") is cached.entries["acme.yaml"].tenant


def test_the_repository_tenants_come_back_equal(tmp_path: Path) -> None:
    """The example tenants (themes, messages, factors, scopes) survive the round trip."""
    tenants = tmp_path / "tenants"
    shutil.copytree(REPO / "tenants", tenants)
    environ = {"GLOBEX_BILLING_SECRET": "x" * 32}
    fresh, _ = start(tenants, REPO / "themes", environ=environ)
    cache = TenantCache(tmp_path / "state", KEY)
    cache.save(fresh)
    again, reloader = start(tenants, REPO / "themes", cache.load(), environ=environ)
    assert reloader.from_cache == cache.saved_entries and reloader.from_cache >= 1
    for name, status in fresh.files.items():
        assert outcome(again.files[name]) == outcome(status), name


def test_edited_removed_and_new_files_are_validated(tenants_dir: Path, themes_dir: Path,
                                                    tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        write_tenant(tenants_dir, f"{name}.yaml", tenant_doc(f"https://id.example.com/{name}"))
    cache = TenantCache(tmp_path / "state", KEY)
    cache.save(start(tenants_dir, themes_dir)[0])
    write_tenant(tenants_dir, "b.yaml", tenant_doc("https://id.example.com/b",
                                                   display_name="B, edited"))
    (tenants_dir / "c.yaml").unlink()
    write_tenant(tenants_dir, "d.yaml", tenant_doc("https://id.example.com/d"))
    again, reloader = start(tenants_dir, themes_dir, cache.load())
    assert (reloader.from_cache, reloader.validated) == (1, 2)
    assert sorted(again.files) == ["a.yaml", "b.yaml", "d.yaml"]
    b = again.tenant("b")
    assert b is not None and b.display_name == "B, edited"


def test_an_edit_back_to_the_cached_bytes_after_a_rename_is_still_a_hit(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path) -> None:
    """Entries are by content: the file's inode and time do not matter."""
    data = write_tenant(tenants_dir, "a.yaml", tenant_doc("https://id.example.com/a"))
    cache = TenantCache(tmp_path / "state", KEY)
    cache.save(start(tenants_dir, themes_dir)[0])
    (tenants_dir / "a.yaml").unlink()
    (tenants_dir / "a.yaml").write_bytes(data)
    _, reloader = start(tenants_dir, themes_dir, cache.load())
    assert reloader.from_cache == 1


def test_secrets_read_at_load_never_reach_the_cache(tenants_dir: Path, themes_dir: Path,
                                                   tmp_path: Path) -> None:
    a_mixed_directory(tenants_dir)
    (tenants_dir / "billing.secret").write_text("file-secret-value\n")
    write_tenant(tenants_dir, "filed.yaml", tenant_doc(
        "https://id.example.com/filed", applications=[{
            "client_id": "filed", "name": "Filed", "type": "confidential",
            "client_secret": {"file": "billing.secret"}, "grant_types": ["client_credentials"],
            "scopes": ["openid"]}]))
    fresh, _ = start(tenants_dir, themes_dir, environ={"BILLING_SECRET": "env-secret-value"})
    for name in ("billing.yaml", "filed.yaml"):
        tenant = fresh.files[name].serving
        assert tenant is not None and not cacheable(tenant)
    cache = TenantCache(tmp_path / "state", KEY)
    cache.save(fresh)
    written = cache.path.read_bytes()
    assert b"env-secret-value" not in written and b"file-secret-value" not in written
    assert oct(cache.path.stat().st_mode & 0o777) == "0o600"
    # a new value of the variable is in force at the next start
    again, _ = start(tenants_dir, themes_dir, cache.load(),
                     environ={"BILLING_SECRET": "second-value"})
    billing = again.tenant("billing")
    assert billing is not None
    secret = billing.applications["billing"].client_secret
    assert secret is not None and secret.value.reveal() == "second-value"


def test_a_tenant_with_connectors_is_not_cached(tenants_dir: Path, themes_dir: Path,
                                                tmp_path: Path) -> None:
    write_tenant(tenants_dir, "corp.yaml", tenant_doc(
        "https://id.example.com/corp", connectors=[{
            "id": "github", "type": "github", "name": "GitHub",
            "client_id": "abc", "client_secret": {"env": "GITHUB_SECRET"}}]))
    fresh, _ = start(tenants_dir, themes_dir, environ={"GITHUB_SECRET": "gh-secret"})
    tenant = fresh.tenant("corp")
    assert tenant is not None and tenant.connectors and not cacheable(tenant)
    assert TenantCache(tmp_path / "state", KEY).save(fresh) == 0


def cached_file(tenants: Path, themes: Path, state: Path) -> TenantCache:
    write_tenant(tenants, "acme.yaml", tenant_doc("https://id.example.com/acme"))
    cache = TenantCache(state, KEY)
    cache.save(start(tenants, themes)[0])
    return cache


@pytest.mark.parametrize("damage", ["flip a payload byte", "truncate", "empty", "garbage",
                                    "another server key", "a directory"])
def test_a_damaged_or_foreign_cache_file_is_ignored_and_said(
        damage: str, tenants_dir: Path, themes_dir: Path, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    cache = cached_file(tenants_dir, themes_dir, tmp_path / "state")
    data = cache.path.read_bytes()
    reader = cache
    if damage == "flip a payload byte":
        cache.path.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    elif damage == "truncate":
        cache.path.write_bytes(data[:len(data) // 2])
    elif damage == "empty":
        cache.path.write_bytes(b"")
    elif damage == "garbage":
        cache.path.write_bytes(os.urandom(4096))
    elif damage == "another server key":
        reader = TenantCache(tmp_path / "state", ServerKey(bytes(32)))
    else:
        cache.path.unlink()
        cache.path.mkdir()
    with caplog.at_level(logging.WARNING, "confidp.reload"):
        assert reader.load() is None
    assert reader.unused is not None and reader.unused.startswith(
        "the tenant cache was not used: ")
    assert [r.getMessage() for r in caplog.records] == [
        f"{reader.unused}; every tenant file is validated"]
    assert str(tmp_path) not in reader.unused
    _, reloader = start(tenants_dir, themes_dir, None)
    assert reloader.validated == 1


class _Payload:
    """What an attacker holding no key would like the server to run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.marker),)


def test_an_authenticated_payload_naming_any_other_global_is_refused(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path) -> None:
    """Even under a valid MAC (a leaked key), only model classes are made: the unpickler
    refuses os.mkdir before calling it."""
    cache = cached_file(tenants_dir, themes_dir, tmp_path / "state")
    marker = tmp_path / "ran"
    payload = pickle.dumps((cache.code, frozenset(), {"acme.yaml": _Payload(marker)}))
    cache.path.write_bytes(MAGIC + KEY.mac_bytes(_PURPOSE, cache.code.encode(), payload)
                           + payload)
    assert cache.load() is None
    assert cache.unused == ("the tenant cache was not used: it names posix.mkdir, which a "
                             "tenant cache never holds")
    assert not marker.exists()


def test_an_authenticated_payload_of_the_wrong_shape_is_refused(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path) -> None:
    cache = cached_file(tenants_dir, themes_dir, tmp_path / "state")
    for content in [(cache.code, frozenset(), {"acme.yaml": "not an entry"}),
                    ("another code", frozenset(), {}), [1, 2, 3]]:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=5)
        pickler.dispatch_table = _DISPATCH
        pickler.dump(content)
        payload = buffer.getvalue()
        cache.path.write_bytes(MAGIC + KEY.mac_bytes(_PURPOSE, cache.code.encode(), payload)
                               + payload)
        assert cache.load() is None
        assert cache.unused == "the tenant cache was not used: its content is not a tenant " \
            "cache's"


def test_entries_checked_against_other_themes_are_not_used(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path) -> None:
    """A tenant of a theme that has since gone must be rejected, not served from the cache."""
    doc = tenant_doc("https://id.example.com/acme")
    doc["theme"] = {"name": "midnight"}
    write_tenant(tenants_dir, "acme.yaml", doc)
    fresh, _ = start(tenants_dir, themes_dir)
    assert fresh.tenant("acme") is not None
    cache = TenantCache(tmp_path / "state", KEY)
    cache.save(fresh)
    shutil.rmtree(themes_dir / "midnight")
    again, reloader = start(tenants_dir, themes_dir, cache.load())
    assert (reloader.from_cache, reloader.validated) == (0, 1)
    assert reloader.cache_themes_differ  # what /status then says
    assert again.tenant("acme") is None
    assert "midnight" in str(again.files["acme.yaml"].errors)


def test_each_code_version_has_its_own_file_and_old_ones_are_removed(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc("https://id.example.com/acme"))
    snapshot, _ = start(tenants_dir, themes_dir)
    old = TenantCache(tmp_path / "state", KEY, code="old")
    old.save(snapshot)
    recent = TenantCache(tmp_path / "state", KEY, code="recent")
    recent.save(snapshot)
    assert TenantCache(tmp_path / "state", KEY, code="new").load() is None  # none of its own
    os.utime(old.path, (1, 1))  # written long ago
    TenantCache(tmp_path / "state", KEY, code="new").save(snapshot)
    assert not old.path.exists() and recent.path.exists()  # a rolling update's other version


def test_the_fingerprint_is_of_this_code() -> None:
    cache = TenantCache(Path("/nonexistent"), KEY)
    assert cache.code == TenantCache(Path("/nonexistent"), KEY).code
    assert cache.path.name == f"tenants-{cache.code}.bin"


async def test_keep_writes_when_tenants_change_and_says_a_failure_once(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc("https://id.example.com/acme"))
    snapshot, _ = start(tenants_dir, themes_dir)
    current = [snapshot]
    blocked = tmp_path / "state"
    blocked.write_text("a file where the state directory should be")
    cache = TenantCache(blocked / "cache", KEY)
    with caplog.at_level(logging.WARNING, "confidp.reload"):
        task = asyncio.create_task(keep(cache, lambda: current[0], save_now=True,
                                        interval=0.01))
        for generation in range(2, 6):
            await asyncio.sleep(0.03)
            current[0] = replace(snapshot, generation=generation)
        task.cancel()
        await task
    assert cache.saved_at is None and cache.write_problem is not None
    assert [r.getMessage() for r in caplog.records] == [
        "the tenant cache cannot be written: Not a directory; starts validate every tenant "
        "file"]
    blocked.unlink()
    cache = TenantCache(blocked / "cache", KEY)  # a write the stop cut short stays with the old
    task = asyncio.create_task(keep(cache, lambda: current[0], save_now=False, interval=0.01))
    await asyncio.sleep(0.05)
    assert cache.saved_at is None  # nothing changed since it started
    current[0] = replace(snapshot, generation=99)
    for _ in range(100):
        await asyncio.sleep(0.01)
        if cache.saved_at is not None:
            break
    task.cancel()
    await task
    assert cache.saved_entries == 1 and cache.write_problem is None
    loaded = cache.load()
    assert loaded is not None and list(loaded.entries) == ["acme.yaml"]


def test_a_user_password_hash_is_kept_as_the_file_has_it(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path) -> None:
    cache = cached_file(tenants_dir, themes_dir, tmp_path / "state")
    loaded = cache.load()
    assert loaded is not None
    alice = loaded.entries["acme.yaml"].tenant.user("alice")
    assert alice is not None and alice.password_hash.reveal() == ALICE_HASH


def _stalled_payload(self: TenantCache, snapshot: Snapshot) -> tuple[int, bytes]:
    """A pickling child that never finishes (only ever runs in the forked child)."""
    time.sleep(120)
    raise AssertionError("not stopped")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("how", ["abort", "timeout"])
def test_a_stalled_pickling_child_is_killed_and_reaped(
        how: str, tenants_dir: Path, themes_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc("https://id.example.com/acme"))
    snapshot, _ = start(tenants_dir, themes_dir)
    cache = TenantCache(tmp_path / "state", KEY)
    monkeypatch.setattr(TenantCache, "_payload", _stalled_payload)
    abort = threading.Event()
    outcome: list[BaseException] = []
    children: list[int] = []

    def save() -> None:
        try:
            cache.save_apart(snapshot, abort=abort, timeout=60 if how == "abort" else 0.5)
        except BaseException as exc:
            outcome.append(exc)
    thread = threading.Thread(target=save)
    thread.start()
    while cache.child is None and thread.is_alive():
        time.sleep(0.01)
    children.append(cache.child or 0)
    if how == "abort":
        abort.set()
    thread.join(30)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], CacheWriteFailed)
    assert str(outcome[0]) == ("the server is stopping" if how == "abort" else
                               "pickling it took longer than 0.5 s; the process doing it "
                               "was stopped")
    assert children[0] > 0 and _gone(children[0])  # killed and reaped: no zombie either
    assert cache.child is None and not cache.path.exists()
    assert list((tmp_path / "state").glob(".*")) == []  # no temporary file left


async def test_stopping_while_the_cache_is_written_ends_the_child_at_once(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc("https://id.example.com/acme"))
    snapshot, _ = start(tenants_dir, themes_dir)
    cache = TenantCache(tmp_path / "state", KEY)
    monkeypatch.setattr(TenantCache, "_payload", _stalled_payload)
    task = asyncio.create_task(keep(cache, lambda: snapshot, save_now=True))
    while cache.child is None:
        await asyncio.sleep(0.01)
    child = cache.child
    task.cancel()
    await asyncio.wait_for(task, 1)  # at once: Sanic's stop spins on a task not done
    for _ in range(300):  # the thread kills and reaps it within 0.1 s
        if _gone(child) and cache.child is None:
            break
        await asyncio.sleep(0.01)
    assert _gone(child) and cache.child is None and cache.saved_at is None
