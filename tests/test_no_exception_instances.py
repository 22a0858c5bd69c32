"""No exception object outlives a request: every module of confidp is imported and none keeps
an exception instance at module level (or in a module-level container, or as a class
attribute). Raised again and again, such an instance grows its ``__traceback__`` by every
raise and keeps every request's frames alive: memory grows without bound (issue 10)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import MappingProxyType, ModuleType

import confidp


def all_modules() -> Iterator[ModuleType]:
    yield confidp
    for info in pkgutil.walk_packages(confidp.__path__, prefix="confidp."):
        yield importlib.import_module(info.name)


def _values(value: object) -> Iterator[object]:
    """``value`` and, when it is a container, what it holds (one level deep)."""
    yield value
    if isinstance(value, (dict, MappingProxyType)):
        yield from value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        yield from value


def exception_instances(module: ModuleType) -> list[str]:
    found = []
    for name, value in vars(module).items():
        places = [(name, value)]
        if isinstance(value, type) and value.__module__ == module.__name__:
            places += [(f"{name}.{attribute}", held)
                       for attribute, held in vars(value).items()]
        for place, held in places:
            if any(isinstance(item, BaseException) for item in _values(held)):
                found.append(f"{module.__name__}.{place}")
    return found


def test_every_module_is_imported() -> None:
    names = {module.__name__ for module in all_modules()}
    assert {"confidp.web.signin.steps", "confidp.oauth.grants.refresh_token", "confidp.store.redis",
            "confidp.cli"} <= names


def test_no_module_level_exception_instance() -> None:
    found = [place for module in all_modules() for place in exception_instances(module)]
    assert found == [], f"raise a fresh exception instead of keeping one: {found}"


def test_the_check_finds_one() -> None:
    """The check itself works: a module with an instance at each kind of place."""
    module = ModuleType("confidp_probe")
    module.__dict__.update({
        "PLAIN": ValueError("x"), "IN_A_TUPLE": (1, KeyError("y")),
        "IN_A_MAPPING": MappingProxyType({"a": RuntimeError("z")}),
        "Holder": type("Holder", (), {"__module__": "confidp_probe", "KEPT": OSError()}),
        "FINE": ValueError})
    assert sorted(exception_instances(module)) == [
        "confidp_probe.Holder.KEPT", "confidp_probe.IN_A_MAPPING", "confidp_probe.IN_A_TUPLE",
        "confidp_probe.PLAIN"]
