"""The rules every upstream connector shares, as pure functions: claim mapping, subjects
that cannot collide, allowed groups and domains, linking by e-mail only when asked and
verified on both sides, and re-validation against the current tenant file."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from confidp.config.loader import validate_file
from confidp.identity.federated import (
    admitted,
    federated_subject,
    map_identity,
    revalidated,
)
from confidp.identity.sources import NotAllowed, UpstreamError
from confidp.model import Tenant
from tests.support import ALICE_HASH, dump, tenant_doc


def tenant(**connector: Any) -> Tenant:
    spec = {"id": "corp", "type": "oidc", "issuer": "https://up.example",
            "client_id": "confidp", **connector}
    users = [{"username": "alice", "password_hash": ALICE_HASH, "subject": "alice-1",
              "email": "Alice@Corp.example", "email_verified": True, "groups": ["local"]},
             {"username": "bob", "password_hash": ALICE_HASH, "email": "bob@corp.example"}]
    result = validate_file("acme.yaml", dump(tenant_doc("https://id.example.com",
                                                        connectors=[spec], users=users)),
                           themes=None, environ={})
    assert result.tenant is not None, result.errors
    return result.tenant


PERSON = {"sub": "u-1", "preferred_username": "dana", "email": "dana@corp.example",
          "email_verified": True, "name": "Dana", "groups": ["eng", "eng", 7, None],
          "realm": {"roles": ["admin"]}, "picture": "https://p.example/d.png"}


def test_claims_are_mapped_and_the_upstream_recorded() -> None:
    acme = tenant()
    identity = map_identity(acme.connectors[0], PERSON, issuer="https://up.example", now=5.0)
    assert identity.subject == "corp:u-1" and identity.source == "corp"
    assert identity.username == "dana" and identity.amr == ("fed",)
    assert identity.groups == ("eng", "7")  # de-duplicated, non-text dropped
    assert identity.claims["email_verified"] is True
    assert identity.claims["picture"] == "https://p.example/d.png"
    assert (identity.upstream.issuer, identity.upstream.subject) == ("https://up.example",
                                                                     "u-1")
    dotted = tenant(claims={"groups": "realm.roles", "username": "email"}).connectors[0]
    mapped = map_identity(dotted, PERSON, issuer="x", now=0)
    assert (mapped.groups, mapped.username) == (("admin",), "dana@corp.example")
    with pytest.raises(UpstreamError):
        map_identity(acme.connectors[0], {"email": "x@y"}, issuer="x", now=0)


def test_the_string_true_counts_as_verified_and_nothing_else_does() -> None:
    connector = tenant().connectors[0]
    assert map_identity(connector, {**PERSON, "email_verified": "true"}, issuer="x",
                        now=0).claims["email_verified"] is True
    assert map_identity(connector, {**PERSON, "email_verified": 1}, issuer="x",
                        now=0).claims["email_verified"] is False


def test_subjects_are_bounded_and_never_collide() -> None:
    assert federated_subject("corp", "u-1") == "corp:u-1"
    long = federated_subject("corp", "x" * 300)
    assert long.startswith("corp:sha256:") and len(long) <= 255
    assert federated_subject("corp", "naïve") != federated_subject("corp", "naive")
    # connector ids have no ":" (schema), so "{id}:" ends where the id ends


def test_allowed_groups_and_domains() -> None:
    identity = map_identity(tenant().connectors[0], PERSON, issuer="x", now=0)
    picky = tenant(allowed_groups=["admins"])
    with pytest.raises(NotAllowed):
        admitted(picky.connectors[0], picky, identity)
    other_domain = tenant(allowed_email_domains=["example.com"])
    with pytest.raises(NotAllowed):
        admitted(other_domain.connectors[0], other_domain, identity)
    same = tenant(allowed_email_domains=["CORP.example"], allowed_groups=["eng"])
    assert admitted(same.connectors[0], same, identity) == identity
    unverified = replace(identity, claims={**identity.claims, "email_verified": False})
    with pytest.raises(NotAllowed):
        admitted(same.connectors[0], same, unverified)


def test_linking_by_email_only_when_asked_and_verified_on_both_sides() -> None:
    alice_upstream = {**PERSON, "email": "alice@corp.example"}
    plain = tenant()
    identity = map_identity(plain.connectors[0], alice_upstream, issuer="x", now=0)
    assert admitted(plain.connectors[0], plain, identity).subject == "corp:u-1"  # not asked
    linking = tenant(link_by_email=True)
    linked = admitted(linking.connectors[0], linking, identity)
    assert (linked.subject, linked.groups, linked.source) == ("alice-1", ("local",), "corp")
    unverified = map_identity(linking.connectors[0], {**alice_upstream,
                                                      "email_verified": False}, issuer="x",
                              now=0)
    assert admitted(linking.connectors[0], linking, unverified).subject == "corp:u-1"
    bob = map_identity(linking.connectors[0], {**PERSON, "email": "bob@corp.example"},
                       issuer="x", now=0)
    assert admitted(linking.connectors[0], linking, bob).subject == "corp:u-1"  # bob unverified
    # re-validated: the link stands while the file says so
    assert revalidated(linking.connectors[0], linking, linked) is not None
    assert revalidated(plain.connectors[0], plain, linked) is None


def test_revalidation_follows_the_current_tenant_file() -> None:
    identity = map_identity(tenant().connectors[0], PERSON, issuer="x", now=0)
    assert revalidated(tenant().connectors[0], tenant(), identity) == identity
    assert revalidated(tenant(allowed_groups=["admins"]).connectors[0], tenant(),
                       identity) is None
    assert revalidated(None, tenant(), identity) is None
