"""Safe YAML parsing that keeps where every key and value stands.

PyYAML's C loader composes the node tree (with marks) and constructs plain Python data from it;
a parallel walk over both records the line and column of every path. The walk also rejects what
a plain ``safe_load`` lets through silently: duplicate keys (the last one would win), keys that
are not strings (``on:`` is a boolean in YAML 1.1), recursive aliases, and alias "bombs" that
expand to an enormous document.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from confidp.config.errors import Path, Problem

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing: the pure-Python loader is the same
    _Loader = yaml.SafeLoader

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_EXPANDED_NODES = 200_000
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(slots=True)
class Positions:
    """Line and column (1-based) of each value, and of each mapping key, by path."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, at_key: bool = False) -> tuple[int, int]:
        """The place of ``path``, or of its nearest ancestor that has one."""
        probe = path
        while True:
            if at_key and probe in self.keys:
                return self.keys[probe]
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]


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


def parse_yaml(raw: bytes) -> Parsed:
    """Parse one YAML document. Raises ``YamlSyntaxError`` when it is not well-formed YAML;
    structural problems (duplicate keys, ...) come back as ``problems`` with positions."""
    if len(raw) > MAX_FILE_BYTES:
        raise YamlSyntaxError(1, 1, f"the file is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlSyntaxError(line, 1, "the file is not valid UTF-8") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Parsed(None, Positions(), [])
        problems: list[Problem] = []
        size = _expanded_size(node, {}, set())
        if size < 0:
            return Parsed(None, Positions(), [Problem((), "an alias refers to itself")])
        if size > MAX_EXPANDED_NODES:
            return Parsed(
                None,
                Positions(),
                [Problem((), f"aliases expand the document to {size} nodes; the limit is "
                         f"{MAX_EXPANDED_NODES}")],
            )
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlSyntaxError(line, col, f"YAML syntax error: {what}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, 1, f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    positions = Positions()
    positions.values[()] = _mark(node)
    problems.extend(_walk(node, data, (), positions, set()))
    return Parsed(data, positions, problems)


def _mark(node: Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _expanded_size(node: Node, memo: dict[int, int], active: set[int]) -> int:
    """How many nodes the document has once every alias is expanded; -1 for a cycle."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        return -1
    active.add(key)
    total = 1
    children: list[Node] = []
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            children.extend((key_node, value_node))
    elif isinstance(node, SequenceNode):
        children = list(node.value)
    for child in children:
        size = _expanded_size(child, memo, active)
        if size < 0:
            return -1
        total += size
    active.discard(key)
    memo[key] = total
    return total


def _walk(node: Node, data: Any, path: Path, positions: Positions,
          visited: set[int]) -> Iterator[Problem]:
    if id(node) in visited:  # an alias: its content was walked where the anchor is
        return
    visited.add(id(node))
    if isinstance(node, MappingNode) and isinstance(data, dict):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                yield Problem(path, f"key {shown!r} is not a string; quote it",
                              where=_mark(key_node))
                continue
            key = key_node.value
            child = (*path, key)
            if key in seen:
                yield Problem(child, f"duplicate key {key!r} (first given on line {seen[key]}); "
                              "keep only one", where=_mark(key_node))
                continue
            seen[key] = key_node.start_mark.line + 1
            positions.keys[child] = _mark(key_node)
            positions.values[child] = _mark(value_node)
            if key in data:
                yield from _walk(value_node, data[key], child, positions, visited)
    elif isinstance(node, SequenceNode) and isinstance(data, list):
        for index, item_node in enumerate(node.value):
            child = (*path, index)
            positions.values[child] = _mark(item_node)
            if index < len(data):
                yield from _walk(item_node, data[index], child, positions, visited)
