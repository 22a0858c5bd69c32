"""Three replicas for real (issue 16 item 4): three ``confidp serve`` processes behind Debian's
HAProxy (round-robin, ``deploy/haproxy/haproxy.cfg`` as shipped), sharing one real Redis, one
state directory and one tenants directory. Browser-like clients (httpx, no JavaScript) sign in
(authorize, login, consent, code, token) and refresh through HAProxy for the whole test while
the replicas are restarted one by one (SIGTERM, wait, start, wait until HAProxy has it back:
a rolling update) and ``confidp keys rotate`` and ``confidp sealing-key rotate`` run against
the shared state directory.

Every response is counted. Documented failures are the README's: a ``503`` with
``Retry-After`` (the store unavailable), which a client retries. Everything else that is not
the flow's next step is a failure: a connection error or reset, HAProxy's own 502/503/504, a
``400`` for a request that should have worked, an ID token whose key the JWKS does not publish
(fetched again after the token arrived), an access token a replica refuses, a refresh chain
revoked. The test asserts there were none, and prints the counts (run with ``-s``)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from confidp.keys.ring import PUBLISH_AHEAD_SECONDS
from tests.e2e.flow import (
    CHALLENGE,
    VERIFIER,
    authorize_url,
    hidden_fields,
    query_of,
    seed_params,
)
from tests.e2e.test_authorize import example
from tests.support import HAProxy, RedisServer, Server, free_port, write_tenant

pytestmark = pytest.mark.e2e
REPLICAS = 3
CLIENTS = 4
REFRESHES_PER_SIGN_IN = 6
CALLBACK = "http://127.0.0.1:9999/callback"
MAX_STORE_RETRIES = 10
JWKS_REFETCH_COOLDOWN = 30.0  # as the jose library's createRemoteJWKSet does by default
SIGN_AFTER = 30  # keys rotate --sign-after: no less than the clients' refetch cooldown
CLIENT_TIMEOUT = 20.0
STOP_WAIT = 30.0  # --shutdown-delay, then SIGTERM drains for up to 15 s
SHUTDOWN_DELAY = 3  # longer than HAProxy's 2 failed checks 1 s apart (haproxy.cfg)
PASSWORD = "wonderland"


def username(index: int) -> str:
    """One person per load client: a person signs in once at a time (the login throttle
    counts each attempt before its password is checked, so one user's concurrent logins
    beyond its limit would be refused by design)."""
    return f"user{index}"


@pytest.fixture(scope="session")
def haproxy_binary() -> str:
    """haproxy must exist in CI; elsewhere its test skips, loudly."""
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy"
                                        if Path("/usr/sbin/haproxy").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("haproxy is missing in CI: .ci/run must install it")
        pytest.skip("haproxy is not installed (apt-get install haproxy): replica test NOT run")
    return found


class Replica:
    """One ``confidp serve`` with fixed ports (HAProxy knows it by address), started again on
    the same ports after a stop, as a rolling update does."""

    def __init__(self, name: str, tenants: Path, themes: Path, state: Path,
                 redis_url: str) -> None:
        self.name = name
        self.tenants, self.themes, self.state = tenants, themes, state
        self.port = free_port()
        self.ops_port = free_port(avoid=self.port)
        # as deploy/haproxy/haproxy.cfg says to run them
        self.args = ("--store", redis_url, "--trust-proxy", "--shutdown-delay",
                     str(SHUTDOWN_DELAY))
        self.server: Server | None = None
        self.logs: list[str] = []
        self.exit_codes: list[int] = []

    def start(self) -> None:
        self.server = Server(self.tenants, self.themes, self.state, self.port, self.args,
                             ops_port=self.ops_port)

    def wait_ready(self) -> None:
        assert self.server is not None
        self.server.wait_ready(timeout=30)

    def stop(self) -> float:
        """SIGTERM, as a rolling update sends it, and the seconds until the process exited
        (it drains requests in flight for up to 15 s)."""
        server = self.server
        assert server is not None
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
        took = time.monotonic() - started
        server.stop()
        self.exit_codes.append(server.process.returncode)
        self.logs.append(server.log_path.read_text(errors="replace"))
        self.server = None
        return took

    def log(self) -> str:
        return "\n".join([*self.logs, self.server.log() if self.server else ""])


@dataclass
class Tally:
    """Every response and outcome, counted; failures kept with what happened."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    # each ID token's key, with the (wall) times its request was sent and its answer came
    signed: list[tuple[float, float, str]] = field(default_factory=list)

    def count(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[name] += amount

    def fail(self, what: str) -> None:
        with self.lock:
            self.counts["failures"] += 1
            self.failures.append(f"{time.strftime('%H:%M:%S')} {what}")


class Failed(Exception):
    """A non-documented outcome: the flow it happened in is abandoned (and counted)."""


class Keys:
    """An application's JWKS cache, as client libraries keep one: fetched once, fetched again
    when a token names a key it does not have, but not more often than every 30 s."""

    def __init__(self, base: str, tally: Tally) -> None:
        self.client = httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT)
        self.tally = tally
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at = -1e9

    def close(self) -> None:
        self.client.close()

    def fetch(self) -> None:
        try:
            response = self.client.get("/acme/jwks")
        except httpx.TransportError as exc:
            self.tally.count("responses: none (transport error)")
            raise Failed(f"jwks: {type(exc).__name__}: {exc}") from None
        self.tally.count(f"responses: {response.status_code}")
        if response.status_code != 200:
            raise Failed(f"jwks: {response.status_code} {response.text[:200]}")
        # new keys are published that long before they sign (confidp.keys.ring)
        max_age = int(response.headers["cache-control"].split("max-age=")[1].split(",")[0])
        if max_age > PUBLISH_AHEAD_SECONDS:
            raise Failed(f"jwks: cacheable for {max_age} s, longer than keys are published "
                         "before they sign")
        self.keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(response.json()).keys}
        self.fetched_at = time.monotonic()

    def verify(self, token: str, issuer: str) -> dict[str, Any]:
        kid = jwt.get_unverified_header(token)["kid"]
        if kid not in self.keys and time.monotonic() - self.fetched_at > JWKS_REFETCH_COOLDOWN:
            self.fetch()
        if kid not in self.keys:
            # a cached JWKS that does not have it yet: is the key published now?
            self.tally.count("id token kid not in the client's cached JWKS")
            cached_at = self.fetched_at
            self.fetch()
            if kid not in self.keys:
                raise Failed(f"id token signed by {kid}, which the JWKS does not publish")
            self.tally.fail(f"id token signed by {kid}, published but not in the JWKS the "
                            f"client fetched {time.monotonic() - cached_at:.1f} s ago")
        key = self.keys[kid]
        try:
            return jwt.decode(token, key.key, algorithms=[key.algorithm_name],
                              audience="portal-spa", issuer=issuer)
        except jwt.PyJWTError as exc:
            raise Failed(f"id token does not verify: {exc}") from None


