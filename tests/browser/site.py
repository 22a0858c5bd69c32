"""The site the browser tests visit: a real ``confidp serve`` with the repository's two
example tenants, adjusted for the tests (their application redirects to the local callback
server, asks for consent, and has every page link a tenant can set), and the shipped themes.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from argon2 import PasswordHasher

from tests.support import REPO, Server, free_port, running_server, write_tenant

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/lib/chromium/chromium")
                 if Path(p).exists()), None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
ARTIFACTS = REPO / "test-artifacts"
# cheap to verify: dozens of sign-ins per run (the demo hashes take 64 MiB each)
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# users for failed sign-ins, one each, since the test tenants throttle after two failures
# per user (a name that is no user would be checked against a full-cost dummy hash)
VISITORS = 400
CONNECTOR_SECRET = "CONFIDP_TEST_SITE_CONNECTOR"
VISITOR_PASSWORD = "visitor-password"
LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" width="96" height="32" viewBox="0 0 96 32">'
        '<rect width="96" height="32" rx="6" fill="#5b3cc4"/>'
        '<text x="48" y="21" font-size="14" text-anchor="middle" fill="#fff" '
        'font-family="sans-serif">LOGO</text></svg>')


@dataclass(frozen=True, slots=True)
class TenantSite:
    """One tenant as the tests use it."""

    name: str  # tenant id and issuer path
    theme: str
    client_id: str
    application: str
    username: str
    password: str
    person_name: str


@dataclass(frozen=True, slots=True)
class Site:
    server: Server
    callback: str
    tenants: dict[str, TenantSite]
    # the same tenants with their issuers on http://localhost:<port>: WebAuthn needs a domain
    # as its RP ID (an issuer on 127.0.0.1 offers no passkeys), and Chromium treats
    # http://localhost as a secure context (tests/browser/test_passkeys.py)
    passkeys: Server
    _visitors: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def fresh_visitor(self) -> str:
        """A user of both tenants that no test has used yet."""
        number = next(self._visitors)
        assert number <= VISITORS, "raise VISITORS"
        return f"visitor-{number}"

    @property
    def base(self) -> str:
        return self.server.base

    @property
    def passkey_base(self) -> str:
        return f"http://localhost:{self.passkeys.port}"

    def authorize_url(self, tenant: TenantSite, base: str | None = None, **extra: str) -> str:
        """prompt=consent: a consent given in an earlier test must not skip the page."""
        query = {"prompt": "consent", "client_id": tenant.client_id, "redirect_uri": self.callback,
                 "response_type": "code", "scope": _SCOPES[tenant.name], "state": "9d4f8dd1",
                 "code_challenge": CHALLENGE, "code_challenge_method": "S256", **extra}
        return f"{base or self.base}/{tenant.name}/authorize?{urlencode(query)}"


_SCOPES = {"acme": "openid profile email offline_access orders.read",
           "globex": "openid profile invoices.write"}


DIRECTORY_CLIENT = "directory-portal"


def _adjusted(name: str, port: int, callback: str, password: str,
              host: str = "127.0.0.1") -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((REPO / "tenants" / f"{name}.yaml").read_text())
    doc["issuer"] = doc["issuer"].replace("localhost:8000", f"{host}:{port}")
    if host == "localhost":  # "Sign in with a passkey" (tests/browser/test_passkeys.py)
        doc["second_factors"] = {**doc.get("second_factors", {}), "passwordless": True}
    app = doc["applications"][0]
    app["redirect_uris"] = [callback]
    app["post_logout_redirect_uris"] = [callback]
    app["require_consent"] = True
    app["logo_uri"] = f"/{name}/assets/test-logo.svg"
    app["policy_uri"] = f"https://{name}.example/privacy"
    app["tos_uri"] = f"https://{name}.example/terms"
    if name == "acme":  # acme can start a sign-in again; globex only has a home page
        app["initiate_login_uri"] = "https://portal.example.com/login"
    else:
        app["client_uri"] = "https://billing.globex.example/"
    doc["theme"]["logo_url"] = f"/{name}/assets/test-logo.svg"
    doc["links"] = {"account_recovery": f"https://{name}.example/reset",
                    "help": f"https://{name}.example/help"}
    doc["login_throttle"] = {"max_failures_per_user": 2, "max_failures_per_ip": 100000,
                             "window": "15m"}
    # an upstream identity provider that does not answer: the login page shows its button,
    # and choosing it shows the error page (tests/browser/pages.py); and a directory that an
    # application accepts beside the tenant's users: its login form asks which account
    # (confidp.web.signin.password_choice; no directory needs to answer for the page)
    doc["connectors"] = [{"id": "corp", "type": "oidc", "name": "Corporate SSO",
                          "issuer": f"http://127.0.0.1:{free_port(avoid=port)}/corp",
                          "client_id": "confidp", "client_secret": {"env": CONNECTOR_SECRET},
                          "allow_http": True, "timeout": "2s"},
                         {"id": "corp-ldap", "type": "ldap", "name": "Corporate directory",
                          "url": "ldap://127.0.0.1:9", "allow_plaintext": True,
                          "bind_dn": "cn=confidp,dc=example,dc=org",
                          "bind_password": {"file": "ldap-bind.secret"},
                          "user_search": {"base_dn": "ou=people,dc=example,dc=org"}}]
    app["connectors"] = ["local", "corp"]
    doc["applications"].append({
        "client_id": DIRECTORY_CLIENT, "name": f"{app['name']} (directory)", "type": "public",
        "redirect_uris": [callback], "scopes": ["openid"], "connectors": ["local", "corp-ldap"]})
    for user in doc["users"]:
        user["password_hash"] = FAST_HASHER.hash(password)
    visitor_hash = FAST_HASHER.hash(VISITOR_PASSWORD)
    doc["users"] += [{"username": f"visitor-{n}", "password_hash": visitor_hash}
                     for n in range(1, VISITORS + 1)]
    return doc


@contextlib.contextmanager
def start_site(root: Path, callback: str) -> Iterator[Site]:
    tenants_dir = root / "tenants"
    tenants_dir.mkdir()
    (tenants_dir / "ldap-bind.secret").write_text("not-a-real-bind-password\n")
    themes = root / "themes"
    shutil.copytree(REPO / "themes", themes)
    (themes / "default" / "static").mkdir(parents=True)
    (themes / "default" / "static" / "test-logo.svg").write_text(LOGO)
    port = free_port()
    sites = {
        "acme": TenantSite("acme", "default", "portal-spa", "Acme Customer Portal", "alice",
                           "wonderland", "Alice Liddell"),
        "globex": TenantSite("globex", "midnight", "billing", "Globex Billing", "hank",
                             "hankscorpio", "Hank Scorpio"),
    }
    passkey_port = free_port(avoid=port)
    passkey_tenants = root / "tenants-localhost"
    passkey_tenants.mkdir()
    for name, tenant in sites.items():
        write_tenant(tenants_dir, f"{name}.yaml",
                     _adjusted(name, port, callback, tenant.password))
        write_tenant(passkey_tenants, f"{name}.yaml",
                     _adjusted(name, passkey_port, callback, tenant.password, "localhost"))
    (passkey_tenants / "ldap-bind.secret").write_text("not-a-real-bind-password\n")
    env = {CONNECTOR_SECRET: "site-connector-secret"}
    with running_server(tenants_dir, themes, root / "state", port, env=env) as server, \
            running_server(passkey_tenants, themes, root / "state-localhost",
                           passkey_port, env=env) as passkeys:
        yield Site(server, callback, sites, passkeys)
