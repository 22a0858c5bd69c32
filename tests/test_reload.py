"""The reloader without HTTP: what each kind of file change does to the snapshot, and when a
file written in place is read. Tests about what a change does read it at once (``settle=0``);
the settle tests move an injected clock instead."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from confidp.registry import Snapshot
from confidp.reload import SETTLE_SECONDS, Reloader, watch_roots
from tests.support import Clock, dump, replace_tenant, sha, tenant_doc, write_tenant

ISSUER = "https://id.example.com/acme"


def load(reloader: Reloader, previous: Snapshot | None) -> tuple[Snapshot, list[str]]:
    snapshot, events = reloader.load(previous)
    assert snapshot is not None, "expected a new snapshot"
    return snapshot, [f"{e.kind} {e.source}: {e.detail}" for e in events]


def test_initial_load_serves_valid_files_only(tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    write_tenant(tenants_dir, "broken.yaml", b"issuer: [\n")
    (tenants_dir / "notes.txt").write_text("not a tenant")
    (tenants_dir / ".hidden.yaml").write_text("ignored")
    snapshot, events = load(Reloader(tenants_dir, themes_dir, settle=0), None)
    assert [t.id for t in snapshot.tenants()] == ["acme"]
    assert events[0] == ("added acme.yaml: issuer https://id.example.com/acme, 1 "
                         "application(s), 1 user(s)")
    assert events[1].startswith("rejected broken.yaml: not served; 1 error(s): ")
    assert snapshot.files["broken.yaml"].serving is None


def test_nothing_changed_gives_no_snapshot(tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    assert reloader.load(first) == (None, [])
    os.utime(tenants_dir / "acme.yaml")  # touched: re-read, same bytes, no reload
    assert reloader.load(first) == (None, [])


def test_change_is_described_without_secrets(tenants_dir: Path, themes_dir: Path) -> None:
    doc = tenant_doc(ISSUER)
    write_tenant(tenants_dir, "acme.yaml", doc)
    reloader = Reloader(tenants_dir, themes_dir, settle=0, environ={"NEW_SECRET": "p4ssw0rd-value"})
    first, _ = load(reloader, None)
    doc["applications"][0]["redirect_uris"] = ["https://portal.example.com/cb2",
                                               "http://127.0.0.1:9999/callback"]
    doc["applications"].append({"client_id": "api", "name": "API", "type": "confidential",
                                "client_secret": {"env": "NEW_SECRET"},
                                "grant_types": ["client_credentials"], "scopes": ["openid"]})
    doc["users"][0]["password_hash"] = doc["users"][0]["password_hash"].replace("klI", "klJ")
    doc["users"].append({"username": "bob", "password_hash": doc["users"][0]["password_hash"]})
    data = replace_tenant(tenants_dir, "acme.yaml", doc)
    second, events = load(reloader, first)
    assert events == [
        "changed acme.yaml: applications added: api; redirect URIs of portal-spa "
        "+https://portal.example.com/cb2 -https://portal.example.com/callback; users added: "
        "bob; user alice changed: password"]
    assert "p4ssw0rd-value" not in repr(second.files) and "p4ssw0rd" not in events[0]
    assert second.files["acme.yaml"].served_hash == sha(data)
    assert second.generation == first.generation + 1


def test_invalid_edit_keeps_last_good_then_recovers(tenants_dir: Path,
                                                    themes_dir: Path) -> None:
    good = write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    served = first.tenant("acme")
    bad = write_tenant(tenants_dir, "acme.yaml", dump(tenant_doc(ISSUER)) + b"colour: red\n")
    second, events = load(reloader, first)
    status = second.files["acme.yaml"]
    assert status.serving is served  # the very same last good version
    assert status.served_hash == sha(good)
    assert status.rejected_hash == sha(bad)
    assert [(e.line, e.col, e.path, e.message) for e in status.errors] == [
        (18, 1, "$.colour", "unknown key 'colour'; allowed keys: applications, connectors, "
         "display_name, issuer, languages, lifetimes, links, login_throttle, messages, scopes, "
         "second_factors, theme, users")]
    assert events[0].startswith("rejected acme.yaml: still serving the version loaded at ")
    assert "acme.yaml:18:1: $.colour: unknown key 'colour'" in events[0]
    # back to valid content: served again and the error is gone
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER, display_name="Acme 2"))
    third, events = load(reloader, second)
    assert third.files["acme.yaml"].errors == ()
    assert third.tenant("acme").display_name == "Acme 2"  # type: ignore[union-attr]
    assert events == ["changed acme.yaml: display_name changed; theme changed"]


def test_deleted_file_removes_tenant(tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    write_tenant(tenants_dir, "globex.yaml", tenant_doc("https://id.example.com/globex"))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    (tenants_dir / "acme.yaml").unlink()
    second, events = load(reloader, first)
    assert [t.id for t in second.tenants()] == ["globex"]
    assert events == ["removed acme.yaml: the file was deleted; the tenant is no longer served"]
    assert second.resolve("id.example.com", "/acme/authorize") is None


def test_new_file_with_taken_issuer_is_rejected(tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    write_tenant(tenants_dir, "copy.yaml", tenant_doc(ISSUER))
    second, events = load(reloader, first)
    assert second.resolve("id.example.com", "/acme/x")[0].id == "acme"  # type: ignore[index]
    assert "routes to the same host and path as the issuer of" in events[0]


def test_same_tenant_id_twice(tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    write_tenant(tenants_dir, "acme.yml", tenant_doc("https://id.example.com/other"))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    snapshot, events = load(reloader, None)
    assert snapshot.tenant("acme").issuer == ISSUER  # type: ignore[union-attr]
    assert "already given by acme.yaml" in snapshot.files["acme.yml"].errors[0].message
    assert [e for e in events if e.startswith("rejected acme.yml: not served;")]
    write_tenant(tenants_dir, "other.yaml", tenant_doc("https://id.example.com/other2"))
    _, later = load(reloader, snapshot)
    assert not [e for e in later if "acme.yml" in e]  # reported once, not at every rescan


def test_removing_a_theme_rejects_its_tenants_but_keeps_them(tenants_dir: Path,
                                                             themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER, theme={"name": "midnight"}))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    shutil.rmtree(themes_dir / "midnight")
    second, events = load(reloader, first)
    assert second.tenant("acme") is first.tenant("acme")
    assert "theme 'midnight' does not exist" in events[0]


def test_theme_file_edit_changes_the_themes_version(tenants_dir: Path,
                                                    themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    css = themes_dir / "default" / "static" / "style.css"
    css.write_text(css.read_text() + "\n/* edited */\n")
    second, events = load(reloader, first)
    assert events == []
    assert second.themes_version != first.themes_version


def _configmap(tenants_dir: Path) -> None:
    """A Kubernetes ConfigMap volume: acme.yaml -> ..data/acme.yaml, ..data -> ..2026_01."""
    first_dir = tenants_dir / "..2026_01"
    first_dir.mkdir()
    write_tenant(first_dir, "acme.yaml", tenant_doc(ISSUER))
    os.symlink("..2026_01", tenants_dir / "..data")
    os.symlink("..data/acme.yaml", tenants_dir / "acme.yaml")


def _swap_configmap(tenants_dir: Path) -> bytes:
    """The ConfigMap updated as the kubelet does it: a new timestamped directory, ``..data``
    renamed over to it, the old directory removed. The new acme.yaml's bytes."""
    second_dir = tenants_dir / "..2026_02"
    second_dir.mkdir()
    data = write_tenant(second_dir, "acme.yaml", tenant_doc(ISSUER, display_name="Swapped"))
    os.symlink("..2026_02", tenants_dir / "..data_tmp")
    os.replace(tenants_dir / "..data_tmp", tenants_dir / "..data")
    shutil.rmtree(tenants_dir / "..2026_01")
    return data


