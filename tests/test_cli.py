"""The confidp command as a user runs it: a subprocess, exit codes and output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from argon2 import PasswordHasher

from tests.support import REPO, dump, tenant_doc


def confidp(*args: str, stdin: str | None = None, cwd: Path = REPO,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "confidp.cli", *args], input=stdin,
                          capture_output=True, text=True, cwd=cwd, timeout=60,
                          env={**os.environ, **(env or {})})


def test_check_the_examples() -> None:
    done = confidp("check", "tenants/")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
    assert "2 of 2 tenant file(s) valid" in done.stderr


def test_check_a_broken_copy_reports_file_line_and_exits_1(tmp_path: Path) -> None:
    shutil.copytree(REPO / "tenants", tmp_path / "tenants")
    acme = tmp_path / "tenants" / "acme.yaml"
    text = acme.read_text()
    window_line = text[: text.index("window: 15m")].count("\n") + 1
    redirect_line = text[: text.index("    redirect_uris:")].count("\n") + 1
    acme.write_text(text.replace("    redirect_uris:", "    redirect_uri:")
                    .replace("window: 15m", "window: 15 minutes"))
    done = confidp("check", str(tmp_path / "tenants"), "--themes", str(REPO / "themes"))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines == [
        f"{acme}:{window_line}:11: $.login_throttle.window: '15 minutes' is not valid here: "
        "A duration: a whole number followed by s, m, h or d.",
        f"{acme}:{redirect_line}:5: $.applications[0].redirect_uri: unknown key 'redirect_uri' "
        "(did you mean 'redirect_uris'?); allowed keys: client_id, client_secret, grant_types, "
        "id_token_signed_response_alg, name, post_logout_redirect_uris, redirect_uris, "
        "require_consent, scopes, token_endpoint_auth_method, type",
    ]
    assert "1 of 2 tenant file(s) valid, 2 error(s)" in done.stderr


def test_check_json_format(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_bytes(dump(tenant_doc("http://id.example.com")))
    done = confidp("check", "--format", "json", str(tmp_path / "acme.yaml"))
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["valid"] is False
    [file] = report["files"]
    assert file["tenant"] == "acme"
    assert file["errors"][0]["line"] == 2
    assert file["errors"][0]["path"] == "$.issuer"
    assert "must use https" in file["errors"][0]["message"]


def test_check_needs_files(tmp_path: Path) -> None:
    done = confidp("check", str(tmp_path))
    assert done.returncode == 2
    assert "no tenant files" in done.stderr
    assert confidp("check", str(tmp_path / "missing.yaml")).returncode == 2


def test_check_secrets_only_when_asked(tmp_path: Path) -> None:
    doc = tenant_doc("https://id.example.com", applications=[{
        "client_id": "api", "name": "API", "type": "confidential",
        "client_secret": {"env": "CONFIDP_TEST_UNSET_SECRET"},
        "grant_types": ["client_credentials"], "scopes": ["openid"]}])
    (tmp_path / "acme.yaml").write_bytes(dump(doc))
    assert confidp("check", str(tmp_path)).returncode == 0
    done = confidp("check", "--resolve-secrets", str(tmp_path))
    assert done.returncode == 1
    assert "CONFIDP_TEST_UNSET_SECRET is not set" in done.stdout
    ok = confidp("check", "--resolve-secrets", str(tmp_path),
                 env={"CONFIDP_TEST_UNSET_SECRET": "value"})
    assert ok.returncode == 0


def test_hash_password_from_stdin() -> None:
    done = confidp("hash-password", stdin="correct horse\n")
    assert done.returncode == 0
    hashed = done.stdout.strip()
    assert hashed.startswith("$argon2id$v=19$")
    assert PasswordHasher().verify(hashed, "correct horse")
    assert confidp("hash-password", stdin="\n").returncode == 1


def test_schema_prints_the_schema() -> None:
    done = confidp("schema")
    assert done.returncode == 0
    assert json.loads(done.stdout) == json.loads(
        (REPO / "schema" / "tenant.schema.json").read_text())


def test_usage_errors_exit_2() -> None:
    assert confidp("frobnicate").returncode == 2
    assert confidp("check").returncode == 2


def test_serve_refuses_a_damaged_sealing_key(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "sealing.key").write_bytes(b"not a key")
    done = confidp("serve", "--tenants", str(REPO / "tenants"), "--themes",
                   str(REPO / "themes"), "--state-dir", str(state), "--port", "1")
    assert done.returncode == 2
    assert "sealing.key is not a sealing key file (9 bytes" in done.stderr
    assert "remove it" in done.stderr


def test_sealing_key_list_and_rotate(tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    [first] = confidp("sealing-key", "list", *state).stdout.splitlines()  # made on first use
    assert first.endswith(" seals")
    rotated = confidp("sealing-key", "rotate", *state).stdout.splitlines()
    assert rotated[1] == first.replace(" seals", " opens only")
    assert rotated[0].endswith(" seals") and rotated[0] != first
    assert confidp("sealing-key", "list", *state).stdout.splitlines() == rotated
    again = confidp("sealing-key", "rotate", *state).stdout.splitlines()
    assert again[1] == rotated[0].replace(" seals", " opens only")  # the first key is gone
    assert len((tmp_path / "state" / "sealing.key").read_bytes()) == 64
    (tmp_path / "state" / "sealing.key").write_bytes(b"x")
    damaged = confidp("sealing-key", "rotate", *state)
    assert damaged.returncode == 2 and "remove it" in damaged.stderr
    assert (tmp_path / "state" / "sealing.key").read_bytes() == b"x"


DEEP_FILES = {
    "flow-lists.yaml": "a: " + "[" * 30_000 + "]" * 30_000 + "\n",
    "flow-mappings.yaml": "a: " + "{a: " * 15_000 + "\n",
    "compact-lists.yaml": "a:\n  " + "- " * 30_000 + "x\n",
}


def test_check_refuses_deep_nesting_instead_of_crashing(tmp_path: Path) -> None:
    """The issue's 60 KB files: PyYAML would recurse until the C stack overflows (exit -11 or
    139). Each is an ordinary error instead, at the first level past the limit."""
    for name, text in DEEP_FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "acme.yaml").write_bytes(dump(tenant_doc("https://id.example.com")))
    done = confidp("check", str(tmp_path))
    assert done.returncode == 1, done.stderr
    message = ("$: lists and mappings nest more than 64 levels deep here (a tenant file needs "
               "no more than 5): look for a '[' or '{' that is never closed, or for indentation "
               "that keeps growing")
    assert done.stdout.splitlines() == [
        f"{tmp_path / 'compact-lists.yaml'}:2:129: {message}",
        f"{tmp_path / 'flow-lists.yaml'}:1:67: {message}",
        f"{tmp_path / 'flow-mappings.yaml'}:1:256: {message}",
    ]
    assert "1 of 4 tenant file(s) valid, 3 error(s)" in done.stderr


PLAINTEXT = "correct-horse-battery-staple"


def test_check_never_prints_a_plaintext_password(tmp_path: Path) -> None:
    doc = tenant_doc("https://id.example.com", users=[
        {"username": "alice", "password_hash": PLAINTEXT}],
        applications=[{"client_id": "billing", "name": "Billing", "type": "confidential",
                       "client_secret": f"{PLAINTEXT}-2", "grant_types": ["client_credentials"],
                       "scopes": ["openid"]}])
    (tmp_path / "acme.yaml").write_bytes(dump(doc))
    text = confidp("check", str(tmp_path / "acme.yaml"))
    as_json = confidp("check", "--format", "json", str(tmp_path / "acme.yaml"))
    for done in (text, as_json):
        assert done.returncode == 1
        assert PLAINTEXT not in done.stdout + done.stderr
    assert text.stdout.splitlines() == [
        f"{tmp_path / 'acme.yaml'}:8:18: $.applications[0].client_secret: this looks like a "
        "plaintext secret, which a tenant file never holds: give one of {hash: …}, {env: …} "
        "or {file: …} instead, e.g. {hash: <the output of `confidp hash-password`>} (the value "
        "is not shown)",
        f"{tmp_path / 'acme.yaml'}:15:18: $.users[0].password_hash: this looks like a plaintext "
        "password: store `confidp hash-password`'s output instead",
    ]
    errors = json.loads(as_json.stdout)["files"][0]["errors"]
    assert [error["message"] for error in errors][1] == (
        "this looks like a plaintext password: store `confidp hash-password`'s output instead")


def test_check_prints_warnings_and_passes(tmp_path: Path) -> None:
    """A localhost redirect URI (RFC 8252 §8.3: NOT RECOMMENDED) is accepted with a warning:
    printed like an error with "warning:", counted, and the check still passes."""
    doc = tenant_doc("https://id.example.com")
    doc["applications"][0]["redirect_uris"].append("http://localhost:5173/callback")
    (tmp_path / "acme.yaml").write_bytes(dump(doc))
    done = confidp("check", str(tmp_path))
    assert done.returncode == 0, done.stdout
    [line] = done.stdout.splitlines()
    assert line.startswith(f"{tmp_path / 'acme.yaml'}:11:5: $.applications[0].redirect_uris[2]:"
                           " warning: 'http://localhost:5173/callback' uses the name localhost")
    assert "1 of 1 tenant file(s) valid, 1 warning(s)" in done.stderr
    report = json.loads(confidp("check", "--format", "json", str(tmp_path)).stdout)
    assert report["valid"] is True
    [file] = report["files"]
    assert file["valid"] is True and file["errors"] == []
    [warning] = file["warnings"]
    assert (warning["line"], warning["col"], warning["severity"]) == (11, 5, "warning")
    assert warning["path"] == "$.applications[0].redirect_uris[2]"


def test_check_reports_names_that_are_not_regular_files(tmp_path: Path) -> None:
    """A pipe must not hang the check, /dev/zero must not fill memory, and nothing is skipped
    without a word."""
    import os

    (tmp_path / "acme.yaml").write_bytes(dump(tenant_doc("https://id.example.com")))
    os.mkfifo(tmp_path / "pipe.yaml")
    os.symlink("/dev/zero", tmp_path / "zero.yaml")
    os.symlink("loop.yaml", tmp_path / "loop.yaml")
    os.symlink("nowhere.yaml", tmp_path / "dangling.yaml")
    (tmp_path / "folder.yaml").mkdir()
    done = confidp("check", str(tmp_path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{tmp_path / 'dangling.yaml'}:1:1: $: the file is a symbolic link to a file that does "
        "not exist",
        f"{tmp_path / 'folder.yaml'}:1:1: $: the file is a directory, not a tenant file; rename "
        "it or move it out of the directory",
        f"{tmp_path / 'loop.yaml'}:1:1: $: the file is a symbolic link that loops (it leads "
        "back to itself): it is not read",
        f"{tmp_path / 'pipe.yaml'}:1:1: $: the file is a named pipe (FIFO), not a regular file: "
        "it is not read",
        f"{tmp_path / 'zero.yaml'}:1:1: $: the file is a device, not a regular file: it is not "
        "read",
    ]
    assert "1 of 6 tenant file(s) valid, 5 error(s)" in done.stderr
