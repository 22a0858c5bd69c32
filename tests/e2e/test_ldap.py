"""Signing in through an ``ldap`` connector, end to end: the real server (a subprocess) and a
real OpenLDAP slapd (tests/ldap_support.py), a relying party (Authlib) getting tokens whose
claims come from the directory. Negative cases: wrong password, unknown user, a group not
allowed, throttled guesses, the directory down or frozen, a person removed from the
directory losing their refresh token at its next use.

One slapd and one server serve the whole module (the suite stays fast): tenant ``acme``
for the flows, ``guarded`` (allowed_groups: staff) for the group rule, ``throttled`` for the
concurrent guesses (its own counters)."""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from confidp.themes import BUILTIN_DEFAULT, DEFAULT
from tests.e2e.flow import (
    VERIFIER,
    authorize_url,
    hidden_fields,
    location,
    query_of,
    seed_params,
    submit_consent,
    submit_login,
)
from tests.ldap_support import (
    BIND_PASSWORD_ENV,
    SERVICE_PASSWORD,
    Person,
    Slapd,
    connector_spec,
    person,
    slapd_fixture,  # noqa: F401 - the module's slapd (fixture "slapd")
)
from tests.support import (
    ALICE_HASH,
    REPO,
    Server,
    free_port,
    running_server,
    tenant_doc,
    write_tenant,
)

pytestmark = pytest.mark.e2e
CALLBACK = "http://127.0.0.1:9999/callback"
SCOPES = "openid profile email groups offline_access"
GUESSES = 30
PER_USER, PER_IP = 5, 20  # the defaults


def ldap_tenant(port: int, name: str, slapd: Slapd, **connector: Any) -> dict[str, Any]:
    return tenant_doc(
        f"http://127.0.0.1:{port}/{name}", users=[],
        applications=[{"client_id": "portal-spa", "name": "Portal", "type": "public",
                       "redirect_uris": [CALLBACK],
                       "grant_types": ["authorization_code", "refresh_token"],
                       "scopes": ["openid", "profile", "email", "groups", "offline_access"]}],
        connectors=[connector_spec(slapd, timeout="1s", connect_timeout="1s", **connector)])


