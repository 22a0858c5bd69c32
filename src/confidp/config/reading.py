"""Reading a tenant file's bytes without trusting what the name points at.

A tenant-file name in the directory can be anything: a named pipe (opening it blocks until a
writer comes), a symbolic link to ``/dev/zero`` (reading never ends), a link loop, a link to
nothing, a directory, or a 50 MB file. Each is refused with a sentence saying what it is, from
``stat`` alone, before anything is opened; a regular file is opened without blocking and read
up to ``MAX_FILE_BYTES`` plus one byte, so its size is checked again on what was read. Client
secrets a tenant file names (``{file: ...}``) are read the same way, up to ``MAX_SECRET_BYTES``.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 4 * 1024 * 1024  # 4 MiB: a thousand applications fit in a tenth of it
MAX_SECRET_BYTES = 64 * 1024
_CHUNK = 256 * 1024


class UnreadableFile(Exception):
    """A tenant-file name that does not lead to a regular file confidp may read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def too_large(size: int | None, limit: int = MAX_FILE_BYTES) -> str:
    """``size`` None: more than the limit was read, so the real size is unknown."""
    what = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    unit = next(((name, scale) for name, scale in (("MiB", 1 << 20), ("KiB", 1 << 10))
                 if limit % scale == 0), None)
    in_units = f" ({limit // unit[1]} {unit[0]})" if unit else ""
    return f"is {what}; it may be at most {limit} bytes{in_units}"


def kind_problem(mode: int) -> str | None:
    """Why a file of this ``st_mode`` is not read, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a tenant file; rename it or move it out of the directory"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file: it is not read"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file: it is not read"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file: it is not read"
    return "is not a regular file: it is not read"


def stat_problem(path: Path, exc: OSError) -> str:
    """What a failed ``stat`` (which follows symbolic links) says about ``path``."""
    if exc.errno == errno.ELOOP:
        return "is a symbolic link that loops (it leads back to itself): it is not read"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return "is a symbolic link to a file that does not exist"
    return f"cannot be read: {exc.strerror or exc}"


def stat_result_problem(st: os.stat_result, limit: int = MAX_FILE_BYTES) -> str | None:
    """Why a file with this ``stat`` would not be read, or None."""
    if problem := kind_problem(st.st_mode):
        return problem
    if st.st_size > limit:
        return too_large(st.st_size, limit)
    return None


def file_problem(path: Path, limit: int = MAX_FILE_BYTES) -> str | None:
    """Why ``path`` would not be read (checked by ``stat``, nothing opened), or None."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return stat_problem(path, exc)
    return stat_result_problem(st, limit)


def read_tenant_file(path: Path) -> bytes:
    return read_regular_file(path, MAX_FILE_BYTES)


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, else ``UnreadableFile``.
    Never blocks: a name swapped for a pipe between the ``stat`` and the ``open`` is opened
    non-blocking and refused by ``fstat``."""
    if problem := file_problem(path, limit):
        raise UnreadableFile(problem)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnreadableFile(stat_problem(path, exc)) from None
    try:
        if problem := kind_problem(os.fstat(descriptor).st_mode):
            raise UnreadableFile(problem)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(descriptor, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise UnreadableFile(f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(descriptor)
    if total > limit:  # it grew after the stat
        raise UnreadableFile(too_large(None, limit))
    return b"".join(chunks)
