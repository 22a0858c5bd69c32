"""Files in the state directory that several processes may create at the same moment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _complete_temporary(path: Path, data: bytes, mode: int) -> Path:
    """A new file beside ``path`` holding ``data``, written through to the disk."""
    temporary = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink()
        raise
    return temporary


def create_once(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Write ``data`` to ``path`` unless it exists, atomically: a complete temporary file is
    linked into place, which fails when another process was first (its file is kept). True
    when this call created the file. The directory must exist."""
    temporary = _complete_temporary(path, data, mode)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    return True


def replace(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with a file holding ``data``, atomically: a reader sees the old file or
    the new one, never a part of either."""
    temporary = _complete_temporary(path, data, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink()
        raise
