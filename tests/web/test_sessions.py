"""Sessions in the store (confidp.web.sessions), in-process."""

from __future__ import annotations

from confidp.oauth.tokens import digest
from confidp.store.kinds import SESSION
from tests.e2e.flow import authorize_url, location, seed_params
from tests.inprocess import InProcess

SESSION_ID = "acme." + "A" * 43


async def test_a_session_record_that_cannot_be_read_is_no_session(idp: InProcess) -> None:
    """Written by another program or damaged: the person signs in again, never a 500."""
    await idp.ctx.tenant_store(idp.ctx.snapshot.tenant("acme")).put(  # type: ignore[arg-type]
        SESSION, digest(SESSION_ID), {"tenant": "acme", "subject": 42}, 600)
    idp.client.cookies.set("confidp_session_acme", SESSION_ID, path="/acme")
    response = await idp.client.get(authorize_url("/acme", seed_params()))
    assert response.status_code == 302
    assert location(response).startswith("/acme/login?request=")