def test_configmap_style_symlink_swap(tenants_dir: Path, themes_dir: Path) -> None:
    """Kubernetes ConfigMap volume: acme.yaml -> ..data/acme.yaml, ..data -> ..<timestamp>."""
    _configmap(tenants_dir)
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    data = _swap_configmap(tenants_dir)
    second, _ = load(reloader, first)
    assert second.tenant("acme").display_name == "Swapped"  # type: ignore[union-attr]
    assert second.files["acme.yaml"].served_hash == sha(data)


def test_watch_roots_include_the_parent_of_a_symlinked_directory(tmp_path: Path) -> None:
    (tmp_path / "rev1" / "tenants").mkdir(parents=True)
    os.symlink("rev1", tmp_path / "current")
    themes = tmp_path / "themes"
    themes.mkdir()
    roots = watch_roots([tmp_path / "current" / "tenants", themes])
    assert tmp_path in roots


def mtime(path: Path) -> float:
    return path.stat().st_mtime_ns / 1e9


def test_a_file_written_in_place_is_read_once_it_has_been_quiet(tenants_dir: Path,
                                                                themes_dir: Path) -> None:
    """A slow writer's file is not read while it is being written (the issue: a prefix that
    is still valid YAML was served, and users vanished)."""
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    clock = Clock()
    reloader = Reloader(tenants_dir, themes_dir, clock=clock)
    first, _ = load(reloader, None)  # the first load reads at once
    path = tenants_dir / "acme.yaml"
    full = dump(tenant_doc(ISSUER, display_name="Rewritten"))
    path.write_bytes(full[: len(full) // 2])  # half written, still valid YAML up to here
    clock.now = mtime(path) + 0.03
    assert reloader.load(first) == (None, [])
    assert reloader.settle_delay() == pytest.approx(SETTLE_SECONDS - 0.03)
    path.write_bytes(full)  # the writer finishes
    clock.now = mtime(path) + 0.05
    assert reloader.load(first) == (None, [])
    assert reloader.settle_delay() == pytest.approx(SETTLE_SECONDS - 0.05)
    clock.now = mtime(path) + SETTLE_SECONDS + 0.001
    second, events = load(reloader, first)
    assert second.files["acme.yaml"].served_hash == sha(full)
    assert events == ["changed acme.yaml: display_name changed; theme changed"]
    assert reloader.settle_delay() is None


def test_a_file_renamed_over_is_read_at_once(tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    clock = Clock()
    reloader = Reloader(tenants_dir, themes_dir, clock=clock)
    first, _ = load(reloader, None)
    data = replace_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER, display_name="Renamed"))
    clock.now = mtime(tenants_dir / "acme.yaml")  # written this very moment
    second, _ = load(reloader, first)
    assert second.files["acme.yaml"].served_hash == sha(data)


def test_a_new_file_waits_too_but_not_at_start(tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    clock = Clock()
    clock.now = mtime(tenants_dir / "acme.yaml")
    reloader = Reloader(tenants_dir, themes_dir, clock=clock)
    first, _ = load(reloader, None)
    assert first.tenant("acme") is not None
    write_tenant(tenants_dir, "globex.yaml", tenant_doc("https://id.example.com/globex"))
    clock.now = mtime(tenants_dir / "globex.yaml")
    assert reloader.load(first) == (None, [])
    clock.now += SETTLE_SECONDS + 0.001
    second, _ = load(reloader, first)
    assert second.tenant("globex") is not None


def test_a_file_dated_in_the_future_is_read_once_seen_unchanged(tenants_dir: Path,
                                                                themes_dir: Path) -> None:
    """An mtime that cannot be trusted (clock skew, touch -d) does not hold a file forever."""
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    clock = Clock()
    reloader = Reloader(tenants_dir, themes_dir, clock=clock)
    first, _ = load(reloader, None)
    data = write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER, display_name="Future"))
    clock.now = mtime(tenants_dir / "acme.yaml") - 3600
    assert reloader.load(first) == (None, [])
    clock.now += SETTLE_SECONDS + 0.001
    second, _ = load(reloader, first)
    assert second.files["acme.yaml"].served_hash == sha(data)


