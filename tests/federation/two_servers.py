"""Two real confidp processes: ``corp``, the upstream identity provider (its own tenant file
with a confidential client for the downstream tenant), and ``acme``, the downstream that
federates to it (and to a fake GitHub Enterprise for the ``github`` and ``oauth2``
connectors). Shared by the end-to-end and browser tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from tests.federation.fake_upstream import CLIENT_SECRET, FakeGitHub
from tests.support import REPO, Server, free_port, tenant_doc, write_tenant

SECRET_ENV = "CONFIDP_TEST_FED_SECRET"
# cheap to verify in tests (the demo hashes take 64 MiB each)
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
DANA_PASSWORD = "dana-corp-password"


@dataclass(frozen=True, slots=True)
class Federation:
    upstream: Server  # corp
    downstream: Server  # acme
    github: FakeGitHub
    callback: str

    @property
    def corp(self) -> str:
        return f"{self.upstream.base}/corp"

    @property
    def acme(self) -> str:
        return f"{self.downstream.base}/acme"


def _upstream_tenant(up: int, down: int) -> dict[str, Any]:
    callbacks = [f"http://127.0.0.1:{down}/acme/callback/{c}" for c in ("corp", "corp-admins")]
    client = {"client_id": "confidp-acme", "name": "Acme (through confidp)",
              "type": "confidential", "client_secret": {"env": SECRET_ENV},
              "redirect_uris": callbacks, "require_consent": False,
              "scopes": ["openid", "profile", "email", "groups"],
              "grant_types": ["authorization_code"]}
    asks = {**client, "client_id": "confidp-acme-consent", "require_consent": True,
            "redirect_uris": [f"http://127.0.0.1:{down}/acme/callback/corp-consent"]}
    return tenant_doc(
        f"http://127.0.0.1:{up}/corp", display_name="Corp Directory",
        applications=[client, asks],
        users=[{"username": "dana", "password_hash": FAST_HASHER.hash(DANA_PASSWORD),
                "subject": "u-1001", "email": "dana@corp.example", "email_verified": True,
                "name": "Dana Scully", "groups": ["engineering", "staff"]}])


def _downstream_tenant(up: int, down: int, github: FakeGitHub,
                       callback: str) -> dict[str, Any]:
    corp = {"id": "corp", "type": "oidc", "name": "Corp Directory",
            "issuer": f"http://127.0.0.1:{up}/corp", "client_id": "confidp-acme",
            "client_secret": {"env": SECRET_ENV}, "allow_http": True, "timeout": "5s",
            "scopes": ["openid", "profile", "email", "groups"]}
    connectors = [
        corp, {**corp, "id": "corp-admins", "allowed_groups": ["admins"]},
        {**corp, "id": "corp-consent", "client_id": "confidp-acme-consent"},
        {"id": "gh", "type": "github", "name": "GitHub", "host": github.url,
         "client_id": "confidp-acme", "client_secret": {"env": SECRET_ENV},
         "allow_http": True, "orgs": [{"name": "acme"}]},
        {"id": "ex", "type": "oauth2", "name": "Example OAuth",
         "authorization_endpoint": f"{github.url}/login/oauth/authorize",
         "token_endpoint": f"{github.url}/login/oauth/access_token",
         "userinfo_endpoint": f"{github.url}/api/v3/user",
         "token_endpoint_auth_method": "client_secret_post",
         "client_id": "confidp-acme", "client_secret": {"env": SECRET_ENV},
         "allow_http": True}]
    applications = [{"client_id": f"portal-{c['id']}", "name": "Acme Portal", "type": "public",
                     "redirect_uris": [callback], "connectors": [c["id"]],
                     "scopes": ["openid", "profile", "email", "groups", "offline_access"],
                     "grant_types": ["authorization_code", "refresh_token"],
                     "require_consent": c["id"] == "corp"}
                    for c in connectors]
    applications.append({"client_id": "portal-all", "name": "Acme Portal", "type": "public",
                         "redirect_uris": [callback],
                         "scopes": ["openid", "profile", "email", "groups", "offline_access"],
                         "grant_types": ["authorization_code", "refresh_token"]})
    return tenant_doc(f"http://127.0.0.1:{down}/acme", connectors=connectors,
                      applications=applications)


@contextlib.contextmanager
def federation(root: Path, callback: str) -> Iterator[Federation]:
    up, down = free_port(), free_port()
    while down == up:
        down = free_port()
    env = {SECRET_ENV: CLIENT_SECRET}
    themes = REPO / "themes"
    with FakeGitHub().running() as github:
        for name in ("up", "down"):
            (root / name / "tenants").mkdir(parents=True)
        write_tenant(root / "up" / "tenants", "corp.yaml",
                     _upstream_tenant(up, down))
        write_tenant(root / "down" / "tenants", "acme.yaml",
                     _downstream_tenant(up, down, github, callback))
        upstream = Server(root / "up" / "tenants", themes, root / "up" / "state", up, env=env)
        downstream = Server(root / "down" / "tenants", themes, root / "down" / "state", down,
                            env=env)
        try:
            for server in (upstream, downstream):  # two at once on a busy CI machine
                server.wait_ready(timeout=60)
            yield Federation(upstream, downstream, github, callback)
        finally:
            upstream.stop()
            downstream.stop()
