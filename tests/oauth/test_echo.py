"""Request values quoted in error descriptions (RFC 6749 §5.2 character set), without HTTP."""

from __future__ import annotations

import random
import re

from confidp.oauth.echo import MAX_SHOWN, quoted, quoted_list, shown

RFC6749_DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def test_a_reasonable_value_is_shown_whole() -> None:
    assert quoted("urn:ietf:params:oauth:grant-type:token-exchange") == \
        "'urn:ietf:params:oauth:grant-type:token-exchange'"
    assert quoted("a" * MAX_SHOWN) == "'" + "a" * MAX_SHOWN + "'"


def test_a_long_value_is_cut_after_a_separator_in_its_second_half() -> None:
    assert quoted("one two three four", limit=12) == "'one two ...'"
    assert quoted("abcdefgh-ijklmnop", limit=12) == "'abcdefgh-...'"
    assert quoted("ab-cdefghijklmnop", limit=12) == "'ab-cdefghijk...'"  # too early: hard cut
    assert shown("x" * 100, limit=10) == "x" * 10 + "..."


def test_control_characters_quotes_backslashes_and_non_ascii_are_replaced() -> None:
    assert quoted('a\x00b\x1b[2J"c\\d\x7fé\u202e\U0001f600') == "'a?b?[2J?c?d????'"
    assert quoted("\udcff") == "'?'"  # a surrogate-escaped byte


def test_lists_are_bounded() -> None:
    assert quoted_list(["a", "b"]) == "'a', 'b'"
    assert quoted_list([str(n) for n in range(8)], limit=3) == "'0', '1', '2' and 5 more"


def test_any_text_comes_out_bounded_and_in_the_rfc_6749_set() -> None:
    generator = random.Random(6749)
    alphabet = [chr(c) for c in range(0, 0x250)] + ["\u202e", "\U0001f600", "\udc80"]
    for _ in range(3000):
        value = "".join(generator.choice(alphabet)
                        for _ in range(generator.choice((0, 1, 5, 40, 63, 64, 65, 500))))
        limit = generator.choice((8, 40, MAX_SHOWN))
        text = quoted(value, limit)
        assert RFC6749_DESCRIPTION.fullmatch(text), repr(text)
        assert len(text) <= limit + 5
        if len(value) <= limit:
            assert len(text) == len(value) + 2
        else:
            assert text.endswith("...'")