class Browser:
    """One person's browser (a cookie jar on keep-alive connections to HAProxy) and the
    application it signs in to."""

    def __init__(self, base: str, issuer: str, tally: Tally, keys: Keys) -> None:
        self.client = httpx.Client(base_url=base, follow_redirects=False,
                                   timeout=CLIENT_TIMEOUT)
        self.issuer = issuer
        self.tally = tally
        self.keys = keys
        self.user = ""

    def close(self) -> None:
        self.client.close()

    def call(self, step: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; a documented 503 with Retry-After is retried, as clients should."""
        for _ in range(MAX_STORE_RETRIES):
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                self.tally.count("responses: none (transport error)")
                raise Failed(f"{step}: {type(exc).__name__}: {exc}") from None
            self.tally.count(f"responses: {response.status_code}")
            if response.status_code == 503 and "retry-after" in response.headers:
                self.tally.count(f"documented: 503 with Retry-After at {step}")
                time.sleep(0.2)
                continue
            return response
        raise Failed(f"{step}: still 503 after {MAX_STORE_RETRIES} tries")

    def expect(self, step: str, response: httpx.Response, *statuses: int) -> httpx.Response:
        if response.status_code not in statuses:
            raise Failed(f"{step}: {response.status_code} "
                         f"{response.headers.get('location', '') or response.text[:300]!r}")
        return response

    def begin(self, prompt: str | None = None) -> str:
        """/authorize: the login page's URL."""
        params = seed_params(state=f"s{random.getrandbits(32)}", code_challenge=CHALLENGE)
        if prompt:
            params["prompt"] = prompt
        response = self.expect("authorize", self.call(
            "authorize", "GET", authorize_url("/acme", params)), 302)
        login = response.headers["location"]
        if not login.startswith("/acme/login?"):
            raise Failed(f"authorize: redirected to {login[:200]}")
        return login

    def finish(self, login: str, user: str) -> dict[str, Any]:
        """Login (and consent) from the login page's URL to the token response."""
        self.user = user
        page = self.expect("login page", self.call("login page", "GET", login), 200)
        after = self.expect("login", self.call("login", "POST", "/acme/login", data={
            **hidden_fields(page.text), "username": user, "password": PASSWORD}),
            302, 303).headers["location"]
        if after.startswith("/acme/consent?"):
            page = self.expect("consent page", self.call("consent page", "GET", after), 200)
            after = self.expect("consent", self.call("consent", "POST", "/acme/consent", data={
                **hidden_fields(page.text), "decision": "approve"}), 302, 303
            ).headers["location"]
        if not after.startswith(CALLBACK):
            raise Failed(f"sign-in ended at {after[:200]}")
        result = query_of(after)
        if "code" not in result:
            raise Failed(f"sign-in ended without a code: {result}")
        tokens = self.tokens("code", {
            "grant_type": "authorization_code", "code": result["code"],
            "redirect_uri": CALLBACK, "code_verifier": VERIFIER, "client_id": "portal-spa"})
        self.tally.count("sign-ins completed")
        return tokens

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        tokens = self.tokens("refresh", {"grant_type": "refresh_token",
                                         "refresh_token": refresh_token,
                                         "client_id": "portal-spa"})
        self.tally.count("refreshes completed")
        return tokens

    def tokens(self, step: str, form: dict[str, str]) -> dict[str, Any]:
        """A token response, checked as an application would: the ID token verifies against
        the JWKS and the access token is accepted at userinfo."""
        sent = time.time()
        response = self.expect(step, self.call(step, "POST", "/acme/token", data=form), 200)
        received = time.time()
        tokens: dict[str, Any] = response.json()
        with self.tally.lock:
            self.tally.signed.append(
                (sent, received, jwt.get_unverified_header(tokens["id_token"])["kid"]))
        claims = self.keys.verify(tokens["id_token"], self.issuer)
        if claims["sub"] != self.user:  # the subject is the username
            raise Failed(f"{step}: id token for {claims!r}")
        userinfo = self.expect("userinfo", self.call(
            "userinfo", "GET", "/acme/userinfo",
            headers={"Authorization": f"Bearer {tokens['access_token']}"}), 200)
        if userinfo.json().get("sub") != claims["sub"]:
            raise Failed(f"userinfo: {userinfo.text[:200]}")
        return tokens


@dataclass
class Load:
    """CLIENTS threads, each signing in with a fresh browser and refreshing the tokens it got
    REFRESHES_PER_SIGN_IN times, until told to stop; each keeps its last refresh token."""

    base: str
    issuer: str
    tally: Tally = field(default_factory=Tally)
    stop: threading.Event = field(default_factory=threading.Event)
    last_tokens: dict[int, str] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for index in range(CLIENTS):
            thread = threading.Thread(target=self.client, args=(index,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def client(self, index: int) -> None:
        rounds = 0
        keys = Keys(self.base, self.tally)  # the application's, shared by its sign-ins
        while not self.stop.is_set():
            browser = Browser(self.base, self.issuer, self.tally, keys)
            try:
                # every other sign-in asks for consent again, so both pages are exercised
                login = browser.begin(prompt="consent" if rounds % 2 else None)
                tokens = browser.finish(login, username(index))
                self.last_tokens[index] = tokens["refresh_token"]
                for _ in range(REFRESHES_PER_SIGN_IN):
                    if self.stop.is_set():
                        break
                    tokens = browser.refresh(tokens["refresh_token"])
                    self.last_tokens[index] = tokens["refresh_token"]
            except Failed as exc:
                self.last_tokens.pop(index, None)
                self.tally.fail(f"client {index}: {exc}")
            except Exception as exc:  # an answer not shaped as it should be: counted too
                self.last_tokens.pop(index, None)
                self.tally.fail(f"client {index}: {exc!r}")
            finally:
                browser.close()
            rounds += 1
        keys.close()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)
            assert not thread.is_alive(), "a load client hangs"


def cli(*args: str, state: Path, tenants: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "confidp.cli", *args, "--state-dir",
                           str(state), *(("--tenants", str(tenants)) if args[0] == "keys"
                                         else ())],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def replicas(tmp_path: Path, tenants_dir: Path, themes_dir: Path,
             redis_server: RedisServer, haproxy_binary: str) -> Iterator[tuple[list[Replica],
                                                                            HAProxy]]:
    lb_port = free_port()
    doc = example("acme.yaml", lb_port)
    alice = doc["users"][0]  # type: ignore[index]
    doc["users"] = [alice, *({**alice, "username": username(index),  # type: ignore[dict-item]
                              "email": f"{username(index)}@example.com"}
                             for index in range(CLIENTS))]
    write_tenant(tenants_dir, "acme.yaml", doc)
    state = tmp_path / "state"
    group = [Replica(f"confidp-{n}", tenants_dir, themes_dir, state, redis_server.url)
             for n in range(1, REPLICAS + 1)]
    balancer = HAProxy(tmp_path, [(r.name, r.port, r.ops_port) for r in group], port=lb_port)
    try:
        for replica in group:
            replica.start()
        for replica in group:
            replica.wait_ready()
        balancer.start()
        for replica in group:
            balancer.wait_state(replica.name, "UP")
        yield group, balancer
    finally:
        balancer.stop()
        for replica in group:
            if replica.server is not None:
                replica.stop()


def published_kids(replica: Replica, host: str) -> set[str]:
    """The kids in this replica's own JWKS (asked directly, with the issuer's host)."""
    response = httpx.get(f"http://127.0.0.1:{replica.port}/acme/jwks", headers={"Host": host})
    assert response.status_code == 200, response.text
    return {key["kid"] for key in response.json()["keys"]}


def test_rolling_restart_and_key_rotations_under_load(
        replicas: tuple[list[Replica], HAProxy], tmp_path: Path, tenants_dir: Path) -> None:
    group, balancer = replicas
    state = tmp_path / "state"
    issuer = f"http://127.0.0.1:{balancer.port}/acme"
    load = Load(balancer.base, issuer)
    keys = Keys(balancer.base, load.tally)
    # a sign-in left on its login page and tokens kept from before every rotation and restart
    early = Browser(balancer.base, issuer, load.tally, keys)
    early_tokens = early.finish(early.begin(), "alice")
    old_kid = jwt.get_unverified_header(early_tokens["id_token"])["kid"]
    waiting = Browser(balancer.base, issuer, load.tally, keys)
    waiting_login = waiting.begin()
    timeline: list[str] = []

    def mark(event: str) -> None:
        timeline.append(f"{time.strftime('%H:%M:%S')} {event}")

    load.start()
    started = time.monotonic()
    try:
        time.sleep(4)
        mark(f"keys rotate --sign-after {SIGN_AFTER}s")
        rotating = time.time()
        added = cli("keys", "rotate", "acme", "--sign-after", f"{SIGN_AFTER}s", state=state,
                    tenants=tenants_dir)
        rotated = time.time()
        new_kids = {line.split()[1] for line in added.splitlines() if line.startswith("added")}
        for replica in group:  # published by every replica at once
            assert new_kids <= published_kids(replica, f"127.0.0.1:{balancer.port}")
        for number, replica in enumerate(group):
            time.sleep(2)
            mark(f"SIGTERM {replica.name}")
            took = replica.stop()
            mark(f"{replica.name} exited after {took:.1f} s")
            if number == 1:
                mark("sealing-key rotate (a replica is down)")
                cli("sealing-key", "rotate", state=state, tenants=tenants_dir)
            replica.start()
            replica.wait_ready()
            mark(f"{replica.name} ready")
            balancer.wait_state(replica.name, "UP")
            mark(f"{replica.name} UP in HAProxy")
        # the load goes on until the new keys have signed for a while
        time.sleep(max(4.0, rotated + SIGN_AFTER + 6 - time.time()))
    finally:
        load.finish()
    seconds = time.monotonic() - started

    # the chains the clients held when the load stopped all still refresh
    keys.fetched_at = -1e9  # these checks may fetch the JWKS at once
    survivor = Browser(balancer.base, issuer, load.tally, keys)
    try:
        for index, token in sorted(load.last_tokens.items()):
            try:
                survivor.user = username(index)
                survivor.refresh(token)
            except Failed as exc:
                load.tally.fail(f"chain of client {index} after the load: {exc}")
        # begun before both rotations and every restart, finished after them
        try:
            early.refresh(early_tokens["refresh_token"])
            waiting.finish(waiting_login, "alice")
        except Failed as exc:
            load.tally.fail(f"flow begun before the rotations: {exc}")
        # the access token signed with the old key still verifies on every replica
        for _ in range(REPLICAS):
            response = early.call("old access token", "GET", "/acme/userinfo", headers={
                "Authorization": f"Bearer {early_tokens['access_token']}"})
            if response.status_code != 200:
                load.tally.fail(f"access token from before the rotation: {response.status_code}")
    finally:
        for browser in (survivor, early, waiting):
            browser.close()
        keys.close()

    # every replica switched to the new key at the moment the key file names
    switch_earliest, switch_latest = rotating + SIGN_AFTER, rotated + SIGN_AFTER
    for sent, received, kid in load.tally.signed:
        if kid in new_kids and received < switch_earliest:
            load.tally.fail(f"new key {kid} signed {switch_earliest - received:.1f} s early")
        if kid == old_kid and sent > switch_latest:
            load.tally.fail(f"old key {kid} still signed {sent - switch_latest:.1f} s late")
    # HAProxy took each stopping replica out by its /readyz answer, before its listeners
    # closed; requests it had to send again elsewhere after a refused connection, if any
    haproxy_log = balancer.log()
    taken_out = Counter(line.split("Server confidp/")[1].split(" ")[0]
                        for line in haproxy_log.splitlines()
                        if "is DOWN, reason: Layer7 wrong status, code: 503" in line
                        and not line.startswith("["))
    redispatched = sum(1 for line in haproxy_log.splitlines()
                       if " HTTP/1.1\"" in line and "/+" in line.split('"')[0])
    by_key = Counter("new key" if kid in new_kids else "old key" if kid == old_kid else kid
                     for _, _, kid in load.tally.signed)
    counts = load.tally.counts
    print(f"\n{seconds:.0f} s of load through HAProxy, {CLIENTS} clients, {REPLICAS} replicas")
    for event in timeline:
        print("  " + event)
    documented = sum(value for name, value in counts.items() if name.startswith("documented"))
    print(f"  sign-ins: {counts['sign-ins completed']}, refreshes: "
          f"{counts['refreshes completed']}, responses: "
          f"{sum(v for n, v in counts.items() if n.startswith('responses'))}")
    print(f"  documented failures (503 with Retry-After, retried): {documented}")
    print(f"  other failures: {len(load.tally.failures)}")
    for name, value in sorted(counts.items()):
        print(f"    {name}: {value}")
    for name, value in sorted(by_key.items()):
        print(f"  id tokens signed by the {name}: {value}")
    print(f"  taken out of rotation by /readyz 503: {dict(sorted(taken_out.items()))}")
    print(f"  requests HAProxy sent to another replica after a refused connection: "
          f"{redispatched}")
    for failure in load.tally.failures[:40]:
        print("  FAILURE " + failure)
    assert all(code == 0 for replica in group for code in replica.exit_codes), \
        [(r.name, r.exit_codes) for r in group]
    for replica in group:
        assert "Traceback" not in replica.log(), replica.log()
    assert counts["sign-ins completed"] >= 20 and counts["refreshes completed"] >= 50, counts
    assert by_key["old key"] > 0 and by_key["new key"] > 0, by_key
    assert set(taken_out) == {replica.name for replica in group}, haproxy_log[-5000:]
    assert load.tally.failures == [], (
        "\n".join(load.tally.failures[:40]) + "\n\nHAProxy log (last lines):\n"
        + "\n".join(balancer.log().splitlines()[-60:]))
