"""Which clients get JSON: those whose Accept header ranks it above HTML."""

from __future__ import annotations

import pytest

from confidp.web.negotiation import ranks_json_first


@pytest.mark.parametrize(("accept", "json_first"), [
    ("application/json", True),
    ("application/problem+json", True),
    ("APPLICATION/JSON; charset=utf-8", True),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),  # a browser
    ("*/*", False),
    ("application/json;q=0.5, text/html", False),
    ("text/html;q=0.4, application/json;q=0.5", True),
    ("application/json;q=0", False),
    ("application/json;q=oops", False),
    ("application/json, text/html", False),  # a tie goes to the page
    # hostile values never fail (undecodable bytes arrive as lone surrogates)
    ("application/json;q=nan", False),
    ("application/json;q=\udcff", False),
    ("\udcff/\udcff, application/json", True),
    ("application/json;q=1e999, text/html", True),
    ("," * 5000, False),
])
def test_ranks_json_first(accept: str, json_first: bool) -> None:
    assert ranks_json_first(accept) is json_first
