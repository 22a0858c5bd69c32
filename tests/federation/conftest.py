from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.federation.fake_upstream import FakeOidc


@pytest.fixture(scope="module")
def fake_oidc() -> Iterator[FakeOidc]:
    """One fake OpenID Connect provider for the module's tests (reset between tests)."""
    with FakeOidc().running() as provider:
        yield provider


@pytest.fixture
def upstream(fake_oidc: FakeOidc) -> Iterator[FakeOidc]:
    fake_oidc.misbehave, fake_oidc.deny, fake_oidc.delay = None, False, 0.0
    fake_oidc.requests.clear()
    fake_oidc.token_auth.clear()
    yield fake_oidc
