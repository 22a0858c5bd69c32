"""Safe YAML parsing that keeps where every key and value stands.

PyYAML's C loader composes the node tree (with marks) and constructs plain Python data from it;
a parallel walk over both records the line and column of every path. The walk also rejects what
a plain ``safe_load`` lets through silently: duplicate keys (the last one would win), keys that
are not strings (``on:`` is a boolean in YAML 1.1), recursive aliases, and alias "bombs" that
expand to an enormous document. Before any of it, nesting deeper than ``MAX_NESTING`` is refused
(``confidp.config.nesting``): PyYAML would recurse on it until the process crashed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from confidp.config.errors import Path, Problem
from confidp.config.nesting import nesting_problem, too_deep_message
from confidp.config.yaml_errors import explain

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing: the pure-Python loader is the same
    _Loader = yaml.SafeLoader

MAX_EXPANDED_NODES = 200_000
MAX_INTERNED = 80  # strings up to this length are shared between tenants (scope names, ...)
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"


class Positions:
    """Where each path of the document stands in the file, found on demand by walking the
    node tree: positions are needed only for errors, so valid files pay nothing for them."""

    __slots__ = ("_root",)

    def __init__(self, root: Node | None = None) -> None:
        self._root = root

    def locate(self, path: Path, at_key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of ``path``'s value (or key), or of its nearest ancestor
        that exists in the file."""
        node = self._root
        if node is None:
            return (1, 1)
        best = _mark(node)
        for depth, element in enumerate(path):
            if isinstance(node, MappingNode) and isinstance(element, str):
                pair = next(((k, v) for k, v in node.value
                             if isinstance(k, ScalarNode) and k.value == element), None)
                if pair is None:
                    return best
                if at_key and depth == len(path) - 1:
                    return _mark(pair[0])
                node = pair[1]
            elif isinstance(node, SequenceNode) and isinstance(element, int) \
                    and 0 <= element < len(node.value):
                node = node.value[element]
            else:
                return best
            best = _mark(node)
        return best


@dataclass(slots=True)
class Parsed:
    data: Any
    positions: Positions
    problems: list[Problem]


class YamlSyntaxError(Exception):
    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.message = message


class _Refused(Exception):
    """The node tree is not one we construct (a cycle, or too large once aliases expand)."""


def parse_yaml(raw: bytes) -> Parsed:
    """Parse one YAML document. Raises ``YamlSyntaxError`` when it is not well-formed YAML;
    structural problems (duplicate keys, ...) come back as ``problems`` with positions. The
    size is bounded where the file is read (``confidp.config.reading``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlSyntaxError(line, 1, "the file is not valid UTF-8") from None
    too_deep = nesting_problem(text)
    if too_deep is not None:
        raise YamlSyntaxError(*too_deep, too_deep_message())
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Parsed(None, Positions(), [])
        try:
            problems = _inspect(node)
        except _Refused as refused:
            return Parsed(None, Positions(node), [Problem((), str(refused))])
        try:
            data = _construct(node, loader)
        except _Unusual:
            data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise YamlSyntaxError(*explain(exc, text)) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, 1, f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    return Parsed(data, Positions(node), problems)


class _Unusual(Exception):
    """A node the plain construction does not handle (merge keys, tags other than the JSON
    ones): PyYAML's own constructor builds the document instead."""


def _construct(root: Node, loader: Any) -> Any:
    """The document as PyYAML's safe constructor builds it, for the plain documents tenant
    files are (maps with string keys, lists, scalars), in one recursive pass instead of its
    generic machinery; short strings are interned, so the thousands of tenants of a server
    share one ``"openid"`` and one ``"authorization_code"``. Cycles and alias bombs were
    refused before (``_inspect``); an alias gives the same object, as in PyYAML."""
    return _Builder(loader).build(root)


class _Builder:
    """A class, not a recursive closure: a closure refers to itself, and each file's parser
    would stay as cyclic garbage until the collector runs, which it does not during a load
    (``confidp.reload``)."""

    __slots__ = ("built", "loader")

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.built: dict[int, Any] = {}

    def build(self, node: Node) -> Any:
        if isinstance(node, ScalarNode):
            if node.tag == _STR_TAG:
                value: str = node.value
                return sys.intern(value) if len(value) <= MAX_INTERNED else value
            return self.loader.construct_object(node, deep=True)
        key = id(node)
        if key in self.built:
            return self.built[key]
        if isinstance(node, SequenceNode) and node.tag == _SEQ_TAG:
            items: list[Any] = []
            self.built[key] = items
            items.extend(self.build(item) for item in node.value)
            return items
        if isinstance(node, MappingNode) and node.tag == _MAP_TAG:
            mapping: dict[str, Any] = {}
            self.built[key] = mapping
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                    raise _Unusual()
                mapping[self.build(key_node)] = self.build(value_node)
            return mapping
        raise _Unusual()


def _mark(node: Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _inspect(root: Node) -> list[Problem]:
    """One pass over the node tree: refuse cycles and alias bombs (counting the expanded size
    without expanding), and report keys that are duplicated or not strings."""
    inspector = _Inspector()
    inspector.visit(root)
    return inspector.problems


class _Inspector:
    """``_inspect``'s state (a class for the reason ``_Builder`` is one)."""

    __slots__ = ("active", "path", "problems", "sizes")

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.sizes: dict[int, int] = {}  # collection node id -> expanded size (aliases share)
        self.active: set[int] = set()
        self.path: list[str | int] = []

    def visit(self, node: Node) -> int:
        if isinstance(node, ScalarNode):
            return 1
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if key in self.active:
            raise _Refused("an alias refers to itself")
        self.active.add(key)
        total = 1
        path, problems = self.path, self.problems
        if isinstance(node, MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                    shown = key_node.value if isinstance(key_node, ScalarNode) \
                        else "a collection"
                    problems.append(Problem(tuple(path), f"key {shown!r} is not a string; "
                                            "quote it", where=_mark(key_node)))
                    total += self.visit(key_node) + self.visit(value_node)
                    continue
                name = key_node.value
                if name in seen:
                    problems.append(Problem((*path, name), f"duplicate key {name!r} (first "
                                            f"given on line {seen[name]}); keep only one",
                                            where=_mark(key_node)))
                else:
                    seen[name] = key_node.start_mark.line + 1
                path.append(name)
                total += 1 + self.visit(value_node)
                path.pop()
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                path.append(index)
                total += self.visit(item)
                path.pop()
        if total > MAX_EXPANDED_NODES:
            raise _Refused(f"aliases expand the document to more than {MAX_EXPANDED_NODES} "
                           "nodes; use fewer aliases")
        self.active.discard(key)
        self.sizes[key] = total
        return total
