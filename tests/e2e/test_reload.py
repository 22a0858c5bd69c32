"""Hot reload against the real server: edit, add, delete, invalid edit, rename-over, ConfigMap
and git-sync symlink swaps, theme changes, and polling mode. Served state is observed over HTTP
(``/status/<tenant>`` and routing), never by looking inside the process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import (
    ALICE_HASH,
    Server,
    dump,
    free_port,
    replace_tenant,
    running_server,
    sha,
    tenant_doc,
    wait_until,
    write_tenant,
)

pytestmark = pytest.mark.e2e


def served_hash(server: Server, name: str) -> str | None:
    return server.status(name).get("content_hash")


def test_in_place_edit_is_served(server: Server, tenants_dir: Path, issuer: str) -> None:
    doc = tenant_doc(issuer, display_name="Edited in place")
    data = write_tenant(tenants_dir, "acme.yaml", doc)
    wait_until(lambda: served_hash(server, "acme") == sha(data), timeout=2)
    wait_until(lambda: "tenant acme (acme.yaml) changed: display_name changed" in server.log())


def test_rename_over_is_served(server: Server, tenants_dir: Path, issuer: str) -> None:
    doc = tenant_doc(issuer)
    doc["applications"][0]["redirect_uris"].append("https://portal.example.com/other")
    data = replace_tenant(tenants_dir, "acme.yaml", doc)
    wait_until(lambda: served_hash(server, "acme") == sha(data), timeout=2)
    wait_until(lambda: "redirect URIs of portal-spa +https://portal.example.com/other"
               in server.log())


def test_add_and_delete(server: Server, tenants_dir: Path, port: int) -> None:
    globex = f"http://127.0.0.1:{port}/globex"
    json_accept = {"Accept": "application/json"}
    assert "issuers" in server.get("/globex/x", headers=json_accept).json()
    write_tenant(tenants_dir, "globex.yaml", tenant_doc(globex))
    wait_until(lambda: server.status("globex").get("serving"), timeout=2)
    assert "has no endpoint /x" in server.get("/globex/x", headers=json_accept).text
    (tenants_dir / "globex.yaml").unlink()
    wait_until(lambda: server.ops_get("/status/globex").status_code == 404, timeout=2)
    body = server.get("/globex/x", headers=json_accept).json()
    assert globex not in body["issuers"]
    wait_until(lambda: "tenant globex (globex.yaml) removed" in server.log())


def test_invalid_edit_keeps_serving_and_status_shows_error(server: Server, tenants_dir: Path,
                                                           issuer: str) -> None:
    good = (tenants_dir / "acme.yaml").read_bytes()
    bad = write_tenant(tenants_dir, "acme.yaml", dump(tenant_doc(issuer)) + b"colour: red\n")
    status = wait_until(lambda: (s := server.status("acme")).get("errors") and s, timeout=2)
    assert status["serving"] is True
    assert status["content_hash"] == sha(good)
    assert status["rejected_hash"] == sha(bad)
    [error] = status["errors"]
    assert error.endswith("acme.yaml:18:1: $.colour: unknown key 'colour'; allowed keys: "
                          "applications, connectors, display_name, issuer, languages, "
                          "lifetimes, links, login_throttle, messages, scopes, second_factors, "
                          "theme, users")
    assert status["error_details"][0]["line"] == 18
    assert server.ops_get("/status").json()["failing"] == 1
    # the tenant is still routed
    assert "has no endpoint" in server.get("/acme/x", headers={"Accept": "application/json"}
                                           ).json()["error_description"]
    log = wait_until(lambda: "rejected: still serving the version loaded at" in server.log()
                     and server.log())
    assert "acme.yaml:18:1: $.colour" in log
    assert 'confidp_tenant_reloads_total{outcome="rejected"} 1.0' in server.ops_get("/metrics").text
    fixed = write_tenant(tenants_dir, "acme.yaml", tenant_doc(issuer, display_name="Fixed"))
    wait_until(lambda: server.status("acme").get("content_hash") == sha(fixed), timeout=2)
    assert server.status("acme")["errors"] == []


def test_first_version_invalid_is_not_served(server: Server, tenants_dir: Path,
                                             port: int) -> None:
    write_tenant(tenants_dir, "globex.yaml", b"issuer: http://127.0.0.1:1/globex\n")
    status = wait_until(lambda: (s := server.status("globex")).get("errors") and s, timeout=2)
    assert status["serving"] is False
    assert "missing required key 'display_name'" in status["errors"][0]


def test_configmap_symlink_swap(tmp_path: Path, themes_dir: Path) -> None:
    """A Kubernetes ConfigMap volume: acme.yaml -> ..data/acme.yaml, and an update swaps the
    ..data symlink to a new timestamped directory by rename."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/acme"
    mount = tmp_path / "configmap"
    (mount / "..2026_11_21_1").mkdir(parents=True)
    write_tenant(mount / "..2026_11_21_1", "acme.yaml", tenant_doc(issuer))
    os.symlink("..2026_11_21_1", mount / "..data")
    os.symlink("..data/acme.yaml", mount / "acme.yaml")
    with running_server(mount, themes_dir, tmp_path / "state", port) as server:
        assert server.status("acme")["serving"]
        (mount / "..2026_11_21_2").mkdir()
        data = write_tenant(mount / "..2026_11_21_2", "acme.yaml",
                            tenant_doc(issuer, display_name="From the new ConfigMap"))
        os.symlink("..2026_11_21_2", mount / "..data_tmp")
        os.replace(mount / "..data_tmp", mount / "..data")
        shutil.rmtree(mount / "..2026_11_21_1")
        wait_until(lambda: served_hash(server, "acme") == sha(data), timeout=2)


