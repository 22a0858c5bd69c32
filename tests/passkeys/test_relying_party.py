"""The RP ID and origin of a tenant (confidp.passkeys.relying_party)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from confidp.passkeys.relying_party import relying_party


def _tenant(issuer: str, host: str) -> SimpleNamespace:
    return SimpleNamespace(issuer=issuer, issuer_host=host, display_name="Acme")


@pytest.mark.parametrize("issuer, host, rp_id, origin", [
    ("http://localhost:8000/acme", "localhost:8000", "localhost", "http://localhost:8000"),
    ("https://id.example.com", "id.example.com", "id.example.com", "https://id.example.com"),
    ("https://ID.Example.com:8443/t", "id.example.com:8443", "id.example.com",
     "https://id.example.com:8443"),
])
def test_the_rp_id_is_the_issuers_host_and_the_origin_its_origin(
        issuer: str, host: str, rp_id: str, origin: str) -> None:
    rp = relying_party(_tenant(issuer, host))  # type: ignore[arg-type]
    assert rp is not None
    assert (rp.id, rp.origin, rp.name) == (rp_id, origin, "Acme")


@pytest.mark.parametrize("issuer, host", [("http://127.0.0.1:8000/acme", "127.0.0.1:8000"),
                                          ("http://[::1]:8000", "[::1]:8000")])
def test_an_ip_address_has_no_rp_id(issuer: str, host: str) -> None:
    assert relying_party(_tenant(issuer, host)) is None  # type: ignore[arg-type]
