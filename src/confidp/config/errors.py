"""How a problem in a tenant file is reported: ``file:line:col: <json path>: <message>``, and
``file:line:col: <json path>: warning: <message>`` for what is accepted but advised against."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

PathElement = str | int
Path = tuple[PathElement, ...]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(path: Sequence[PathElement]) -> str:
    """``("applications", 0, "client_id")`` -> ``$.applications[0].client_id``."""
    out = ["$"]
    for element in path:
        if isinstance(element, int):
            out.append(f"[{element}]")
        elif _IDENTIFIER.match(element):
            out.append(f".{element}")
        else:
            escaped = element.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{escaped}"]')
    return "".join(out)


ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class ConfigError:
    """One problem in one tenant file, with the place a person should look. A warning does
    not reject the file."""

    file: str
    line: int  # 1-based
    col: int  # 1-based
    path: str  # JSON path, "$" for the whole document
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        label = "warning: " if self.severity == WARNING else ""
        return f"{self.file}:{self.line}:{self.col}: {self.path}: {label}{self.message}"

    def to_dict(self) -> dict[str, str | int]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "path": self.path,
            "message": self.message,
            "severity": self.severity,
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem found before its place in the file is known (schema and rule checks)."""

    path: Path
    message: str
    at_key: bool = False  # point at the key rather than at its value
    where: tuple[int, int] | None = None  # an exact (line, col), when the path cannot say it
    warning: bool = False  # accepted, but the person should know
