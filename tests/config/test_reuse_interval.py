"""lifetimes.refresh_token_reuse_interval: a duration of at most 1m, or 0s for none."""

from __future__ import annotations

import pytest

from tests.config.test_rules import messages, result_of
from tests.support import tenant_doc


@pytest.mark.parametrize(("given", "seconds"), [(None, 30), ("0s", 0), ("45s", 45),
                                                ("1m", 60)])
def test_accepted(given: str | None, seconds: int) -> None:
    doc = tenant_doc("https://id.example.com",
                     lifetimes={} if given is None else {"refresh_token_reuse_interval": given})
    tenant = result_of(doc).tenant
    assert tenant is not None
    assert tenant.lifetimes.refresh_token_reuse_interval == seconds


@pytest.mark.parametrize(("given", "message"), [
    ("2m", "2m is longer than the 1m allowed: a retry comes within seconds, and a longer "
     "window weakens reuse detection; use 30s (or 0s for none)"),
    ("off", "'off' is not valid here: A duration (a whole number followed by s, m, h or d), "
     "or 0s for none."),
    ("0m", "'0m' is not valid here: A duration (a whole number followed by s, m, h or d), "
     "or 0s for none."),
])
def test_refused(given: str, message: str) -> None:
    doc = tenant_doc("https://id.example.com",
                     lifetimes={"refresh_token_reuse_interval": given})
    assert messages(doc) == [f"$.lifetimes.refresh_token_reuse_interval: {message}"]