def test_git_sync_directory_symlink_swap(tmp_path: Path, themes_dir: Path) -> None:
    """git-sync: the served directory is reached through a link that is swapped to a new
    worktree; the tenant file path never changes."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/acme"
    root = tmp_path / "git"
    (root / "rev1" / "tenants").mkdir(parents=True)
    write_tenant(root / "rev1" / "tenants", "acme.yaml", tenant_doc(issuer))
    os.symlink("rev1", root / "current")
    with running_server(root / "current" / "tenants", themes_dir, tmp_path / "state",
                        port) as server:
        assert server.status("acme")["serving"]
        (root / "rev2" / "tenants").mkdir(parents=True)
        data = write_tenant(root / "rev2" / "tenants", "acme.yaml",
                            tenant_doc(issuer, display_name="rev2"))
        write_tenant(root / "rev2" / "tenants", "globex.yaml",
                     tenant_doc(f"http://127.0.0.1:{port}/globex"))
        os.symlink("rev2", root / "current.tmp")
        os.replace(root / "current.tmp", root / "current")
        shutil.rmtree(root / "rev1")
        wait_until(lambda: served_hash(server, "acme") == sha(data), timeout=2)
        wait_until(lambda: server.status("globex").get("serving"), timeout=2)


def test_polling_mode(tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/acme"
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(issuer))
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port,
                        ("--reload-poll",)) as server:
        data = write_tenant(tenants_dir, "acme.yaml", tenant_doc(issuer, display_name="Polled"))
        wait_until(lambda: served_hash(server, "acme") == sha(data), timeout=3)
        assert "polling " in server.log()


def test_theme_removed_then_restored(server: Server, tenants_dir: Path, themes_dir: Path,
                                     issuer: str) -> None:
    data = write_tenant(tenants_dir, "acme.yaml", tenant_doc(issuer, theme={"name": "midnight"}))
    wait_until(lambda: served_hash(server, "acme") == sha(data), timeout=2)
    shutil.move(themes_dir / "midnight", themes_dir.parent / "midnight.bak")
    status = wait_until(lambda: (s := server.status("acme")).get("errors") and s, timeout=2)
    assert status["serving"] is True
    assert "theme 'midnight' does not exist" in status["errors"][0]
    shutil.move(themes_dir.parent / "midnight.bak", themes_dir / "midnight")
    wait_until(lambda: server.status("acme").get("errors") == [], timeout=2)


def test_many_quick_edits_end_on_the_last(server: Server, tenants_dir: Path,
                                          issuer: str) -> None:
    data = b""
    for index in range(20):
        data = write_tenant(tenants_dir, "acme.yaml",
                            tenant_doc(issuer, display_name=f"Edit {index}"))
    wait_until(lambda: served_hash(server, "acme") == sha(data), timeout=2)


NESTED_TOO_DEEP = ("lists and mappings nest more than 64 levels deep here (a tenant file needs "
                   "no more than 5): look for a '[' or '{' that is never closed, or for "
                   "indentation that keeps growing")
DEEP_EDITS = [  # the 60 KB files, and where the 65th level starts
    ("a: " + "[" * 30_000 + "]" * 30_000 + "\n", "1:67"),
    ("a: " + "{a: " * 15_000 + "\n", "1:256"),
    ("a:\n  " + "- " * 30_000 + "x\n", "2:129"),
]


def test_deep_nesting_is_an_invalid_edit_not_a_crash(server: Server, tenants_dir: Path,
                                                     issuer: str) -> None:
    """PyYAML would recurse on these until the process dies of SIGSEGV, taking every tenant
    down. Each is rejected like any invalid edit; the last good version keeps serving."""
    good = (tenants_dir / "acme.yaml").read_bytes()
    for text, where in DEEP_EDITS:
        bad = write_tenant(tenants_dir, "acme.yaml", text.encode())
        status = wait_until(lambda b=bad: (s := server.status("acme")).get("rejected_hash")
                            == sha(b) and s, timeout=3)
        assert server.process.poll() is None, server.log()
        assert status["serving"] is True and status["content_hash"] == sha(good)
        assert status["errors"] == [f"acme.yaml:{where}: $: {NESTED_TOO_DEEP}"]
        assert "has no endpoint" in server.get("/acme/x", headers={
            "Accept": "application/json"}).json()["error_description"]
    fixed = write_tenant(tenants_dir, "acme.yaml", tenant_doc(issuer, display_name="Fixed"))
    wait_until(lambda: server.status("acme").get("content_hash") == sha(fixed), timeout=3)


def test_a_deep_file_present_at_start_does_not_stop_the_server(tmp_path: Path,
                                                               tenants_dir: Path,
                                                               themes_dir: Path) -> None:
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    write_tenant(tenants_dir, "deep.yaml", DEEP_EDITS[0][0].encode())
    with running_server(tenants_dir, themes_dir, tmp_path / "state", port) as server:
        assert server.status("acme")["serving"] is True
        assert server.status("deep")["errors"] == [f"deep.yaml:1:67: $: {NESTED_TOO_DEEP}"]


SPECIAL_FILES = {
    "pipe.yaml": "is a named pipe (FIFO), not a regular file: it is not read",
    "zero.yaml": "is a device, not a regular file: it is not read",
    "loop.yaml": "is a symbolic link that loops (it leads back to itself): it is not read",
    "dangling.yaml": "is a symbolic link to a file that does not exist",
    "folder.yaml": "is a directory, not a tenant file; rename it or move it out of the "
                   "directory",
}


def test_special_files_are_reported_once_and_never_block(server: Server, tenants_dir: Path,
                                                         issuer: str) -> None:
    os.mkfifo(tenants_dir / "pipe.yaml")
    os.symlink("/dev/zero", tenants_dir / "zero.yaml")
    os.symlink("loop.yaml", tenants_dir / "loop.yaml")
    os.symlink("nowhere.yaml", tenants_dir / "dangling.yaml")
    (tenants_dir / "folder.yaml").mkdir()
    for name, problem in SPECIAL_FILES.items():
        status = wait_until(lambda n=name: server.status(n), timeout=3)
        assert status["serving"] is False
        assert status["errors"] == [f"{name}:1:1: $: the file {problem}"]
    # the watcher is not stuck on any of them: later edits are served, and nothing is said twice
    for index in range(3):
        data = write_tenant(tenants_dir, "acme.yaml",
                            tenant_doc(issuer, display_name=f"Edit {index}"))
        wait_until(lambda d=data: served_hash(server, "acme") == sha(d), timeout=3)
    log = server.log()
    for name, problem in SPECIAL_FILES.items():
        assert log.count(f"tenant {name.removesuffix('.yaml')} ({name}) rejected:") == 1, log
        assert f"{name}:1:1: $: the file {problem}" in log
    assert server.ops_get("/status").json()["failing"] == len(SPECIAL_FILES)


PLAINTEXT = "correct-horse-battery-staple"


def test_a_plaintext_password_is_never_printed(server: Server, tenants_dir: Path,
                                               issuer: str) -> None:
    doc = tenant_doc(issuer)
    doc["users"].append({"username": "bob", "password_hash": PLAINTEXT})
    bad = write_tenant(tenants_dir, "acme.yaml", doc)
    status = wait_until(lambda: (s := server.status("acme")).get("rejected_hash") == sha(bad)
                        and s, timeout=3)
    assert status["errors"] == [
        "acme.yaml:19:18: $.users[1].password_hash: this looks like a plaintext password: "
        "store `confidp hash-password`'s output instead"]
    wait_until(lambda: "this looks like a plaintext password" in server.log())
    assert PLAINTEXT not in server.log()
    assert PLAINTEXT not in server.ops_get("/status").text
    assert PLAINTEXT not in server.ops_get("/status/acme").text


def test_a_localhost_redirect_uri_is_served_with_a_warning_and_cors(
        server: Server, tenants_dir: Path, issuer: str) -> None:
    """The usual single-page application dev server (RFC 8252 §8.3 says NOT RECOMMENDED, not
    forbidden): served, with a warning in the log and /status, and its origin, and only its
    origin, allowed by CORS."""
    doc = tenant_doc(issuer)
    doc["applications"][0]["redirect_uris"].append("http://localhost:5173/callback")
    data = write_tenant(tenants_dir, "acme.yaml", doc)
    wait_until(lambda: served_hash(server, "acme") == sha(data), timeout=3)
    [warning] = server.status("acme")["warnings"]
    assert warning.startswith("acme.yaml:11:5: $.applications[0].redirect_uris[2]: warning: "
                              "'http://localhost:5173/callback' uses the name localhost")
    wait_until(lambda: f"WARNING confidp.reload: tenant acme (acme.yaml): {warning}"
               in server.log())
    assert server.status("acme")["errors"] == []

    def allowed(origin: str) -> str | None:
        response = server.client.options("/acme/token", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"})
        assert response.status_code == 204
        return response.headers.get("access-control-allow-origin")

    assert allowed("http://localhost:5173") == "http://localhost:5173"
    assert allowed("http://localhost:5174") is None  # another port is another origin
    assert allowed("http://127.0.0.1:5173") is None  # another host, though the same machine
    assert allowed("http://LOCALHOST:5173") is None  # not what a browser sends
    assert allowed("http://127.0.0.1:9999") == "http://127.0.0.1:9999"


def test_status_and_reload_log_show_no_absolute_paths(server: Server, tenants_dir: Path,
                                                      tmp_path: Path, issuer: str) -> None:
    write_tenant(tenants_dir, "acme.yaml", dump(tenant_doc(issuer)) + b"colour: red\n")
    wait_until(lambda: server.status("acme").get("errors"), timeout=3)
    write_tenant(tenants_dir, "globex.yaml", b"issuer: x\n")
    wait_until(lambda: server.status("globex").get("errors"), timeout=3)
    body = server.ops_get("/status").text
    assert "acme.yaml:18:1: $.colour" in body
    assert str(tmp_path) not in body
    log_lines = server.log().splitlines()
    assert any("confidp.reload" in line and "rejected" in line for line in log_lines)
    assert not [line for line in log_lines if str(tmp_path) in line]


SLOW_WRITER = """\
import sys, time
path, pause = sys.argv[1], float(sys.argv[2])
chunks = sys.stdin.buffer.read().split(b"\\0")
with open(path, "wb") as handle:  # in place: truncate, then write piece by piece
    for chunk in chunks:
        handle.write(chunk)
        handle.flush()
        time.sleep(pause)