@pytest.fixture(scope="module")
def idp(slapd: Slapd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ldap-e2e")
    tenants, themes = root / "tenants", root / "themes"
    tenants.mkdir()
    shutil.copytree(REPO / "themes", themes)
    shutil.copytree(BUILTIN_DEFAULT, themes / DEFAULT)
    port = free_port()
    write_tenant(tenants, "acme.yaml", ldap_tenant(port, "acme", slapd))
    write_tenant(tenants, "guarded.yaml",
                 ldap_tenant(port, "guarded", slapd, allowed_groups=["staff"]))
    write_tenant(tenants, "throttled.yaml", ldap_tenant(port, "throttled", slapd))
    mixed = ldap_tenant(port, "mixed", slapd)
    mixed["users"] = [{"username": "alice", "password_hash": ALICE_HASH}]
    write_tenant(tenants, "mixed.yaml", mixed)
    with running_server(tenants, themes, root / "state", port,
                        env={BIND_PASSWORD_ENV: SERVICE_PASSWORD}) as server:
        yield server


def login_page(idp: Server, browser: httpx.Client, tenant: str = "acme") -> str:
    return location(browser.get(authorize_url(
        f"/{tenant}", seed_params(scope=SCOPES, nonce="n-ldap"))))


def sign_in(idp: Server, who: Person, tenant: str = "acme") -> str:
    """The browser's way through the real pages; the callback URL with the code."""
    with httpx.Client(base_url=idp.base, follow_redirects=False, timeout=10) as browser:
        after = location(submit_login(browser, login_page(idp, browser, tenant), who.uid,
                                      who.password))
        if "/consent?" in after:
            after = location(submit_consent(browser, after, "approve"))
        return after


def portal() -> OAuth2Client:
    return OAuth2Client("portal-spa", token_endpoint_auth_method="none", redirect_uri=CALLBACK,
                        code_challenge_method="S256", timeout=10)


def id_token_claims(idp: Server, token: str, tenant: str = "acme") -> dict[str, Any]:
    metadata = httpx.get(f"{idp.base}/{tenant}/.well-known/openid-configuration").json()
    key = pyjwt.PyJWKClient(metadata["jwks_uri"], cache_jwk_set=False
                            ).get_signing_key_from_jwt(token)
    return pyjwt.decode(token, key.key, algorithms=["RS256"], audience="portal-spa",
                        issuer=metadata["issuer"])


def audit_events(idp: Server, event: str, username: str) -> list[dict[str, Any]]:
    """The server's audit events (JSON lines in its log, confidp.audit) of ``event`` for
    ``username``."""
    found = []
    for line in idp.log().splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == event and \
                record.get("username") == username:
            found.append(record)
    return found


def login_attempt(idp: Server, username: str, password: str,
                  tenant: str = "acme") -> httpx.Response:
    with httpx.Client(base_url=idp.base, follow_redirects=False, timeout=30) as browser:
        return submit_login(browser, login_page(idp, browser, tenant), username, password)


def test_a_relying_party_gets_tokens_whose_claims_come_from_the_directory(
        idp: Server) -> None:
    ada = person("ada")
    callback = sign_in(idp, ada)
    issuer = f"{idp.base}/acme"
    with portal() as client:
        token = client.fetch_token(f"{issuer}/token", authorization_response=callback,
                                   code_verifier=VERIFIER)
        claims = id_token_claims(idp, token["id_token"])
        assert claims["sub"].startswith("corp-ldap:") and len(claims["sub"]) == 10 + 36
        assert (claims["preferred_username"], claims["name"], claims["email"]) == (
            "ada", "Ada Lovelace", "ada@example.org")
        assert claims["email_verified"] is False  # the connector does not vouch for it
        assert set(claims["groups"]) == {"staff", "admins"}
        assert claims["nonce"] == "n-ldap"
        assert claims["amr"] == ["pwd"]  # a password, checked by confidp: not federated
        info = client.get(f"{issuer}/userinfo").json()
        assert info["sub"] == claims["sub"] and info["email"] == "ada@example.org"
        refreshed = client.refresh_token(f"{issuer}/token",
                                         refresh_token=token["refresh_token"])
        assert id_token_claims(idp, refreshed["id_token"])["sub"] == claims["sub"]


def test_wrong_password_and_unknown_user_get_the_same_answer(idp: Server) -> None:
    wrong = login_attempt(idp, "brian", "not-his-password")
    unknown = login_attempt(idp, "nobody-here", "whatever-1")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "The username or password is incorrect." in response.text
    assert "brian" in wrong.text  # the username stays in the form
    # the audit log says why, the person is not told
    assert any(e["reason"] == "wrong_password" and e["connector"] == "corp-ldap"
               for e in audit_events(idp, "signin.failed", "brian"))
    assert any(e["reason"] == "unknown_user" and e["connector"] == "corp-ldap"
               for e in audit_events(idp, "signin.failed", "nobody-here"))


def test_a_group_not_allowed(idp: Server) -> None:
    """carol's password is right, but she is only in contractors: she is refused like a
    wrong password (no hint that the password was right), and the attempt stays counted."""
    carol = person("carol")
    refused = login_attempt(idp, carol.uid, carol.password, tenant="guarded")
    assert refused.status_code == 401
    assert "The username or password is incorrect." in refused.text
    assert any(e["reason"] == "not_allowed" and e["tenant"] == "guarded"
               for e in audit_events(idp, "signin.failed", "carol"))
    assert "code=" in sign_in(idp, person("brian"), tenant="guarded")  # staff: allowed


def at_once(idp: Server, tenant: str, credentials: list[tuple[str, str]]) -> Counter[int]:
    """Every (username, password) posted to one login form at the same moment."""
    with httpx.Client(base_url=idp.base, follow_redirects=False, timeout=30) as browser:
        page = browser.get(login_page(idp, browser, tenant))
        fields, cookies = hidden_fields(page.text), browser.cookies
    statuses: list[int] = []
    barrier = threading.Barrier(len(credentials))

    def post(username: str, password: str) -> None:
        with httpx.Client(base_url=idp.base, cookies=cookies, timeout=60) as client:
            barrier.wait()
            statuses.append(client.post(f"/{tenant}/login", data={
                **fields, "username": username, "password": password}).status_code)
    threads = [threading.Thread(target=post, args=pair) for pair in credentials]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return Counter(statuses)


def test_concurrent_guesses_are_throttled_like_local_passwords(idp: Server) -> None:
    """A 401 is a guess the directory checked; a 429 one refused before it reached the
    directory. However many arrive at once, no more than the limits are checked."""
    eve = person("eve")
    statuses = at_once(idp, "throttled", [("eve", f"guess-{n}") for n in range(GUESSES)])
    print(f"\n{GUESSES} concurrent wrong guesses for one LDAP user: {statuses[401]} checked "
          f"(limit {PER_USER}), {statuses[429]} refused")
    assert set(statuses) <= {401, 429}
    assert statuses[401] <= PER_USER
    assert statuses[401] + statuses[429] == GUESSES
    # the right password too is refused now, without reaching the directory
    assert at_once(idp, "throttled", [("eve", eve.password)]) == {429: 1}
    statuses = at_once(idp, "throttled", [(f"user{n}", "guess") for n in range(GUESSES)])
    print(f"{GUESSES} concurrent guesses from one IP for other users: {statuses[401]} "
          f"checked (limit {PER_IP}, {PER_USER} already used), {statuses[429]} refused")
    assert set(statuses) <= {401, 429}
    assert statuses[401] <= PER_IP
    assert statuses[401] + statuses[429] == GUESSES


def test_directory_down_a_clear_page_and_status_shows_the_error(
        idp: Server, slapd: Slapd) -> None:
    slapd.stop()
    try:
        response = login_attempt(idp, "brian", person("brian").password)
        assert response.status_code == 503
        assert "The sign-in service is temporarily unavailable." in response.text
        assert response.headers["retry-after"]
        assert 'name="username"' in response.text  # the form again, to try later
        status = idp.status("acme")
        connector = status["connectors"]["corp-ldap"]
        assert connector["type"] == "ldap" and connector["url"] == slapd.url
        assert connector["tls"] == "none" and connector["last_success_at"]
        assert slapd.url in connector["last_error"] and connector["last_error_at"]
        assert SERVICE_PASSWORD not in str(status)
        assert any(e["reason"] == "upstream_error" and e["connector"] == "corp-ldap"
                   for e in audit_events(idp, "signin.failed", "brian"))
        assert person("brian").password not in idp.log()
    finally:
        slapd.start()
    assert "code=" in sign_in(idp, person("brian"))


def test_directory_frozen_the_timeout_answers(idp: Server, slapd: Slapd) -> None:
    """SIGSTOP: slapd's port still accepts connections, nothing answers. The sign-in gets
    the same clear 503 once the connector's timeout (1 s here) passes, not a hang."""
    slapd.pause()
    try:
        response = login_attempt(idp, "brian", person("brian").password)
    finally:
        slapd.resume()
    assert response.status_code == 503
    assert "The sign-in service is temporarily unavailable." in response.text
    last_error = idp.status("acme")["connectors"]["corp-ldap"]["last_error"]
    assert "timed out" in last_error or "timeout" in last_error, last_error


def test_a_person_removed_from_the_directory_loses_their_refresh_token(
        idp: Server, slapd: Slapd) -> None:
    leaver = Person("leaver", "leaving-8", "Lee Leaver", "leaver@example.org", ("staff",))
    slapd.add_person(leaver)
    issuer = f"{idp.base}/acme"
    with portal() as client:
        token = client.fetch_token(f"{issuer}/token", authorization_response=sign_in(
            idp, leaver), code_verifier=VERIFIER)
        refreshed = client.refresh_token(f"{issuer}/token",
                                         refresh_token=token["refresh_token"])
        slapd.delete(leaver.dn)
        gone = httpx.post(f"{issuer}/token", data={
            "grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"],
            "client_id": "portal-spa"})
        assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"
        assert client.get(f"{issuer}/userinfo").status_code == 401