SPECIAL_KINDS = ["fifo", "devzero", "loop", "dangling", "directory"]


def make_special(kind: str, path: Path) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "devzero":
        os.symlink("/dev/zero", path)
    elif kind == "loop":
        os.symlink(path.name, path)
    elif kind == "dangling":
        os.symlink("nowhere.yaml", path)
    else:
        path.mkdir()


@pytest.mark.parametrize("kind", SPECIAL_KINDS)
def test_a_name_that_is_not_a_regular_file_is_rejected_once(kind: str, tenants_dir: Path,
                                                            themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    make_special(kind, tenants_dir / "odd.yaml")
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, events = load(reloader, None)
    [rejected] = [e for e in events if "odd.yaml" in e]
    assert rejected.startswith("rejected odd.yaml: not served; 1 error(s): odd.yaml:1:1: $: "
                               "the file ")
    [error] = first.files["odd.yaml"].errors
    assert first.files["odd.yaml"].rejected_hash is None
    write_tenant(tenants_dir, "globex.yaml", tenant_doc("https://id.example.com/globex"))
    second, later = load(reloader, first)
    assert second.files["odd.yaml"].errors == (error,)
    assert not [e for e in later if "odd.yaml" in e]  # said once, not at every rescan


def test_a_served_file_replaced_by_a_pipe_keeps_its_last_good_version(
        tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    (tenants_dir / "acme.yaml").unlink()
    os.mkfifo(tenants_dir / "acme.yaml")
    second, events = load(reloader, first)
    assert second.tenant("acme") is first.tenant("acme")
    assert events == ["rejected acme.yaml: still serving the version loaded at "
                      f"{events[0].split('loaded at ')[1].split(' ')[0]} "
                      f"({first.files['acme.yaml'].served_hash[:19]}); 1 error(s): acme.yaml:1:1:"
                      " $: the file is a named pipe (FIFO), not a regular file: it is not read"]


def test_messages_name_files_relative_to_the_tenants_directory(tenants_dir: Path,
                                                               themes_dir: Path) -> None:
    """Neither a log line nor /status shows the server's absolute paths; a relative secret
    file is still found next to the tenant file."""
    (tenants_dir / "billing.secret").write_text("s3cret-value\n")
    doc = tenant_doc(ISSUER, applications=[
        {"client_id": "billing", "name": "Billing", "type": "confidential",
         "client_secret": {"file": "billing.secret"}, "grant_types": ["client_credentials"],
         "scopes": ["openid"]},
        {"client_id": "other", "name": "Other", "type": "confidential",
         "client_secret": {"file": "missing.secret"}, "grant_types": ["client_credentials"],
         "scopes": ["openid"]}])
    write_tenant(tenants_dir, "acme.yaml", doc)
    write_tenant(tenants_dir, "acme.yml", tenant_doc("https://id.example.com/other"))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    snapshot, events = load(reloader, None)
    errors = [str(e) for status in snapshot.files.values() for e in status.errors]
    assert errors == [
        "acme.yaml:18:11: $.applications[1].client_secret.file: missing.secret cannot be read: "
        "No such file or directory",
        "acme.yml:1:1: $: the tenant id 'acme' is already given by acme.yaml; rename or remove "
        "one of the two files"]
    assert str(tenants_dir) not in "".join(events) + "".join(errors)
    doc["applications"].pop()
    write_tenant(tenants_dir, "acme.yaml", doc)
    second, _ = load(reloader, snapshot)
    billing = second.tenant("acme").applications["billing"]  # type: ignore[union-attr]
    assert billing.client_secret.source == "file billing.secret"  # type: ignore[union-attr]


def test_an_event_naming_one_file_reads_only_that_file(tenants_dir: Path,
                                                      themes_dir: Path) -> None:
    """Flat reload cost: a load told which files an event named looks at those alone, and
    the snapshot it makes shares every other tenant with the previous one."""
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    write_tenant(tenants_dir, "globex.yaml", tenant_doc("https://id.example.com/globex"))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    replace_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER, display_name="Edited"))
    replace_tenant(tenants_dir, "globex.yaml",
                   tenant_doc("https://id.example.com/globex", display_name="Unseen"))
    snapshot, events = reloader.load(first, [str(tenants_dir / "acme.yaml")])
    assert snapshot is not None
    assert [(e.kind, e.source) for e in events] == [("changed", "acme.yaml")]
    assert snapshot.tenant("acme").display_name == "Edited"  # type: ignore[union-attr]
    assert snapshot.tenant("globex") is first.tenant("globex")
    assert snapshot.resolve("id.example.com", "/acme/token")[0].display_name == "Edited"  # type: ignore[index]
    later, _ = load(reloader, snapshot)  # a full rescan sees the other edit
    assert later.tenant("globex").display_name == "Unseen"  # type: ignore[union-attr]