"""


def test_a_slow_in_place_writer_is_never_read_half_way(server: Server, tenants_dir: Path,
                                                       issuer: str) -> None:
    """A writer that truncates the file and writes it back in pieces, pausing between them
    (each piece ends where the file is still valid YAML: dropping the users after alice's
    username was served before). The server serves the old version until the new one is
    complete: alice never loses her name, groups or claims, and no user disappears."""
    users = [{"username": "alice", "password_hash": ALICE_HASH, "name": "Alice Liddell",
              "groups": ["admins"], "claims": {"customer_number": "C-1042"}},
             {"username": "bob", "password_hash": ALICE_HASH, "name": "Bob"},
             {"username": "carol", "password_hash": ALICE_HASH, "name": "Carol"}]
    old = write_tenant(tenants_dir, "acme.yaml", tenant_doc(issuer, users=users))
    wait_until(lambda: served_hash(server, "acme") == sha(old), timeout=3)
    new = dump(tenant_doc(issuer, users=users, display_name="Rewritten slowly"))
    lines = new.splitlines(keepends=True)
    cuts = [i for i, line in enumerate(lines) if line.startswith((
        b"- username", b"  name:", b"  groups:", b"applications"))]
    pieces = [b"".join(lines[start:end])
              for start, end in zip([0, *cuts], [*cuts, len(lines)], strict=True)]
    writer = subprocess.Popen([sys.executable, "-c", SLOW_WRITER,
                               str(tenants_dir / "acme.yaml"), "0.04"], stdin=subprocess.PIPE)
    writer.stdin.write(b"\0".join(pieces))  # type: ignore[union-attr]
    writer.stdin.close()  # type: ignore[union-attr]
    seen: list[tuple[str | None, int]] = []
    while writer.poll() is None:
        status = server.status("acme")
        seen.append((status.get("content_hash"), status.get("users", 0)))
    assert writer.returncode == 0 and len(pieces) >= 8
    wait_until(lambda: served_hash(server, "acme") == sha(new), timeout=3)
    assert {hash_ for hash_, _ in seen} <= {sha(old), sha(new)}
    assert {count for _, count in seen} == {3}
    log = server.log()
    assert "users removed" not in log and "rejected" not in log, log
    assert log.count("tenant acme (acme.yaml) changed:") == 2  # the old version, then the new
