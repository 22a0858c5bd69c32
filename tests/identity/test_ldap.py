"""The ``ldap`` connector as an identity source, against a real slapd (tests/ldap_support.py),
without HTTP: sign-in, wrong and empty passwords, RFC 4515 escaping, groups, TLS (LDAPS and
StartTLS with a test CA), a directory that is down or frozen, and re-validation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from confidp.config.loader import validate_file
from confidp.identity.identity import PASSWORD
from confidp.identity.ldap import LdapSource
from confidp.identity.ldap_directory import group_filter, id_assertion, id_text, user_filter
from confidp.identity.ldap_settings import GroupSearch, UserMatcher, user_search_of
from confidp.identity.registry import Sources
from confidp.identity.sources import PasswordSource, SourceContext, SourceUnavailable
from confidp.passwords import PasswordVerifier
from tests.ldap_support import (
    BIND_PASSWORD_ENV,
    PEOPLE_DN,
    SERVICE_PASSWORD,
    Person,
    Slapd,
    TestCA,
    connector_spec,
    person,
    slapd_fixture,  # noqa: F401 - the module's slapd (fixture "slapd")
)
from tests.oauth.test_claims_and_client_auth import ACME
from tests.support import dump, tenant_doc

NOW = 5000.0


def source_for(server: Slapd, password: str = SERVICE_PASSWORD, **overrides: Any
               ) -> LdapSource:
    """The connector as a tenant file declares it, loaded the way the server loads it."""
    document = tenant_doc("https://id.example.com",
                          connectors=[connector_spec(server, **overrides)])
    result = validate_file("acme.yaml", dump(document), themes=None,
                           environ={BIND_PASSWORD_ENV: password})
    assert result.ok, result.errors
    tenant = result.tenant
    [connector] = tenant.connectors
    source = Sources().of(tenant).get(connector.id)
    assert isinstance(source, LdapSource)
    return source


@pytest.fixture(scope="module")
def context() -> Iterator[SourceContext]:
    passwords = PasswordVerifier(workers=1)  # unused by LDAP; made once (argon2's dummy hash)
    yield SourceContext(ACME, passwords, NOW)
    passwords.close()


async def test_signs_in_with_the_directory_s_attributes_and_groups(
        slapd: Slapd, context: SourceContext) -> None:
    source = source_for(slapd)
    assert isinstance(source, PasswordSource)
    ada = person("ada")
    identity = await source.authenticate("ada", ada.password, context)
    assert identity is not None
    uuid = identity.subject.removeprefix("corp-ldap:")
    assert len(uuid) == 36 and identity.subject == f"corp-ldap:{uuid}"  # entryUUID
    assert (identity.source, identity.username, identity.amr) == ("corp-ldap", "ada",
                                                                  (PASSWORD,))
    assert identity.auth_time == NOW
    assert dict(identity.claims) == {"preferred_username": "ada", "name": "Ada Lovelace",
                                     "email": "ada@example.org", "email_verified": False}
    assert set(identity.groups) == {"staff", "admins"}
    assert identity.upstream is not None
    assert identity.upstream.issuer == slapd.url and identity.upstream.subject == uuid
    assert source.health.last_success_at == NOW and source.health.last_error is None


async def test_wrong_password_unknown_user_and_other_people_s_passwords(
        slapd: Slapd, context: SourceContext) -> None:
    source = source_for(slapd)
    assert await source.authenticate("ada", "wrong", context) is None
    assert await source.authenticate("nobody", person("ada").password, context) is None
    assert await source.authenticate("ada", person("brian").password, context) is None


async def test_an_empty_password_never_reaches_the_directory(
        slapd: Slapd, context: SourceContext) -> None:
    """RFC 4513 §5.1.2: a DN with an empty password is an unauthenticated bind, which some
    directories answer with success. It is refused before any connection: with the
    directory down, the answer is still a plain "no", not "unavailable"."""
    source = source_for(slapd)
    slapd.stop()
    try:
        assert await source.authenticate("ada", "", context) is None
        assert source.health.last_error is None
    finally:
        slapd.start()


async def test_filter_metacharacters_in_a_username_are_escaped(
        slapd: Slapd, context: SourceContext) -> None:
    """RFC 4515 §3: "*", "(", ")", "\\" and NUL in a username are values, never filter
    syntax: a wildcard finds no one, and a name made of them signs in as itself."""
    source = source_for(slapd)
    star = person("star*(x)\\")
    identity = await source.authenticate(star.uid, star.password, context)
    assert identity is not None and identity.username == star.uid
    for guess in ("*", "a*", "ad*", "*)(uid=ada", "ada)(|(uid=*", "ada\x00"):
        assert await source.authenticate(guess, person("ada").password, context) is None
    search = user_search_of({"base_dn": PEOPLE_DN, "filter": "(objectClass=person)",
                             "username": ["uid", "mail"], "id_attribute": "entryUUID",
                             "preferred_username_attribute": "uid"})
    assert user_filter(search, "a*(b)\\") == (
        r"(&(objectClass=person)(|(uid=a\2a\28b\29\5c)(mail=a\2a\28b\29\5c)))")


async def test_username_may_be_one_of_several_attributes(
        slapd: Slapd, context: SourceContext) -> None:
    source = source_for(slapd, user_search={**connector_spec(slapd)["user_search"],
                                            "username": ["uid", "mail"]})
    identity = await source.authenticate("ada@example.org", person("ada").password, context)
    assert identity is not None and identity.username == "ada"


async def test_allowed_groups(slapd: Slapd, context: SourceContext) -> None:
    source = source_for(slapd, allowed_groups=["staff"])
    assert await source.authenticate("ada", person("ada").password, context) is not None
    carol = person("carol")  # a contractor: right password, group not allowed
    assert await source.authenticate("carol", carol.password, context) is None
    assert source.health.last_error is None  # not a directory failure


async def test_ldaps_and_starttls_verify_the_server_certificate(
        slapd: Slapd, context: SourceContext, tmp_path: Path) -> None:
    ada = person("ada")
    ca = str(slapd.ca_path)
    for overrides in ({"url": slapd.ldaps_url, "ca_file": ca},
                      {"url": slapd.url, "start_tls": True, "ca_file": ca}):
        identity = await source_for(slapd, **overrides).authenticate("ada", ada.password,
                                                                    context)
        assert identity is not None, overrides
    stranger = str(TestCA.make(tmp_path / "other", "Another CA").ca_path)
    for overrides in ({"url": slapd.ldaps_url, "ca_file": stranger},
                      {"url": slapd.url, "start_tls": True, "ca_file": stranger}):
        source = source_for(slapd, **overrides)
        with pytest.raises(SourceUnavailable):
            await source.authenticate("ada", ada.password, context)
        assert source.health.last_error is not None
        assert "certificate" in source.health.last_error.lower(), source.health.last_error
        assert ada.password not in source.health.last_error


async def test_a_wrong_service_password_is_a_directory_failure_not_a_wrong_password(
        slapd: Slapd, context: SourceContext) -> None:
    source = source_for(slapd, password="not-the-service-password")
    with pytest.raises(SourceUnavailable) as raised:
        await source.authenticate("ada", person("ada").password, context)
    assert "service account" in raised.value.reason
    assert "not-the-service-password" not in raised.value.reason
    assert raised.value.status == 503 and raised.value.headers()["Retry-After"]


async def test_directory_down(slapd: Slapd, context: SourceContext) -> None:
    source = source_for(slapd)
    slapd.stop()
    try:
        with pytest.raises(SourceUnavailable):
            await source.authenticate("ada", person("ada").password, context)
        assert source.health.last_error and slapd.url in source.health.last_error
        assert source.health.last_error_at == NOW
    finally:
        slapd.start()
    assert await source.authenticate("ada", person("ada").password, context) is not None


async def test_directory_frozen_the_timeout_answers(slapd: Slapd,
                                                    context: SourceContext) -> None:
    """SIGSTOP: connections are accepted by the kernel, nothing answers. The check gives up
    after ``timeout`` (1 s here) instead of hanging the sign-in."""
    source = source_for(slapd, timeout="1s")
    slapd.pause()
    try:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable):
            await source.authenticate("ada", person("ada").password, context)
        waited = time.monotonic() - started
    finally:
        slapd.resume()
    assert waited < 10  # bounded by the timeout, not by TCP's minutes
    assert source.health.last_error is not None


async def test_a_stalled_directory_cannot_pile_up_checks(slapd: Slapd,
                                                         context: SourceContext) -> None:
    """max_concurrent checks run and as many wait; one more is refused at once, so a
    stalled directory holds a bounded number of threads and requests."""
    source = source_for(slapd, timeout="1s", max_concurrent=1)
    slapd.pause()
    try:
        outcomes = await asyncio.gather(
            *(source.authenticate("ada", person("ada").password, context) for _ in range(3)),
            return_exceptions=True)
    finally:
        slapd.resume()
    reasons = sorted(o.reason for o in outcomes if isinstance(o, SourceUnavailable))
    assert len(reasons) == 3
    assert sum("max_concurrent" in r for r in reasons) == 1
    assert sum("timeout" in r for r in reasons) == 2


def test_a_receive_timeout_in_the_thread_is_reported_as_a_timeout(slapd: Slapd) -> None:
    """ldap3's receive timeout equals the check's deadline, so either may see a stalled
    directory first, and both must say "(timeout)" (a clean-clone run of the stalled-directory
    test above got one such reason without it)."""
    from ldap3.core.exceptions import LDAPSocketReceiveError, communication_exception_factory

    from confidp.identity.ldap_directory import _describe

    source = source_for(slapd, timeout="1s")
    received = communication_exception_factory(LDAPSocketReceiveError, TimeoutError(
        "timed out"))("error receiving data: timed out")
    assert _describe(received, source.settings).endswith("(timeout)")
    refused = communication_exception_factory(LDAPSocketReceiveError, ConnectionResetError(
        "reset"))("error receiving data: reset")
    assert "timeout" not in _describe(refused, source.settings)


async def test_revalidation_follows_the_directory(slapd: Slapd,
                                                  context: SourceContext) -> None:
    """A refresh or session use re-checks the entry by its id: claims refreshed, and the
    person gone, or out of the allowed groups, ends the state made for them."""
    source = source_for(slapd, allowed_groups=["staff"])
    dave = person("dave")
    identity = await source.authenticate("dave", dave.password, context)
    assert identity is not None
    again = await source.revalidate(identity, ACME, NOW + 10)
    assert again is not None and again.subject == identity.subject
    assert again.auth_time == identity.auth_time and again.amr == identity.amr
    slapd.remove_from_group(dave, "staff")
    assert await source.revalidate(identity, ACME, NOW + 20) is None
    slapd.add_to_group(dave, "staff")
    assert await source.revalidate(identity, ACME, NOW + 30) is not None
    slapd.delete(dave.dn)
    try:
        assert await source.revalidate(identity, ACME, NOW + 40) is None
    finally:
        slapd.add_person(dave)  # still a member of staff: slapd keeps the group's value
    # the entry made again is another entry (a new entryUUID): not the same person
    assert await source.revalidate(identity, ACME, NOW + 50) is None


async def test_revalidate_interval_trusts_a_recent_check(slapd: Slapd,
                                                         context: SourceContext) -> None:
    source = source_for(slapd, revalidate_interval="60s")
    eve = Person("eve2", "interval-7", "Eve Interval", "eve2@example.org", ("staff",))
    slapd.add_person(eve)
    identity = await source.authenticate("eve2", eve.password, context)
    assert identity is not None
    assert await source.revalidate(identity, ACME, NOW) is not None  # checked, remembered
    slapd.delete(eve.dn)
    assert await source.revalidate(identity, ACME, NOW + 59) is not None  # within 60 s
    assert await source.revalidate(identity, ACME, NOW + 60) is None  # checked again: gone


async def test_revalidation_when_the_directory_is_down_keeps_the_state(
        slapd: Slapd, context: SourceContext) -> None:
    source = source_for(slapd)
    identity = await source.authenticate("brian", person("brian").password, context)
    assert identity is not None
    slapd.stop()
    try:
        with pytest.raises(SourceUnavailable):  # 503: neither accepted nor ended
            await source.revalidate(identity, ACME, NOW)
    finally:
        slapd.start()


def test_binary_ids_round_trip_to_filter_values() -> None:
    guid = bytes(range(16))
    text = id_text("objectGUID", guid)
    assert text == "03020100-0504-0706-0809-0a0b0c0d0e0f"  # the GUID's usual string form
    assert id_assertion("objectGUID", text) == "".join(f"\\{b:02x}" for b in guid)
    assert id_text("entryUUID", b"abc") == "abc"
    odd = id_text("someId", b"\xff\x00")
    assert odd.startswith("b64:") and id_assertion("someId", odd) == r"\ff\00"
    assert id_assertion("uid", "a*b") == r"a\2ab"


def test_group_filters_escape_the_member_and_keep_a_matching_rule() -> None:
    search = GroupSearch("ou=groups,dc=x", "(objectClass=group)", "sub", (), "cn")
    nested = UserMatcher("DN", "member:1.2.840.113556.1.4.1941:")
    assert group_filter(search, nested, ["CN=Doe\\, John,OU=Staff,DC=x"]) == (
        r"(&(objectClass=group)(|(member:1.2.840.113556.1.4.1941:=CN=Doe\5c, John,OU=Staff,"
        r"DC=x)))")
    posix = UserMatcher("uid", "memberUid")
    assert group_filter(search, posix, ["a*", "b"]) == (
        r"(&(objectClass=group)(|(memberUid=a\2a)(memberUid=b)))")
