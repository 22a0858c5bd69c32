"""Reading a tenant file: what a name in the directory may point at, and the size limit. None of
these may block, read without end, or be skipped silently."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from confidp.config.loader import check_files
from confidp.config.reading import (
    MAX_FILE_BYTES,
    UnreadableFile,
    read_regular_file,
    read_tenant_file,
)
from tests.support import dump, tenant_doc


def special(kind: str, directory: Path) -> Path:
    """A tenant-file name that is not a regular file."""
    path = directory / f"{kind}.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "devzero":
        os.symlink("/dev/zero", path)
    elif kind == "loop":
        os.symlink(path.name, path)
    elif kind == "dangling":
        os.symlink("gone.yaml", path)
    elif kind == "directory":
        path.mkdir()
        (path / "inside.yaml").write_bytes(dump(tenant_doc("https://id.example.com")))
    return path


SPECIAL = {
    "fifo": "is a named pipe (FIFO), not a regular file: it is not read",
    "devzero": "is a device, not a regular file: it is not read",
    "loop": "is a symbolic link that loops (it leads back to itself): it is not read",
    "dangling": "is a symbolic link to a file that does not exist",
    "directory": "is a directory, not a tenant file; rename it or move it out of the directory",
}


def within_seconds(function: Callable[[], Any], seconds: float = 10) -> Any:
    """``function()``, failing (not hanging) when it does not return: a blocked open of a
    pipe must show up as a failed test."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(function())
        except Exception as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    return outcome[0]


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_a_name_that_is_not_a_regular_file_is_refused_without_blocking(
        kind: str, tmp_path: Path) -> None:
    path = special(kind, tmp_path)
    outcome = within_seconds(lambda: read_tenant_file(path))
    assert isinstance(outcome, UnreadableFile)
    assert outcome.message == SPECIAL[kind]


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_confidp_check_reports_each_special_file(kind: str, tmp_path: Path) -> None:
    path = special(kind, tmp_path)
    [result] = within_seconds(lambda: check_files([path], themes=None, environ=None))
    assert [str(error) for error in result.errors] == [
        f"{path}:1:1: $: the file {SPECIAL[kind]}"]
    assert result.tenant is None


def test_size_comes_from_stat_and_the_file_is_not_read(tmp_path: Path) -> None:
    """A 50 MB file (sparse: nothing to read but zeros) is refused from its size alone."""
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(UnreadableFile) as caught:
        read_tenant_file(path)
    assert caught.value.message == (
        f"is 52428800 bytes; it may be at most {MAX_FILE_BYTES} bytes (4 MiB)")
    [result] = check_files([path], themes=None, environ=None)
    assert str(result.errors[0]).endswith("$: the file is 52428800 bytes; it may be at most "
                                          "4194304 bytes (4 MiB)")


def test_at_most_the_limit_and_one_byte_are_read() -> None:
    """/proc files say they are empty and are not: the limit holds on what is read too."""
    with pytest.raises(UnreadableFile) as caught:
        read_regular_file(Path("/proc/self/maps"), 16)
    assert caught.value.message == "is more than 16 bytes; it may be at most 16 bytes"


def test_the_limit_itself_is_read(tmp_path: Path) -> None:
    path = tmp_path / "full.yaml"
    path.write_bytes(b"#" * MAX_FILE_BYTES)
    assert len(read_tenant_file(path)) == MAX_FILE_BYTES
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(UnreadableFile):
        read_tenant_file(path)


def test_a_client_secret_file_is_read_the_same_way(tmp_path: Path) -> None:
    """``{file: ...}`` names a file the server reads: a pipe or /dev/zero there must not hang
    or exhaust the reload either, and the message names the file as the tenant file does."""
    os.symlink("/dev/zero", tmp_path / "zero")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "latin1").write_bytes(b"s\xe9cret\n")
    apps = [{"client_id": f"api{index}", "name": "API", "type": "confidential",
             "client_secret": {"file": name}, "grant_types": ["client_credentials"],
             "scopes": ["openid"]} for index, name in enumerate(["zero", "pipe", "latin1"])]
    (tmp_path / "acme.yaml").write_bytes(dump(tenant_doc("https://id.example.com",
                                                         applications=apps)))
    [result] = within_seconds(lambda: check_files([tmp_path / "acme.yaml"], themes=None,
                                                  environ={}))
    assert [error.message for error in result.errors] == [
        "zero is a device, not a regular file: it is not read",
        "pipe is a named pipe (FIFO), not a regular file: it is not read",
        "latin1 is not UTF-8 text",
    ]
    assert str(tmp_path) not in "".join(str(error) for error in result.errors).replace(
        str(tmp_path / "acme.yaml"), "")
