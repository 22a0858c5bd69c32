"""Tiny upstream identity providers for the federation tests, each a real HTTP server on
127.0.0.1 in a thread of the test process:

- ``FakeOidc``: an OpenID Connect provider serving discovery, a JWKS, an authorization
  endpoint that signs the person in at once (who: ``person``), a token endpoint that checks
  the client's secret, the code, its redirect URI and the PKCE verifier, and signs ID tokens
  with joserfc; and userinfo. ``misbehave`` makes its next ID tokens wrong in one way
  (a wrong nonce, an unknown key, another audience, expired) or its token endpoint slow.
- ``FakeGitHub``: GitHub's OAuth app endpoints and the REST API confidp reads (user, e-mails,
  organisations, teams), at GitHub Enterprise Server's paths (``/api/v3``).

They are the tests' own code: the downstream confidp is the code under test and talks to
them over real HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "confidp-acme"
CLIENT_SECRET = "upstream-secret-0123456789"


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    from urllib.parse import unquote
    return unquote(user), unquote(password)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None
              ) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.owner.requests.append(("GET", parts.path))
        self.server.owner.get(self, parts.path, query)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        self.server.owner.requests.append(("POST", parts.path))
        self.server.owner.post(self, parts.path, self._form())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Any


@dataclass
class _Base:
    port: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0  # seconds the token endpoint waits before answering
    _server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextmanager
    def running(self) -> Iterator[Any]:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.owner = self
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self._server = server
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    def get(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        handler._send(404, {"error": "not_found"})

    def post(self, handler: _Handler, path: str, form: dict[str, str]) -> None:
        handler._send(404, {"error": "not_found"})


@dataclass
class FakeOidc(_Base):
    issuer_path: str = ""
    person: dict[str, Any] = field(default_factory=lambda: {
        "sub": "u-1001", "preferred_username": "dana", "email": "dana@corp.example",
        "email_verified": True, "name": "Dana Scully", "groups": ["engineering", "staff"]})
    misbehave: str | None = None  # wrong_nonce | unknown_key | wrong_aud | expired
    deny: bool = False  # the person declines at the provider
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={
        "kid": "upstream-1", "use": "sig", "alg": "RS256"}))
    stranger: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={
        "kid": "stranger", "use": "sig", "alg": "RS256"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_auth: list[str] = field(default_factory=list)  # how each token request authenticated

    @property
    def issuer(self) -> str:
        return self.url + self.issuer_path

    def discovery(self) -> dict[str, Any]:
        base = self.issuer
        return {"issuer": base, "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
                "userinfo_endpoint": f"{base}/userinfo", "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"]}

    def get(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        path = path.removeprefix(self.issuer_path)
        if path == "/.well-known/openid-configuration":
            handler._send(200, self.discovery())
        elif path == "/jwks":
            handler._send(200, {"keys": [self.key.as_dict(private=False)]})
        elif path == "/authorize":
            target = query["redirect_uri"]
            if self.deny:
                answer = {"error": "access_denied", "state": query["state"]}
            else:
                code = secrets.token_urlsafe(16)
                self.codes[code] = dict(query)
                answer = {"code": code, "state": query["state"]}
            handler._send(302, None, {"Location": f"{target}?{urlencode(answer)}"})
        elif path == "/userinfo":
            handler._send(200, {**self.person, "locale": "en-GB"})
        else:
            handler._send(404, {"error": "not_found"})

    def post(self, handler: _Handler, path: str, form: dict[str, str]) -> None:
        path = path.removeprefix(self.issuer_path)
        if path != "/token":
            handler._send(404, {"error": "not_found"})
            return
        if self.delay:
            time.sleep(self.delay)
        if self.misbehave in ("deep_json", "drip"):
            self._hostile(handler)
            return
        basic = _basic(handler.headers.get("Authorization"))
        if basic is not None:
            self.token_auth.append("client_secret_basic")
            client = basic
        else:
            self.token_auth.append("client_secret_post")
            client = (form.get("client_id", ""), form.get("client_secret", ""))
        if client != (CLIENT_ID, CLIENT_SECRET):
            handler._send(401, {"error": "invalid_client"})
            return
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri") or \
                _s256(form.get("code_verifier", "")) != grant.get("code_challenge"):
            handler._send(400, {"error": "invalid_grant"})
            return
        access_token = secrets.token_urlsafe(24)
        handler._send(200, {"access_token": access_token, "token_type": "Bearer",
                            "expires_in": 300, "id_token": self.id_token(grant, access_token)})

    def _hostile(self, handler: _Handler) -> None:
        """A token answer nested past any parser's depth, or one that trickles in a byte at
        a time for longer than the connector's timeout."""
        body = b"[" * 200_000 if self.misbehave == "deep_json" else b"{" + b" " * 48 + b"}"
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if self.misbehave == "deep_json":
            handler.wfile.write(body)
            return
        for byte in body:
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)

    def id_token(self, grant: dict[str, Any], access_token: str) -> str:
        now = int(time.time())
        claims = {**self.person, "iss": self.issuer, "aud": CLIENT_ID, "iat": now,
                  "exp": now + 300, "nonce": grant.get("nonce"),
                  "at_hash": _s256_half(access_token)}
        key = self.key
        if self.misbehave == "wrong_nonce":
            claims["nonce"] = "not-the-nonce"
        elif self.misbehave == "unknown_key":
            key = self.stranger
        elif self.misbehave == "wrong_aud":
            claims["aud"] = "someone-else"
        elif self.misbehave == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _s256_half(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


@dataclass
class FakeGitHub(_Base):
    """GitHub Enterprise Server's OAuth app endpoints and REST API (``/api/v3``)."""

    user: dict[str, Any] = field(default_factory=lambda: {
        "id": 4242, "login": "octocat", "name": "The Octocat", "email": None,
        "avatar_url": "https://avatars.example/u/4242", "html_url": "https://gh.example/octocat"})
    emails: list[dict[str, Any]] = field(default_factory=lambda: [
        {"email": "old@corp.example", "primary": False, "verified": True},
        {"email": "octo@corp.example", "primary": True, "verified": True}])
    orgs: list[str] = field(default_factory=lambda: ["acme", "other"])
    teams: list[tuple[str, str]] = field(default_factory=lambda: [("acme", "platform"),
                                                                   ("other", "fans")])
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    token_auth: list[str] = field(default_factory=list)

    def get(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        if path == "/login/oauth/authorize":
            code = secrets.token_urlsafe(16)
            self.codes[code] = dict(query)
            answer = urlencode({"code": code, "state": query["state"]})
            handler._send(302, None, {"Location": f"{query['redirect_uri']}?{answer}"})
            return
        token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
        if token not in self.tokens:
            handler._send(401, {"message": "Bad credentials"})
            return
        answers: dict[str, Any] = {
            "/api/v3/user": self.user, "/api/v3/user/emails": self.emails,
            "/api/v3/user/orgs": [{"login": org} for org in self.orgs],
            "/api/v3/user/teams": [{"slug": slug, "organization": {"login": org}}
                                   for org, slug in self.teams]}
        if path in answers:
            handler._send(200, answers[path])
        else:
            handler._send(404, {"message": "Not Found"})

    def post(self, handler: _Handler, path: str, form: dict[str, str]) -> None:
        if path != "/login/oauth/access_token":
            handler._send(404, {"message": "Not Found"})
            return
        basic = _basic(handler.headers.get("Authorization"))
        self.token_auth.append("client_secret_basic" if basic else "client_secret_post")
        client = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        grant = self.codes.pop(form.get("code", ""), None)
        if client != (CLIENT_ID, CLIENT_SECRET) or grant is None or \
                grant["redirect_uri"] != form.get("redirect_uri"):
            # GitHub answers 200 with an error member
            handler._send(200, {"error": "bad_verification_code"})
            return
        if "code_challenge" in grant and \
                _s256(form.get("code_verifier", "")) != grant["code_challenge"]:
            handler._send(200, {"error": "bad_verification_code"})
            return
        token = secrets.token_urlsafe(20)
        self.tokens.add(token)
        handler._send(200, {"access_token": token, "token_type": "bearer",
                            "scope": grant.get("scope", "")})