def test_an_event_on_a_link_in_the_directory_rescans_everything(tenants_dir: Path,
                                                                themes_dir: Path) -> None:
    """A ConfigMap swap names only ``..data``: every tenant file behind it is looked at."""
    _configmap(tenants_dir)
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    _swap_configmap(tenants_dir)
    second, _ = reloader.load(first, [str(tenants_dir / "..data"),
                                      str(tenants_dir / "..2026_01")])
    assert second is not None
    assert second.tenant("acme").display_name == "Swapped"  # type: ignore[union-attr]


def test_a_removed_file_named_by_an_event_is_no_longer_routed(tenants_dir: Path,
                                                             themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    first, _ = load(reloader, None)
    (tenants_dir / "acme.yaml").unlink()
    second, events = reloader.load(first, [str(tenants_dir / "acme.yaml")])
    assert second is not None and [e.kind for e in events] == ["removed"]
    assert second.resolve("id.example.com", "/acme/token") is None
    assert second.tenant("acme") is None and second.status("acme") is None


async def _served_after(tenants_dir: Path, themes_dir: Path, outside: Path,
                        full_rescan_seconds: float, wait: float) -> bool:
    """Whether a write through a hard link from outside the watched directory (which
    inotify never reports for the watched one) is served within ``wait`` seconds."""
    import asyncio
    import time

    from confidp.reload import watch

    write_tenant(tenants_dir, "acme.yaml", tenant_doc(ISSUER, display_name="Before"))
    reloader = Reloader(tenants_dir, themes_dir, settle=0)
    current: list[Snapshot] = [load(reloader, None)[0]]
    watching = asyncio.Event()

    def publish(snapshot: Snapshot | None, events: object, seconds: float) -> None:
        if snapshot is not None:
            current[0] = snapshot

    task = asyncio.create_task(watch(reloader, lambda: current[0], publish,
                                     on_watching=watching.set,
                                     full_rescan_seconds=full_rescan_seconds))
    try:
        await asyncio.wait_for(watching.wait(), 10)
        link = outside / "acme.yaml"
        link.unlink(missing_ok=True)
        os.link(tenants_dir / "acme.yaml", link)
        link.write_bytes(dump(tenant_doc(ISSUER, display_name="After")))  # same inode
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if current[0].tenant("acme").display_name == "After":  # type: ignore[union-attr]
                return True
            await asyncio.sleep(0.05)
        return False
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_periodic_full_rescan_serves_a_change_no_event_announced(
        tenants_dir: Path, themes_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # the premise: inotify does not report the write to the watched directory
    assert not await _served_after(tenants_dir, themes_dir, outside, 3600, wait=1.5)
    assert await _served_after(tenants_dir, themes_dir, outside, 0.3, wait=10)