def test_refresh_while_the_directory_is_down_is_a_503_and_the_token_survives(
        idp: Server, slapd: Slapd) -> None:
    issuer = f"{idp.base}/acme"
    with portal() as client:
        token = client.fetch_token(f"{issuer}/token", authorization_response=sign_in(
            idp, person("brian")), code_verifier=VERIFIER)
        slapd.stop()
        try:
            down = httpx.post(f"{issuer}/token", data={
                "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
                "client_id": "portal-spa"})
        finally:
            slapd.start()
        assert down.status_code == 503 and down.json()["error"] == "temporarily_unavailable"
        assert down.headers["retry-after"]
        again = httpx.post(f"{issuer}/token", data={
            "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
            "client_id": "portal-spa"})
        assert again.status_code == 200, again.text


def test_codes_carry_the_directory_identity(idp: Server) -> None:
    """The code's identity is re-checked at the token endpoint like a refresh token's."""
    assert query_of(sign_in(idp, person("ada")))["code"]


def choose_and_sign_in(idp: Server, source: str, username: str,
                       password: str) -> httpx.Response:
    with httpx.Client(base_url=idp.base, follow_redirects=False, timeout=30) as browser:
        page = browser.get(login_page(idp, browser, "mixed"))
        assert page.status_code == 200
        return browser.post("/mixed/login", data={
            **hidden_fields(page.text), "source": source, "username": username,
            "password": password})


