"""The operator token: what authorises ``confidp mfa reset`` and ``confidp sessions revoke``
at a running server's operations listener (its /admin/ endpoints), when the state they change
lives inside the server (the memory store).

It is 32 random bytes, base64url, in ``<state>/ops.token`` (mode 0600), beside the other keys,
made by ``confidp state init`` or the first ``serve``. Whoever can read the state directory
can already read every key; the token adds no new trust, and the operations listener listens
on localhost unless ``--ops-host`` says otherwise. Delete it and restart to change it.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from confidp.files import create_once

TOKEN_FILE = "ops.token"  # noqa: S105 - a file name
_TOKEN_BYTES = 32


class OpsTokenError(Exception):
    """The token file exists but is not one confidp wrote."""


def load_or_create(state_dir: Path, *, create: bool = True) -> str:
    path = state_dir / TOKEN_FILE
    if not path.exists():
        if not create:
            raise OpsTokenError(f"{path} does not exist: is this the state directory of the "
                                "running server (--state-dir, CONFIDP_STATE_DIR)?")
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        token = base64.urlsafe_b64encode(os.urandom(_TOKEN_BYTES)).rstrip(b"=")
        create_once(path, token + b"\n")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if len(text) != 43:
        raise OpsTokenError(f"{path} is not an operator token file; remove it and restart")
    return text
