"""The nesting limit: every shape of deep nesting is refused at the first level past the limit,
before PyYAML builds (and recurses on) the document; ordinary files never pay for the check."""

from __future__ import annotations

import random

import pytest
import yaml

from confidp.config.nesting import MAX_NESTING, nesting_problem, shallow_from_text
from confidp.config.yaml_positions import YamlSyntaxError, parse_yaml
from tests.support import REPO, dump, tenant_doc


def event_depth(text: str) -> int:
    """The deepest nesting libyaml's parser reaches, up to its first error."""
    loader = yaml.CSafeLoader(text)
    depth = deepest = 0
    try:
        while not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                deepest = max(deepest, depth)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    return deepest


def flow(levels: int, closed: bool = True) -> str:
    return "a: " + "[" * levels + ("]" * levels if closed else "") + "\n"


def flow_mappings(levels: int) -> str:
    return "a: " + "{a: " * levels + "\n"  # never closed


def block_mappings(levels: int) -> str:
    return "".join(" " * depth + "a:\n" for depth in range(levels))


def block_sequences(levels: int) -> str:
    return "a:\n  " + "- " * levels + "x\n"


def indented_sequences(levels: int) -> str:
    return "".join(" " * (2 * depth) + "-\n" for depth in range(levels)) + " " * 2 * levels + "x"


# (text, where the first level past the limit starts); the top-level mapping is level 1
SHAPES = [
    pytest.param(flow(MAX_NESTING), (1, 3 + MAX_NESTING), id="flow-lists"),
    pytest.param(flow(MAX_NESTING, closed=False), (1, 3 + MAX_NESTING), id="flow-unclosed"),
    pytest.param(flow_mappings(MAX_NESTING), (1, 4 * MAX_NESTING), id="flow-mappings"),
    pytest.param(block_mappings(MAX_NESTING + 1), (MAX_NESTING + 1, MAX_NESTING + 1),
                 id="indented-mappings"),
    pytest.param(block_sequences(MAX_NESTING), (2, 1 + 2 * MAX_NESTING),
                 id="compact-sequences"),
    pytest.param(indented_sequences(MAX_NESTING + 1), (MAX_NESTING + 1, 2 * MAX_NESTING + 1),
                 id="indented-sequences"),
]


@pytest.mark.parametrize(("text", "where"), SHAPES)
def test_each_shape_is_refused_at_the_first_level_past_the_limit(
        text: str, where: tuple[int, int]) -> None:
    assert event_depth(text) == MAX_NESTING + 1  # the shape really is one level too deep
    assert nesting_problem(text) == where
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml(text.encode())
    assert (caught.value.line, caught.value.col) == where
    assert caught.value.message.startswith(
        f"lists and mappings nest more than {MAX_NESTING} levels deep here")


@pytest.mark.parametrize("text", [flow(MAX_NESTING - 1), block_mappings(MAX_NESTING),
                                  block_sequences(MAX_NESTING - 1)])
def test_the_limit_itself_is_accepted(text: str) -> None:
    assert event_depth(text) == MAX_NESTING
    assert nesting_problem(text) is None
    parse_yaml(text.encode())


@pytest.mark.parametrize("text", [
    "a: " + "[" * 30_000 + "]" * 30_000 + "\n",  # the issue's 60 KB file
    "a: " + "{a: " * 15_000 + "\n",
    "a:\n  " + "- " * 30_000 + "x\n",
])
def test_the_issues_60_kb_files_are_refused_before_parsing(text: str) -> None:
    """libyaml 0.2.5 composes these until the C stack overflows; 0.2.6 refuses 1000 levels
    itself: either way the report is the same, at the 65th level."""
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml(text.encode())
    assert caught.value.line in (1, 2)
    assert "nest more than 64 levels" in caught.value.message


def test_ordinary_files_are_bounded_from_the_text_alone() -> None:
    """The examples and a generated tenant never reach the event parser."""
    for path in (REPO / "tenants").glob("*.yaml"):
        assert shallow_from_text(path.read_text()), path
    assert shallow_from_text(dump(tenant_doc("https://id.example.com")).decode())


_PIECES = ["[", "]", "{", "}", ", ", ": ", "- ", "? ", "a", "'", '"', "#", "&x ", "*x",
           "!t ", "|", ">", "\n", "\n  ", "\n    ", "\n- ", "\n  - ", "\t", "--- ", "\r",
           " ", "k: ", "[a, b]", "{k: v}", "\\", "\ufeff", "-", ":", "?"]


def test_the_text_bound_is_never_below_the_depth_libyaml_reaches() -> None:
    """Seeded random text made of YAML's structural pieces: whatever the parser makes of it
    (up to its first error), when the text alone says it stays within a limit, it does. So a
    file the text lets through cannot nest past MAX_NESTING. (Small limits, so that random
    text reaches them.)"""
    generator = random.Random(20261121)
    checked = 0
    for _ in range(4000):
        text = "".join(generator.choice(_PIECES) for _ in range(generator.randint(1, 60)))
        depth = event_depth(text)
        for limit in range(2, 12):
            if shallow_from_text(text, limit):
                assert depth <= limit, (repr(text), limit)
                checked += 1
    assert checked > 1000  # the bound did let many through
