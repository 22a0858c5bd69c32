"""Reading OAuth parameters (RFC 6749 §3.1): unknown ones are ignored however many there are;
the size of the whole query is what is limited."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from confidp.oauth.errors import InvalidRequest
from confidp.oauth.params import MAX_QUERY_LENGTH, MAX_VALUE_LENGTH, parse_query, single_values


def test_many_unknown_parameters_are_read_and_ignored() -> None:
    query = "&".join(f"extra{i}=x" for i in range(1000)) + "&state=kept"
    assert len(query) < MAX_QUERY_LENGTH
    pairs = parse_query(query)
    assert len(pairs) == 1001
    assert single_values(pairs, {"state", "scope"}) == {"state": "kept"}


def test_the_query_size_is_limited() -> None:
    just_fits = "a=" + "x" * (MAX_QUERY_LENGTH - 2)
    assert parse_query(just_fits) == [("a", "x" * (MAX_QUERY_LENGTH - 2))]
    with pytest.raises(InvalidRequest) as caught:
        parse_query(just_fits + "x")
    assert caught.value.description == "Malformed request parameters."
    assert "16384" in (caught.value.detail or "")


@pytest.mark.parametrize("query", ["client_id=%FF%FE", "a=%C3"])
def test_invalid_utf8_is_malformed(query: str) -> None:
    with pytest.raises(InvalidRequest, match=r"Malformed request parameters\."):
        parse_query(query)


def test_blank_values_count_as_absent_and_twice_is_refused() -> None:
    assert single_values(parse_query("state=&scope=openid"), {"state", "scope"}) == {
        "scope": "openid"}
    with pytest.raises(InvalidRequest, match="more than once"):
        single_values(parse_query("state=&state=x"), {"state"})


def test_a_known_value_is_limited_an_unknown_one_is_not_looked_at() -> None:
    long = "v" * (MAX_VALUE_LENGTH + 1)
    assert single_values(parse_query(urlencode({"unknown": long})), {"state"}) == {}
    with pytest.raises(InvalidRequest) as caught:
        single_values(parse_query(urlencode({"state": long})), {"state"})
    assert caught.value.detail == f"Longer than {MAX_VALUE_LENGTH} characters: state."
