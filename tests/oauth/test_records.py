"""The stored records: their JSON, and records written by earlier versions."""

from __future__ import annotations

import logging

import pytest

from confidp.identity.identity import LOCAL, PASSWORD
from confidp.identity.local import identity_of
from confidp.oauth.records import (
    Access,
    Code,
    Family,
    Refresh,
    RefreshReuse,
    Session,
    load,
    save,
)
from confidp.store import MemoryStore
from confidp.store.tenant import TenantStore
from tests.oauth.test_claims_and_client_auth import ACME

ALICE = identity_of(ACME.users["alice"], auth_time=100.0)


@pytest.mark.parametrize("record", [
    Session("acme", ALICE, 100.0, 160.0),
    Code("acme", "portal-spa", "http://127.0.0.1:9999/callback", "c" * 43, "S256",
         ("openid", "email"), "n-1", ALICE, "session-key", 101.0),
    Code("acme", "billing", "https://x.example/cb", None, None, ("openid",), None, ALICE,
         "s", 1.0),
    Access("acme", "portal-spa", "family-1", ALICE),
    Access("acme", "billing", None),
    Refresh("acme", "portal-spa", ("openid", "offline_access"), "family-1", ALICE),
    Family("acme", "portal-spa", "alice", 100.0, "digest", ("j1", "j2")),
    RefreshReuse("acme", "family-1", "digest"),
], ids=lambda record: type(record).__name__)
async def test_round_trip_through_a_store(record: object) -> None:
    store = TenantStore(MemoryStore(), "acme")
    await save(store, record, "key", 60)  # type: ignore[arg-type]
    assert await load(store, type(record), "key") == record  # type: ignore[arg-type]


async def test_records_of_earlier_versions_name_a_local_user() -> None:
    """Written before identities were carried: the session, code and refresh token still
    work after an upgrade, as the local user of that subject (re-validated when used)."""
    store = TenantStore(MemoryStore(), "acme")
    await store.put("session", "s", {"tenant": "acme", "subject": "alice",
                                     "username": "alice", "auth_time": 90.0,
                                     "created_at": 90.0, "last_seen": 95.0}, 60)
    await store.put("code", "c", {
        "tenant": "acme", "client_id": "portal-spa", "redirect_uri": "https://x/cb",
        "code_challenge": None, "code_challenge_method": None, "scopes": ["openid"],
        "nonce": None, "subject": "alice", "username": "alice", "auth_time": 90.0,
        "session": "s", "issued_at": 91.0}, 60)
    await store.put("refresh", "r", {"tenant": "acme", "client_id": "portal-spa",
                                     "subject": "alice", "scopes": ["openid"],
                                     "family": "f", "auth_time": 90.0}, 60)
    session = await load(store, Session, "s")
    code = await load(store, Code, "c")
    refresh = await load(store, Refresh, "r")
    assert session is not None and code is not None and refresh is not None
    for identity in (session.identity, code.identity, refresh.identity):
        assert (identity.subject, identity.source, identity.username, identity.amr,
                identity.auth_time) == ("alice", LOCAL, "alice", (PASSWORD,), 90.0)


async def test_an_unreadable_record_is_absent(caplog: pytest.LogCaptureFixture) -> None:
    store = TenantStore(MemoryStore(), "acme")
    await store.put("session", "s", {"tenant": "acme", "something": "else"}, 60)
    with caplog.at_level(logging.WARNING, "confidp.store"):
        assert await load(store, Session, "s") is None
    assert "unreadable session record" in caplog.text
