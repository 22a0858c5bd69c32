from __future__ import annotations

import pytest
import yaml

from confidp.config.yaml_positions import MAX_EXPANDED_NODES, YamlSyntaxError, parse_yaml


def test_positions_of_keys_values_and_items() -> None:
    parsed = parse_yaml(b"a: 1\nb:\n  - x: 1\n    y: two\n  - z\n")
    assert parsed.problems == []
    assert parsed.data == {"a": 1, "b": [{"x": 1, "y": "two"}, "z"]}
    assert parsed.positions.locate(("a",)) == (1, 4)
    assert parsed.positions.locate(("b",), at_key=True) == (2, 1)
    assert parsed.positions.locate(("b", 0, "y")) == (4, 8)
    assert parsed.positions.locate(("b", 1)) == (5, 5)


def test_locate_falls_back_to_nearest_ancestor() -> None:
    parsed = parse_yaml(b"a:\n  b: 1\n")
    assert parsed.positions.locate(("a", "b", "missing")) == (2, 6)
    assert parsed.positions.locate(("nothing",)) == (1, 1)


def test_duplicate_key_is_a_problem_at_the_second_key() -> None:
    parsed = parse_yaml(b"a: 1\nb: 2\na: 3\n")
    [problem] = parsed.problems
    assert problem.where == (3, 1)
    assert "duplicate key 'a' (first given on line 1)" in problem.message


def test_non_string_key_is_a_problem() -> None:
    parsed = parse_yaml(b"on: 1\n")  # YAML 1.1 reads `on` as true
    [problem] = parsed.problems
    assert problem.where == (1, 1)
    assert "not a string" in problem.message


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml(b"a: 1\nb: [1,\nc: 2\n")
    assert (caught.value.line, caught.value.col) == (2, 4)  # the '[' never closed
    assert caught.value.message.startswith("YAML syntax error: ")


def test_not_utf8() -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        parse_yaml(b"a: 1\nb: \xff\n")
    assert caught.value.line == 2
    assert "UTF-8" in caught.value.message


def test_alias_bomb_is_refused_without_expanding() -> None:
    lines = [b"a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = b", ".join([b"*a%d" % (i - 1)] * 10)
        lines.append(b"a%d: &a%d [%s]" % (i, i, refs))
    parsed = parse_yaml(b"\n".join(lines))
    assert parsed.data is None
    [problem] = parsed.problems
    assert f"more than {MAX_EXPANDED_NODES} nodes" in problem.message


def test_recursive_alias_is_refused() -> None:
    parsed = parse_yaml(b"a: &x [*x]\n")
    assert parsed.data is None
    assert "refers to itself" in parsed.problems[0].message


def test_small_aliases_are_fine() -> None:
    parsed = parse_yaml(b"a: &u [https://x.example/cb]\nb: *u\n")
    assert parsed.problems == []
    assert parsed.data == {"a": ["https://x.example/cb"], "b": ["https://x.example/cb"]}


def test_empty_document() -> None:
    assert parse_yaml(b"# only a comment\n").data is None




def test_duplicate_key_inside_a_list_names_its_path() -> None:
    parsed = parse_yaml(b"apps:\n  - id: a\n    id: b\n")
    [problem] = parsed.problems
    assert problem.path == ("apps", 0, "id")
    assert problem.where == (3, 5)


@pytest.mark.parametrize("text", [
    "a: 1\nb: [x, 2, 3.5, true, null, ~, 2026-01-02]\nc: {d: 'e', f: \"g\"}\n",
    "base: &b {x: 1, y: [1, 2]}\nuse: *b\nlist: [*b, *b]\n",
    "base: &b {x: 1}\nmerged: {<<: *b, y: 2}\n",  # merge keys: PyYAML's own constructor
    "tagged: !!set {a, b}\nbinary: !!binary aGk=\n",
    "s: " + "long " * 40 + "\n",
])
def test_documents_are_built_as_safe_load_builds_them(text: str) -> None:
    assert parse_yaml(text.encode()).data == yaml.safe_load(text)


def test_an_alias_is_the_same_object_and_short_strings_are_shared() -> None:
    data = parse_yaml(b"a: &x [1]\nb: *x\nscope: openid-shared\n").data
    assert data["a"] is data["b"]
    other = parse_yaml(b"scope: openid-shared\n").data
    assert other["scope"] is data["scope"]
