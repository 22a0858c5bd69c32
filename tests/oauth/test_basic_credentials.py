"""client_secret_basic credentials that are not base64 of UTF-8 text (RFC 6749 §2.3.1,
RFC 7617) are an invalid_client, whatever bytes the header carries."""

from __future__ import annotations

import base64

import pytest

from confidp.oauth.client_auth import parse_credentials
from confidp.oauth.errors import OAuthError


@pytest.mark.parametrize("authorization", [
    "Basic \udcff\udcfe",  # bytes that are not UTF-8 arrive as lone surrogates
    "Basic caf\u00e9",  # text, but not ASCII
    "Basic !!!!",
    "Basic " + base64.b64encode(b"\xff:\xfe").decode(),  # base64 of bytes that are not UTF-8
    "Basic " + base64.b64encode(b"no-colon").decode(),
])
def test_malformed_basic_credentials_are_invalid_client(authorization: str) -> None:
    with pytest.raises(OAuthError) as raised:
        parse_credentials(authorization, {})
    assert raised.value.error == "invalid_client"
    assert raised.value.status == 401
