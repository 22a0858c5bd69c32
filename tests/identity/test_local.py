"""The tenant file's users as the ``local`` identity source, without HTTP."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from confidp.identity.identity import LOCAL, PASSWORD, Identity, Upstream
from confidp.identity.local import LocalSource, identity_of
from confidp.identity.registry import Sources
from confidp.identity.sources import PasswordSource, SourceContext
from confidp.model import Tenant
from confidp.passwords import PasswordVerifier
from tests.oauth.test_claims_and_client_auth import ACME

ALICE = ACME.users["alice"]


def without(tenant: Tenant, username: str) -> Tenant:
    users = {k: u for k, u in tenant.users.items() if k != username}
    return dataclasses.replace(tenant, users=MappingProxyType(users), users_by_subject=(
        MappingProxyType({u.subject: u for u in users.values()})))


def with_user(tenant: Tenant, **changes: object) -> Tenant:
    user = dataclasses.replace(tenant.users["alice"], **changes)  # type: ignore[arg-type]
    users = {**tenant.users, "alice": user}
    return dataclasses.replace(tenant, users=MappingProxyType(users), users_by_subject=(
        MappingProxyType({u.subject: u for u in users.values()})))


async def test_authenticate_right_and_wrong_passwords() -> None:
    source = LocalSource()
    passwords = PasswordVerifier(workers=1)
    try:
        context = SourceContext(ACME, passwords, 1234.0)
        identity = await source.authenticate("ALICE", "wonderland", context)  # any case
        assert identity is not None
        assert (identity.subject, identity.source, identity.username) == ("alice", LOCAL,
                                                                          "alice")
        assert (identity.amr, identity.auth_time) == ((PASSWORD,), 1234.0)
        assert identity.claims["email"] == "alice@example.com"
        assert identity.groups == ("customers",)
        assert await source.authenticate("alice", "wrong", context) is None
        assert await source.authenticate("nobody", "wonderland", context) is None
        disabled = SourceContext(with_user(ACME, disabled=True), passwords, 1234.0)
        assert await source.authenticate("alice", "wonderland", disabled) is None
    finally:
        passwords.close()


async def test_revalidate_follows_the_current_file_by_subject() -> None:
    source = LocalSource()
    signed_in = identity_of(ALICE, auth_time=100.0)
    renamed = with_user(ACME, username="alice2", email="new@example.com")
    current = await source.revalidate(signed_in, renamed, 200.0)
    assert current is not None
    assert (current.subject, current.username, current.claims["email"]) == (
        "alice", "alice2", "new@example.com")
    assert (current.amr, current.auth_time) == (signed_in.amr, 100.0)  # how and when: kept
    assert await source.revalidate(signed_in, with_user(ACME, disabled=True), 200.0) is None
    assert await source.revalidate(signed_in, without(ACME, "alice"), 200.0) is None


def test_the_local_source_is_a_password_source_of_every_tenant() -> None:
    sources = Sources().of(ACME)
    assert [source.id for source in sources.password_sources()] == [LOCAL]
    assert isinstance(sources.get(LOCAL), PasswordSource)
    assert sources.get("github") is None
    assert Sources().of(ACME) is not sources  # each Sources builds its own
    registry = Sources()
    assert registry.of(ACME) is registry.of(ACME)  # built once per tenant version
    assert registry.of(dataclasses.replace(ACME)) is not registry.of(ACME)


def test_identity_json_round_trip() -> None:
    identity = Identity("s", "github", "octo", MappingProxyType({"email": "o@x"}),
                        ("a", "b"), ("pwd", "otp"), 12.5, "urn:acr:2",
                        Upstream("https://github.com", "42"))
    assert Identity.from_json(identity.to_json()) == identity
    minimal = Identity("s", LOCAL, "u", auth_time=1.0)
    assert minimal.to_json() == {"subject": "s", "source": LOCAL, "username": "u",
                                 "auth_time": 1.0}
    assert Identity.from_json(minimal.to_json()) == minimal


async def test_a_refusal_says_why_for_the_audit_event() -> None:
    source = LocalSource()
    passwords = PasswordVerifier(workers=1)
    try:
        context = SourceContext(ACME, passwords, 1234.0)
        await source.authenticate("alice", "wrong", context)
        await source.authenticate("nobody", "wonderland", context)
        disabled = SourceContext(with_user(ACME, disabled=True), passwords, 1234.0)
        await source.authenticate("alice", "wonderland", disabled)
        assert context.refusals == [(LOCAL, "wrong_password"), (LOCAL, "unknown_user")]
        assert disabled.refusals == [(LOCAL, "disabled")]
    finally:
        passwords.close()