def test_with_local_users_and_a_directory_the_form_asks_which_account(
        idp: Server, slapd: Slapd) -> None:
    """Only the chosen source checks the password: a password typed for the tenant's own
    account never reaches the directory (with the directory down, a wrong local password
    is a plain 401, not a 503), and a directory password is never tried locally."""
    with httpx.Client(base_url=idp.base, follow_redirects=False, timeout=30) as browser:
        page = browser.get(login_page(idp, browser, "mixed")).text
    assert '<select id="source" name="source">' in page
    assert '<option value="local"' in page and '<option value="corp-ldap"' in page
    assert "Corporate directory" in page and "Test Tenant account" in page
    ada = person("ada")
    assert location(choose_and_sign_in(idp, "corp-ldap", "ada", ada.password))
    assert location(choose_and_sign_in(idp, "local", "alice", "wonderland"))
    assert choose_and_sign_in(idp, "local", "ada", ada.password).status_code == 401
    assert choose_and_sign_in(idp, "corp-ldap", "alice", "wonderland").status_code == 401
    assert choose_and_sign_in(idp, "nonsense", "alice", "wonderland").status_code == 400
    slapd.stop()
    try:
        assert choose_and_sign_in(idp, "local", "alice", "wrong").status_code == 401
        assert choose_and_sign_in(idp, "corp-ldap", "ada", ada.password).status_code == 503
    finally:
        slapd.start()


def test_a_session_or_access_token_used_while_the_directory_is_down_is_a_503(
        idp: Server, slapd: Slapd) -> None:
    """Re-checks that cannot reach the directory neither pass nor end anything: /authorize
    with a session shows a clear 503 page, /userinfo answers 503; both work again after."""
    brian = person("brian")
    issuer = f"{idp.base}/acme"
    with httpx.Client(base_url=idp.base, follow_redirects=False, timeout=30) as browser, \
            portal() as client:
        callback = location(submit_login(browser, login_page(idp, browser), brian.uid,
                                         brian.password))
        if "/consent?" in callback:
            callback = location(submit_consent(browser, callback, "approve"))
        client.fetch_token(f"{issuer}/token", authorization_response=callback,
                           code_verifier=VERIFIER)
        again = authorize_url("/acme", seed_params(scope=SCOPES))
        slapd.stop()
        try:
            page = browser.get(again)
            info = client.get(f"{issuer}/userinfo")
        finally:
            slapd.start()
        assert page.status_code == 503 and page.headers["retry-after"]
        assert "The sign-in service is temporarily unavailable." in page.text
        assert info.status_code == 503
        assert "code=" in location(browser.get(again))  # the session survived
        assert client.get(f"{issuer}/userinfo").status_code == 200
