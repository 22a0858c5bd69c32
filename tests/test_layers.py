"""The layers (issue 11, "Done when"): Sanic only in the app factory, the CLI, the typed
context and the web adapter; the JOSE library only in keys/; no module importing another
package's private names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import confidp

SRC = Path(confidp.__file__).parent
SANIC_ALLOWED = ("app.py", "cli.py", "context.py", "web/")


def imports() -> Iterator[tuple[str, str, list[str]]]:
    """(module path, imported module, imported names) for every import in src/confidp."""
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield relative, alias.name, []
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield relative, node.module, [alias.name for alias in node.names]


def test_sanic_only_in_the_web_layer() -> None:
    found = [(where, module) for where, module, _ in imports()
             if module.split(".")[0] in ("sanic", "sanic_routing")
             and not where.startswith(SANIC_ALLOWED)]
    assert found == []


def test_the_jose_library_only_in_keys() -> None:
    found = [(where, module) for where, module, _ in imports()
             if module.split(".")[0] == "joserfc" and not where.startswith("keys/")]
    assert found == []


def test_ldap3_only_in_the_ldap_directory_module() -> None:
    """The LDAP client library in one module: the connector's other modules and everything
    else see only its typed results and errors."""
    found = [(where, module) for where, module, _ in imports()
             if module.split(".")[0] == "ldap3" and where != "identity/ldap_directory.py"]
    assert found == []


def test_no_private_name_of_another_package() -> None:
    found = []
    for where, module, names in imports():
        if not module.startswith("confidp."):
            continue
        package = module.rsplit(".", 1)[0] if module.count(".") > 1 else module
        own = "confidp." + where.rsplit("/", 1)[0].replace("/", ".") if "/" in where \
            else "confidp"
        for name in names:
            if name.startswith("_") and package != own:
                found.append((where, module, name))
    assert found == []
