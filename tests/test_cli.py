"""The confidp command as a user runs it: a subprocess, exit codes and output."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from confidp.password_policy import MAX_LENGTH
from confidp.web.signin.password import MAX_PASSWORD
from tests.support import REPO, dump, tenant_doc, write_tenant


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
        "(did you mean 'redirect_uris'?); allowed keys: access_token_format, "
        "access_token_signing_alg, client_id, client_secret, client_uri, connectors, "
        "grant_types, id_token_signed_response_alg, initiate_login_uri, logo_uri, name, "
        "policy_uri, post_logout_redirect_uris, redirect_uris, require_consent, require_pkce, "
        "scopes, second_factor, token_endpoint_auth_method, tos_uri, type",
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
    done = confidp("hash-password", stdin="correct horse battery\n")
    assert done.returncode == 0
    assert done.stderr == ""
    hashed = done.stdout.strip()
    assert hashed.startswith("$argon2id$v=19$")
    assert PasswordHasher().verify(hashed, "correct horse battery")
    assert confidp("hash-password", stdin="\n").returncode == 1


@pytest.mark.parametrize(("stdin", "message"), [
    ("", "confidp: no password given: standard input is empty\n"),
    ("\n", "confidp: the password is empty\n"),
    ("x\n", "confidp: the password is 1 character(s) long; use at least 8 (NIST SP "
     "800-63B), better 15 or more\n"),
    ("1234567\n", "confidp: the password is 7 character(s) long; use at least 8 (NIST SP "
     "800-63B), better 15 or more\n"),
    ("x" * 1025 + "\n", "confidp: the password is longer than 1024 characters, the most the "
     "login form accepts\n"),
    ("y" * 5000, "confidp: the password is longer than 1024 characters, the most the login "
     "form accepts\n"),
])
def test_hash_password_refuses_in_one_line(stdin: str, message: str) -> None:
    done = confidp("hash-password", stdin=stdin)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", message)


def test_hash_password_refuses_invalid_utf8() -> None:
    done = subprocess.run([sys.executable, "-m", "confidp.cli", "hash-password"],
                          input=b"\xff\xfepassword\n", capture_output=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, b"")
    assert done.stderr == b"confidp: the password is not valid UTF-8\n"


def test_hash_password_limits_are_what_login_accepts() -> None:
    assert MAX_LENGTH == MAX_PASSWORD
    longest = "é" * MAX_LENGTH  # counted in characters, not bytes
    done = confidp("hash-password", stdin=longest + "\n")
    assert done.returncode == 0, done.stderr
    assert PasswordHasher().verify(done.stdout.strip(), longest)


def test_hash_password_warns_below_15_characters_but_hashes() -> None:
    done = confidp("hash-password", stdin="eight ch\n")
    assert done.returncode == 0
    assert PasswordHasher().verify(done.stdout.strip(), "eight ch")
    assert done.stderr == ("confidp: warning: the password has fewer than 15 characters: NIST "
                           "SP 800-63B-4 asks for at least 15 when the password is the only "
                           "factor\n")


# SIGINT back to its default first: a test runner's worker may ignore it (pytest-xdist's
# do), and an ignored signal stays ignored across exec, so Ctrl-C would do nothing
_ON_TERMINAL = ("import fcntl, os, signal, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                "signal.signal(signal.SIGINT, signal.SIG_DFL); "
                "os.execv(sys.executable, [sys.executable, '-m', 'confidp.cli', *sys.argv[1:]])")


def on_terminal(args: list[str], steps: list[tuple[bytes, bytes]]) -> tuple[int, str]:
    """Run confidp on a pseudo-terminal (its controlling terminal): for each (prompt, keys),
    wait for the prompt, then type the keys. Returns the exit code and what the terminal
    showed."""
    fd, terminal = pty.openpty()
    # A new session whose controlling terminal is the pseudo-terminal, then confidp itself.
    process = subprocess.Popen(
        [sys.executable, "-c", _ON_TERMINAL, *args], stdin=terminal, stdout=terminal,
        stderr=terminal, start_new_session=True, cwd=REPO)
    os.close(terminal)
    shown = b""
    seen = 0
    deadline = time.monotonic() + 60

    def read_until(marker: bytes | None) -> None:
        nonlocal shown, seen
        while marker is None or shown.find(marker, seen) < 0:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"the terminal waited for {marker!r}; it shows {shown!r}")
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                if marker is None:
                    return
                raise AssertionError(f"confidp exited before {marker!r}; it showed {shown!r}")
            shown += chunk
        seen = shown.find(marker, seen) + len(marker)

    try:
        for prompt, keys in steps:
            read_until(prompt)
            os.write(fd, keys)
        read_until(None)
    finally:
        try:
            code = process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            os.close(fd)
    return code, shown.decode(errors="replace")


def test_hash_password_on_a_terminal_asks_twice_without_echo() -> None:
    code, shown = on_terminal(["hash-password"], [(b"Password: ", b"a long passphrase\r"),
                                                  (b"Again: ", b"a long passphrase\r")])
    assert code == 0, shown
    assert "a long passphrase" not in shown  # typed without echo
    hashed = shown.split("Again: ")[1].strip()
    assert PasswordHasher().verify(hashed, "a long passphrase")


def test_hash_password_on_a_terminal_refuses_a_mismatch() -> None:
    code, shown = on_terminal(["hash-password"], [(b"Password: ", b"a long passphrase\r"),
                                                  (b"Again: ", b"another passphrase\r")])
    assert code == 1
    assert "confidp: the two passwords differ; nothing was hashed" in shown
    assert "$argon2" not in shown


def test_hash_password_on_a_terminal_refuses_a_short_one_before_asking_again() -> None:
    code, shown = on_terminal(["hash-password"], [(b"Password: ", b"short\r")])
    assert code == 1
    assert "the password is 5 character(s) long" in shown
    assert "Again:" not in shown


def test_hash_password_end_of_input_on_a_terminal_is_one_line() -> None:
    code, shown = on_terminal(["hash-password"], [(b"Password: ", b"\x04")])  # Ctrl-D
    assert code == 1
    assert "Traceback" not in shown
    assert shown.strip().splitlines()[-1] == \
        "confidp: no password given (end of input); nothing was hashed"


def test_hash_password_ctrl_c_on_a_terminal_is_one_line() -> None:
    code, shown = on_terminal(["hash-password"], [(b"Password: ", b"\x03")])  # Ctrl-C
    assert code == 130
    assert "Traceback" not in shown
    assert shown.strip().splitlines()[-1] == "confidp: cancelled; nothing was hashed"
    code, shown = on_terminal(["hash-password"], [(b"Password: ", b"a long passphrase\r"),
                                                  (b"Again: ", b"\x03")])
    assert (code, "Traceback" in shown) == (130, False)


def test_version_is_the_installed_distributions() -> None:
    done = confidp("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"confidp {version('confidp')}\n",
                                                           "")


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


@pytest.fixture
def key_dirs(tmp_path: Path) -> tuple[Path, Path]:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    write_tenant(tenants, "acme.yaml", tenant_doc("https://id.example.com/acme"))
    write_tenant(tenants, "globex.yml", tenant_doc("https://id.example.com/globex"))
    return tenants, tmp_path / "state"


@pytest.mark.parametrize("action", ["list", "rotate", "retire"])
def test_keys_of_an_unknown_tenant_are_an_error_and_create_nothing(
        key_dirs: tuple[Path, Path], action: str) -> None:
    tenants, state = key_dirs
    done = confidp("keys", action, "nosuch", "--tenants", str(tenants), "--state-dir", str(state))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"confidp: no tenant 'nosuch' in {tenants} (no nosuch.yaml); "
                           "tenants there: acme, globex\n")
    assert not state.exists()


def test_keys_list_only_reads(key_dirs: tuple[Path, Path]) -> None:
    tenants, state = key_dirs
    done = confidp("keys", "list", "acme", "--tenants", str(tenants), "--state-dir", str(state))
    assert (done.returncode, done.stdout) == (0, "")
    assert "no keys yet for acme" in done.stderr
    assert not state.exists()


def test_keys_rotate_list_retire(key_dirs: tuple[Path, Path]) -> None:
    tenants, state = key_dirs
    env = {"CONFIDP_TENANTS": str(tenants), "CONFIDP_STATE_DIR": str(state)}
    retired = confidp("keys", "retire", "globex", env=env)  # a known tenant, no keys yet
    assert retired.returncode == 0, retired.stderr
    assert "nothing to retire" in retired.stderr and "Traceback" not in retired.stderr
    first = confidp("keys", "rotate", "globex", env=env)
    assert first.returncode == 0, first.stderr
    waiting = [line.split()[1] for line in first.stdout.splitlines() if line.startswith("added")]
    listed = confidp("keys", "list", "globex", env=env).stdout.splitlines()
    # published at once, signing 5 minutes later (relying parties may cache the JWKS so long)
    assert sorted(line.split()[1] for line in listed if " published, signs from 20" in line) \
        == sorted(waiting)
    assert len([line for line in listed if line.endswith(" signs")]) == 2
    second = confidp("keys", "rotate", "globex", "--sign-after", "0s", env=env)
    added = [line.split()[1] for line in second.stdout.splitlines() if line.startswith("added")]
    listed = confidp("keys", "list", "globex", env=env).stdout.splitlines()
    assert len(listed) == 6
    assert {line.split()[1] for line in listed if line.endswith(" signs")} == set(added)
    done = confidp("keys", "retire", "globex", env=env)
    assert done.returncode == 0
    assert len([line for line in done.stdout.splitlines() if line.startswith("retired")]) == 4
    assert confidp("keys", "list", "globex", env=env).stdout.splitlines() == \
        [line for line in listed if line.endswith(" signs")]


def test_keys_rotate_refuses_a_bad_delay(key_dirs: tuple[Path, Path]) -> None:
    tenants, state = key_dirs
    done = confidp("keys", "rotate", "acme", "--sign-after", "5 minutes", "--tenants",
                   str(tenants), "--state-dir", str(state))
    assert done.returncode == 2
    assert "argument --sign-after: '5 minutes' is not a duration" in done.stderr
    assert not state.exists()


def test_keys_need_the_tenants_directory(tmp_path: Path) -> None:
    done = confidp("keys", "list", "acme", "--state-dir", str(tmp_path / "state"),
                   cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("confidp: the tenants directory tenants does not exist; pass "
                           "--tenants DIR or set CONFIDP_TENANTS\n")
    assert not (tmp_path / "state").exists()


def test_keys_refuse_a_name_that_is_not_a_tenant_id(key_dirs: tuple[Path, Path]) -> None:
    tenants, state = key_dirs
    done = confidp("keys", "rotate", "../acme", "--tenants", str(tenants),
                   "--state-dir", str(state))
    assert (done.returncode, done.stderr) == (2, "confidp: '../acme' is not a tenant id\n")
    assert not state.exists()


def test_serve_refuses_a_themes_directory_that_does_not_exist(tmp_path: Path) -> None:
    done = confidp("serve", "--tenants", str(REPO / "tenants"), "--themes",
                   str(tmp_path / "nope"), "--state-dir", str(tmp_path / "state"), "--port", "1")
    assert done.returncode == 2
    assert done.stderr == (f"confidp: the themes directory {tmp_path / 'nope'} does not exist "
                           "(leave --themes and CONFIDP_THEMES unset to use only the built-in "
                           "default theme)\n")


def test_state_init_makes_every_key_once(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    for name in ("acme.yaml", "globex.yml", ".hidden.yaml", "notes.txt"):
        (tenants / name).write_text("issuer: x\n")
    state = tmp_path / "state"
    first = confidp("state", "init", "--tenants", str(tenants), "--state-dir", str(state))
    assert first.returncode == 0, first.stderr
    assert "signing keys of 2 tenant(s): acme globex" in first.stdout
    made = {p.relative_to(state): p.read_bytes() for p in state.rglob("*") if p.is_file()}
    assert {Path("sealing.key"), Path("server.key")} <= set(made)
    assert {p.parts[1] for p in made if p.parts[0] == "keys"} == {"acme", "globex"}
    again = confidp("state", "init", "--tenants", str(tenants), "--state-dir", str(state))
    assert again.returncode == 0, again.stderr
    assert {p.relative_to(state): p.read_bytes() for p in state.rglob("*")
            if p.is_file()} == made  # kept, not replaced
    missing = confidp("state", "init", "--tenants", str(tmp_path / "none"),
                      "--state-dir", str(state))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


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
