"""What a sign-in through an upstream identity provider adds (issue 12, Step 7).

Starts two real confidp servers on 127.0.0.1: ``corp``, the upstream OpenID Connect provider
(its own tenant file, a confidential client for the downstream), and ``acme``, which
federates to it. Then, alternately in one run, it times complete sign-ins from /authorize to
the tokens:

- local: acme's login form (an argon2id password check at acme), code, /token;
- federated: acme's /authorize straight to corp (one connector), corp's login form (the same
  argon2id check at corp), corp's code to acme's callback (discovery and keys cached after
  the first; the code exchange, the ID token's signature against corp's JWKS), code, /token.

The password hashes are cheap argon2id ones in both, so the password check (the same in both
flows) does not hide the round trip in its noise.

Both flows start without a session and run one at a time from one client, so the difference
is the upstream round trip itself. Figures on a shared, loaded machine are noisy: read the
ratio and the difference measured in the same run; the lead takes the final figures on a
quiet machine.

    python bench/federation.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import yaml
from argon2 import PasswordHasher

REPO = Path(__file__).resolve().parent.parent
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CALLBACK = "http://127.0.0.1:9999/callback"
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
SECRET_ENV = "CONFIDP_BENCH_FED_SECRET"
SECRET = "bench-federation-secret-0123456789"
PASSWORD = "bench-password-0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tenants(up: int, down: int, password_hash: str) -> dict[str, dict[str, Any]]:
    user = {"username": "dana", "password_hash": password_hash, "email": "dana@example.com",
            "email_verified": True, "name": "Dana", "groups": ["staff"]}
    corp = {"issuer": f"http://127.0.0.1:{up}/corp", "display_name": "Corp",
            "applications": [{"client_id": "acme", "name": "Acme", "type": "confidential",
                              "client_secret": {"env": SECRET_ENV},
                              "redirect_uris": [f"http://127.0.0.1:{down}/acme/callback/corp"],
                              "scopes": ["openid", "profile", "email", "groups"],
                              "grant_types": ["authorization_code"]}],
            "users": [user]}
    app = {"name": "Portal", "type": "public", "redirect_uris": [CALLBACK],
           "scopes": ["openid", "profile", "email", "groups"]}
    acme = {"issuer": f"http://127.0.0.1:{down}/acme", "display_name": "Acme",
            "connectors": [{"id": "corp", "type": "oidc", "issuer": f"http://127.0.0.1:{up}/corp",
                            "client_id": "acme", "client_secret": {"env": SECRET_ENV},
                            "allow_http": True,
                            "scopes": ["openid", "profile", "email", "groups"]}],
            "applications": [{**app, "client_id": "local", "connectors": ["local"]},
                             {**app, "client_id": "federated", "connectors": ["corp"]}],
            "users": [user]}
    return {"corp": corp, "acme": acme}


@contextmanager
def server(work: Path, name: str, port: int, document: dict[str, Any]) -> Iterator[str]:
    tenants_dir = work / name / "tenants"
    tenants_dir.mkdir(parents=True)
    (tenants_dir / f"{name}.yaml").write_text(yaml.safe_dump(document))
    process = subprocess.Popen(
        [sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(tenants_dir),
         "--themes", str(REPO / "themes"), "--state-dir", str(work / name / "state"),
         "--host", "127.0.0.1", "--port", str(port), "--ops-port", str(free_port()),
         "--log-level", "WARNING"],
        env={**os.environ, SECRET_ENV: SECRET}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/{name}/.well-known/openid-configuration").status_code \
                        == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"the {name} server did not start")
            time.sleep(0.1)
        yield f"{base}/{name}"
    finally:
        process.terminate()
        process.wait(10)


def target(response: httpx.Response) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text[:300])
    return urljoin(str(response.url), response.headers["location"])


def sign_in(acme: str, client_id: str) -> float:
    """One complete sign-in from /authorize to the tokens, in a fresh browser: seconds."""
    started = time.perf_counter()
    with httpx.Client(timeout=30) as browser:
        query = {"client_id": client_id, "redirect_uri": CALLBACK, "response_type": "code",
                 "scope": "openid profile email groups", "state": "s", "nonce": "n",
                 "code_challenge": CHALLENGE, "code_challenge_method": "S256"}
        response = browser.get(f"{acme}/authorize?{urlencode(query)}")
        while not target(response).startswith(CALLBACK):
            url = target(response)
            if "/login?" in url:
                page = browser.get(url)
                fields = dict(HIDDEN.findall(page.text))
                response = browser.post(url.split("?")[0], data={
                    **fields, "username": "dana", "password": PASSWORD})
            else:
                response = browser.get(url)
        code = parse_qs(urlsplit(target(response)).query)["code"][0]
        tokens = browser.post(f"{acme}/token", data={
            "grant_type": "authorization_code", "code": code, "client_id": client_id,
            "redirect_uri": CALLBACK, "code_verifier": VERIFIER})
        assert tokens.status_code == 200 and "id_token" in tokens.json(), tokens.text
    return time.perf_counter() - started


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (f"{name:<10} median {statistics.median(times) * 1000:7.1f} ms   "
            f"p90 {p90 * 1000:7.1f} ms   ({len(times)} sign-ins)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    up, down = free_port(), free_port()
    # a cheap argon2id hash for both: the password check (the same in both flows, 64 MiB and
    # tens of ms at confidp's default cost) would otherwise hide the round trip in its noise
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    documents = tenants(up, down, hasher.hash(PASSWORD))
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        with server(work, "corp", up, documents["corp"]), \
                server(work, "acme", down, documents["acme"]) as acme:
            sign_in(acme, "local")
            sign_in(acme, "federated")  # warm: keys made, discovery and JWKS fetched
            local: list[float] = []
            federated: list[float] = []
            for _ in range(args.rounds):  # alternately, so both see the same load
                local.append(sign_in(acme, "local"))
                federated.append(sign_in(acme, "federated"))
    added = statistics.median(f - lo for f, lo in zip(federated, local, strict=True))
    print(summary("local", local))
    print(summary("federated", federated))
    print(f"an upstream sign-in adds {added * 1000:.1f} ms (median of the {args.rounds} "
          f"paired differences; {statistics.median(federated) / statistics.median(local):.2f}"
          " x the local sign-in's median), measured in the same run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
