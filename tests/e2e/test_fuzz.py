"""A seeded fuzzer against one real server: hostile input to every endpoint, on both
listeners, over raw sockets (so that nothing is refused or repaired on the way).

Every request must be answered, never with a 5xx; no HTML response may carry the marker
``<x9"'>`` unescaped; an asset is a theme's static file or nothing; the server log gains no
traceback. The input is drawn from ``random.Random(SEED)``: the same seed sends the same
requests (set ``CONFIDP_FUZZ_SEED`` to try others, ``CONFIDP_FUZZ_SCALE`` for more or fewer).
The counts per category and the statuses seen are printed at the end.
"""

from __future__ import annotations

import base64
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import httpx
import pytest

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
from tests.e2e.raw_http import RawResponse, exchange
from tests.e2e.test_authorize import example
from tests.support import REPO, Server, free_port, running_server, write_tenant

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("CONFIDP_FUZZ_SEED", "20261126"))
SCALE = float(os.environ.get("CONFIDP_FUZZ_SCALE", "1"))
MARKER = "<x9\"'>"
CALLBACK = "http://127.0.0.1:9999/callback"
SECRET = "globex-billing-demo-secret"
STATUS_TOKEN = "fuzz-status-token"
FORM = "application/x-www-form-urlencoded"

PUBLIC_PATHS = [
    "/acme/authorize", "/acme/api/id/v1/auth/authorize", "/acme/login", "/acme/consent",
    "/acme/logout", "/acme/token", "/acme/userinfo", "/acme/revoke", "/acme/introspect",
    "/acme/jwks", "/acme/.well-known/openid-configuration",
    "/acme/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/acme",
    "/acme/theme.css", "/acme/assets/style.css", "/globex/token", "/globex/introspect",
    "/globex/login", "/globex/assets/style.css", "/healthz", "/readyz", "/status", "/metrics",
    "/", "/acme", "/acme/", "/nowhere",
]
OPS_PATHS = ["/healthz", "/readyz", "/status", "/status/acme", "/status/acme.yaml",
             "/status/nope", "/metrics", "/", "/acme/jwks"]
METHODS = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT",
           "FROB"]
PARAMETERS = {
    "authorize": ["client_id", "redirect_uri", "response_type", "scope", "state",
                  "code_challenge", "code_challenge_method", "nonce", "prompt", "max_age",
                  "login_hint", "request", "request_uri", "response_mode", "ui_locales"],
    "login": ["request", "csrf_token", "username", "password"],
    "consent": ["request", "csrf_token", "decision"],
    "logout": ["id_token_hint", "post_logout_redirect_uri", "state", "client_id"],
    "token": ["grant_type", "code", "redirect_uri", "code_verifier", "client_id",
              "client_secret", "refresh_token", "scope"],
    "userinfo": ["access_token"],
    "revoke": ["token", "token_type_hint", "client_id", "client_secret"],
    "introspect": ["token", "token_type_hint", "client_id", "client_secret"],
    "theme.css": ["v"],
    "jwks": [],
    ".well-known/openid-configuration": [],
}
# percent-encodings that do not decode to UTF-8 text, or decode to something hostile
BAD_ESCAPES = ["%", "%z1", "%%", "%f", "%ff", "%c3%28", "%ed%a0%80", "%f8%88%80%80%80",
               "%00", "%0d%0a", "%e2%80%ae", "%c0%af", "%252e", "%u0041", "+%2B+"]
CONTENT_TYPES = [FORM, FORM + "; charset=utf-8", FORM + "; charset=latin-1", "text/plain",
                 "application/json", "multipart/form-data", "multipart/form-data; boundary=x",
                 "application/x-www-form-urlencoded\xff", "", ";", "*/*", "\xff/\xff",
                 "application/xml", FORM + "; boundary=\"" + MARKER + "\""]
TRAVERSALS = ["../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd",
              "....//....//etc/passwd", "..\\..\\etc\\passwd", "%252e%252e%252fetc%252fpasswd",
              "/etc/passwd", "//etc/passwd", "style.css%00.png", "style.css/..", ".",
              "..", "./style.css", "%2e", "..%00/", "style.css?v=" + quote(MARKER),
              "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "../templates/base.html",
              "../../tenants/acme.yaml", "../../state/sealing.key", "a" * 300,
              "..;/..;/etc/passwd", "%2fetc%2fpasswd", "static/../style.css"]


@dataclass
class Artefacts:
    """Real values from one complete sign-in, for the fuzzer to use and mutate."""

    login_query: str
    flow_cookie: str
    session_cookie: str
    csrf_token: str
    sealed: str
    code: str
    access_token: str
    refresh_token: str
    id_token: str


@dataclass
class Report:
    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fuzz")
    tenants = root / "tenants"
    tenants.mkdir()
    port = free_port()
    write_tenant(tenants, "acme.yaml", example("acme.yaml", port))
    globex = example("globex.yaml", port)
    globex["applications"][0]["redirect_uris"].append(CALLBACK)
    write_tenant(tenants, "globex.yaml", globex)
    # a short request timeout (Sanic's own setting): a head that never ends is a 408 in 1 s
    # (a body that never ends waits for the response timeout: test_hostile_http)
    with running_server(tenants, REPO / "themes", root / "state", port,
                        env={"SANIC_REQUEST_TIMEOUT": "1",
                             "CONFIDP_STATUS_TOKEN": STATUS_TOKEN}) as running:
        yield running


def sign_in(server: Server) -> Artefacts:
    with httpx.Client(base_url=server.base, follow_redirects=False, timeout=10) as browser:
        login = location(browser.get(authorize_url("/acme", seed_params())))
        page = browser.get(login)
        fields = hidden_fields(page.text)
        flow_cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        after = location(submit_login(browser, login, "alice", "wonderland"))
        if "/consent?" in after:
            after = location(submit_consent(browser, after, "approve"))
        code = query_of(after)["code"]
        session_cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        tokens = browser.post("/acme/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "code_verifier": VERIFIER, "client_id": "portal-spa"}).json()
        return Artefacts(urlsplit(login).query, flow_cookie, session_cookie,
                         fields["csrf_token"], fields["request"], code,
                         tokens["access_token"], tokens["refresh_token"], tokens["id_token"])


class Fuzzer:
    def __init__(self, server: Server, artefacts: Artefacts, rng: random.Random) -> None:
        self.server = server
        self.artefacts = artefacts
        self.rng = rng
        self.report = Report()
        self.host = f"127.0.0.1:{server.port}".encode()
        theme_roots = [*(REPO / "themes").glob("*"), REPO / "src" / "confidp" / "default_theme"]
        self.static = {p.read_bytes() for root in theme_roots
                       for p in root.glob("static/**/*") if p.is_file()}

    # ---- values --------------------------------------------------------------------------
    def text(self) -> str:
        """A parameter value, percent-encoded for a query or form body."""
        rng = self.rng
        a = self.artefacts
        choice = rng.randrange(14)
        if choice == 0:
            return quote(MARKER, safe="")
        if choice == 1:
            return rng.choice(BAD_ESCAPES)
        if choice == 2:
            return quote(MARKER, safe="") + rng.choice(BAD_ESCAPES)
        if choice == 3:
            return "A" * rng.choice([256, 1024, 4097, 8000])
        if choice == 4:
            return ""
        if choice == 5:
            return rng.choice(["-1", "0", "1e309", "NaN", "99999999999999999999", "true",
                               "null", "[]", "{}"])
        if choice == 6:
            return quote(rng.choice(["é", "\u202e", "\U0001f600", "\ufeff",
                                     "\uff4e\uff4f\uff4e\uff45", "\u0000", "\r\n",
                                     "<script>alert(1)</script>"]), safe="")
        if choice == 7:  # a real value, cut or changed
            value = rng.choice([a.sealed, a.code, a.access_token, a.refresh_token, a.id_token,
                                a.csrf_token])
            cut = rng.randrange(len(value) + 1)
            return quote(value[:cut] + rng.choice(["", "A", "_", ".", "=="]) + value[cut + 1:],
                         safe="")
        if choice == 8:
            return quote(rng.choice([a.sealed, a.code, a.access_token, a.refresh_token,
                                     a.id_token, a.csrf_token]), safe="")
        if choice == 9:
            return quote(rng.choice(["portal-spa", "billing", CALLBACK, "code", "S256", "openid",
                                     "openid profile email offline_access orders.read",
                                     "authorization_code", "refresh_token",
                                     "client_credentials", "none", "login", "consent",
                                     "approve", "deny", "alice", "wonderland", SECRET]),
                         safe="")
        if choice == 10:
            return quote("".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(20)), safe="")
        if choice == 11:
            return "".join(rng.choice("%&=+;#?/") for _ in range(rng.randrange(1, 12)))
        if choice == 12:
            return quote(MARKER * rng.randrange(1, 50), safe="")
        return quote(base64.urlsafe_b64encode(rng.randbytes(rng.randrange(1, 200))).decode())

    def pairs(self, names: list[str]) -> str:
        """``a=1&b=2``: known names (some twice, some left out), unknown ones, odd shapes."""
        rng = self.rng
        items = []
        for name in names:
            if rng.random() < 0.7:
                items.append(f"{name}={self.text()}")
                if rng.random() < 0.1:  # twice
                    items.append(f"{name}={self.text()}")
        for _ in range(rng.choice([0, 0, 1, 3, 70])):
            items.append(f"{quote(MARKER, safe='')}{rng.randrange(999)}={self.text()}")
        if rng.random() < 0.1:
            items.append(rng.choice(["", "=", "&", "novalue", "=x", "a=b=c", MARKER]))
        rng.shuffle(items)
        return "&".join(items)

    def endpoint(self) -> tuple[str, list[str]]:
        name = self.rng.choice(list(PARAMETERS))
        tenant = self.rng.choice(["acme", "acme", "globex"])
        if name == "authorize" and self.rng.random() < 0.3:
            return f"/{tenant}/api/id/v1/auth/authorize", PARAMETERS[name]
        return f"/{tenant}/{name}", PARAMETERS[name]

    def cookies(self) -> list[tuple[bytes, bytes]]:
        rng = self.rng
        a = self.artefacts
        choice = rng.randrange(5)
        if choice == 0:
            return []
        if choice == 1:
            return [(b"Cookie", a.flow_cookie.encode())]
        if choice == 2:
            return [(b"Cookie", a.session_cookie.encode())]
        if choice == 3:
            return [(b"Cookie", rng.choice([b"confidp_session_acme=" + b"x" * 3000,
                                            b"confidp_session_acme=acme.\xff",
                                            b"confidp_flow_acme=" + MARKER.encode(),
                                            b"=; ;;=;a", b"confidp_session_acme=globex.abc",
                                            b"confidp_session_acme=a; confidp_session_acme=b"]))]
        return [(b"Cookie", a.session_cookie.encode() + b"; " + a.flow_cookie.encode())]

    def authorization(self) -> list[tuple[bytes, bytes]]:
        rng = self.rng
        a = self.artefacts
        basic = base64.b64encode(f"billing:{SECRET}".encode())
        return rng.choice([
            [], [], [(b"Authorization", b"Bearer " + a.access_token.encode())],
            [(b"Authorization", b"Basic " + basic)],
            [(b"Authorization", b"Basic " + basic[:-3])],
            [(b"Authorization", b"Basic " + base64.b64encode(b"\xff:\xff"))],
            [(b"Authorization", b"Basic " + base64.b64encode(b"nocolon"))],
            [(b"Authorization", b"Basic !!!")], [(b"Authorization", b"Bearer")],
            [(b"Authorization", b"Bearer " + MARKER.encode())],
            [(b"Authorization", b"Bearer a.b.c")], [(b"Authorization", b"\xff")],
            [(b"Authorization", b"Basic \xff\xfe")], [(b"Authorization", b"Bearer \xff")],
            [(b"Authorization", "Basic caf\u00e9".encode())],
            [(b"Authorization", b"Bearer " + STATUS_TOKEN.encode())],
            [(b"Authorization", b"Bearer " + STATUS_TOKEN.encode() + b"\xff")],
            [(b"Authorization", b"Basic " + basic), (b"Authorization", b"Basic " + basic)],
        ])

    def accept(self) -> list[tuple[bytes, bytes]]:
        return [(b"Accept", self.rng.choice([
            b"text/html", b"application/json", b"*/*", b"\xff", b"application/json;q=\xff",
            b"text/html;q=0, application/json;q=0", b"," * 3000, b"a/b;q=NaN",
            b"application/json;q=1e999", b"text/html;level=" + MARKER.encode()]))]

    # ---- sending -------------------------------------------------------------------------
    def raw(self, method: str | bytes, target: str | bytes,
            headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b"",
            host: bytes | None = None, version: bytes = b"HTTP/1.1",
            content_length: bool = True) -> bytes:
        method_bytes = method.encode() if isinstance(method, str) else method
        target_bytes = target.encode() if isinstance(target, str) else target
        lines = [method_bytes + b" " + target_bytes + b" " + version,
                 b"Host: " + (self.host if host is None else host)]
        lines += [name + b": " + value for name, value in headers or []]
        if content_length and body:
            lines.append(b"Content-Length: " + str(len(body)).encode())
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    def send(self, category: str, data: bytes, ops: bool = False,
             check: Callable[[RawResponse], str | None] | None = None) -> RawResponse:
        port = self.server.ops_port if ops else self.server.port
        response = exchange(port, data, timeout=10)
        self.report.sent[category] += 1
        self.report.statuses[str(response.status) if response.answered else "none"] += 1
        problem = None
        if not response.answered:
            problem = "no response"
        elif response.status is not None and response.status >= 500:
            problem = f"status {response.status}"
        elif "text/html" in response.headers.get("content-type", "") and \
                b"<x9" in response.body:
            problem = "the marker is in an HTML page unescaped"
        elif "<x9" in response.headers.get("location", ""):
            problem = "the marker is in a Location unencoded"
        elif check is not None:
            problem = check(response)
        if problem:
            self.report.failures.append(f"[{category}] {problem}: {data[:400]!r} -> "
                                        f"{response.raw[:300]!r}")
        return response

    # ---- categories ----------------------------------------------------------------------
    def methods(self) -> None:
        for path in PUBLIC_PATHS:
            for method in METHODS:
                self.send("methods", self.raw(method, path, self.accept()))
        for path in OPS_PATHS:
            for method in METHODS:
                self.send("methods", self.raw(method, path, self.accept()), ops=True)

    def query_parameters(self, count: int) -> None:
        for _ in range(count):
            path, names = self.endpoint()
            method = self.rng.choice(["GET", "GET", "HEAD", "POST"])
            query = self.pairs(names)
            headers = self.accept() + self.cookies() + self.authorization()
            self.send("query parameters", self.raw(method, f"{path}?{query}", headers))

    def form_bodies(self, count: int) -> None:
        for _ in range(count):
            path, names = self.endpoint()
            body = self.pairs(names).encode()
            if self.rng.random() < 0.1:
                body += self.rng.choice([b"\xff\xfe", b"%ff", b"\x00", b"\xc3("])
            content_type = (FORM if self.rng.random() < 0.6 else self.rng.choice(CONTENT_TYPES))
            headers = [(b"Content-Type", content_type.encode("latin-1")), *self.accept(),
                       *self.cookies(), *self.authorization()]
            if self.rng.random() < 0.1:
                headers.append((b"Origin", self.rng.choice(
                    [b"http://127.0.0.1:9999", b"null", b"http://evil.example", b"\xff"])))
            self.send("form bodies", self.raw("POST", path, headers, body))

    def odd_bodies(self, count: int) -> None:
        for _ in range(count):
            path, _ = self.endpoint()
            body = self.rng.choice([
                b"{" * 5000, b'{"grant_type": "authorization_code"}', b"\xff" * 1000,
                b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + MARKER.encode(),
                b"--x--", b"a=" + b"%" * 10000, b"&" * 20000, b"=" * 100,
                b"a=1&" * 5000, self.rng.randbytes(2000)])
            headers = [(b"Content-Type", self.rng.choice(CONTENT_TYPES).encode("latin-1")),
                       *self.accept()]
            self.send("odd bodies", self.raw("POST", path, headers, body))

    def framing(self, count: int) -> None:
        rng = self.rng
        for index in range(count):
            path, names = self.endpoint()
            body = self.pairs(names).encode()
            kind = index % 7
            headers = [(b"Content-Type", FORM.encode()), *self.accept()]
            if kind == 0:  # shorter than the body: the rest is a second, broken request
                headers.append((b"Content-Length", str(max(0, len(body) - 5)).encode()))
            elif kind == 1:  # unparsable, or (" 5", "+5") at most the body's length
                body = body.ljust(20, b"&")
                headers.append((b"Content-Length", rng.choice(
                    [b"-1", b"+5", b"0x10", b"1_0", b"99999999999999999999", b" 5", b"5, 5"])))
            elif kind == 2:
                headers += [(b"Transfer-Encoding", b"chunked")]
                body = rng.choice([b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\n",
                                   b"5;x=y\r\nhello\r\n0\r\n\r\n", b"ffffffffffffffff\r\n",
                                   b"0\r\nX-Trailer: 1\r\n\r\n", b"-5\r\nhello\r\n"])
            elif kind == 3:
                headers += [(b"Transfer-Encoding", b"chunked"),
                            (b"Content-Length", str(len(body)).encode())]
            elif kind == 4:
                headers.append((b"Transfer-Encoding", rng.choice(
                    [b"gzip", b"chunked, gzip", b"identity", b"\xff", b"CHUNKED"])))
            elif kind == 5:
                headers.append((b"Expect", rng.choice([b"100-continue", b"\xff", b"200-ok"])))
                headers.append((b"Content-Length", str(len(body)).encode()))
            else:  # two requests in one write
                second = self.raw("GET", "/acme/jwks", self.accept())
                self.send("framing", self.raw("POST", path, headers, body) + second)
                continue
            self.send("framing", self.raw("POST", path, headers, body, content_length=False))
        # a head that never ends: answered 408 once the request timeout passes
        self.send("framing", b"GET /acme/jwks HTTP/1.1\r\nHost: " + self.host + b"\r\n",
                  check=lambda r: None if r.status == 408 else "not 408")

    def headers(self, count: int) -> None:
        rng = self.rng
        for index in range(count):
            path, names = self.endpoint()
            target = f"{path}?{self.pairs(names)}" if rng.random() < 0.5 else path
            kind = index % 6
            headers = self.accept() + self.cookies() + self.authorization()
            host = None
            if kind == 0:
                headers.append((b"X-Big", b"a" * rng.choice([1000, 15000, 17000, 70000])))
            elif kind == 1:
                headers += [(f"X-{n}".encode(), b"v") for n in range(rng.choice([100, 1000]))]
            elif kind == 2:
                host = rng.choice([b"", b"\xff", b"evil.example", b"127.0.0.1:1",
                                   b"[::1]:99999", b"a b", b"127.0.0.1:" + b"9" * 20,
                                   MARKER.encode(), self.host + b"." , b"LOCALHOST"])
            elif kind == 3:
                headers += [(b"X-Forwarded-Host", rng.choice([b"\xff", MARKER.encode(),
                                                              b"a," * 1000])),
                            (b"X-Forwarded-For", rng.choice([b"\xff", b"1.2.3.4, " * 500,
                                                             b"::ffff:1.2.3.4"])),
                            (b"X-Forwarded-Proto", b"\xff")]
            elif kind == 4:
                headers.append((b"Origin", rng.choice([b"http://127.0.0.1:9999", b"null",
                                                       b"\xff", MARKER.encode(), b"*"])))
                headers.append((b"Access-Control-Request-Method", b"POST"))
                self.send("headers", self.raw("OPTIONS", path, headers, host=host))
                continue
            else:
                headers += [(b"If-None-Match", rng.choice([b"*", b"\xff", b'"' * 5000])),
                            (b"Range", rng.choice([b"bytes=0-1", b"bytes=-1", b"\xff"])),
                            (b"Content-Type", rng.choice(CONTENT_TYPES).encode("latin-1"))]
            self.send("headers", self.raw(rng.choice(["GET", "POST"]), target, headers,
                                          host=host))

    def control_bytes(self, count: int) -> None:
        rng = self.rng
        for index in range(count):
            byte = bytes([rng.choice([*range(0x00, 0x20), 0x7F, 0x80, 0xFF])])
            path, _ = self.endpoint()
            where = index % 5
            if where == 0:
                data = self.raw("GET", path.encode() + byte + b"x")
            elif where == 1:
                data = self.raw("GET", path.encode() + b"?state=a" + byte + b"b")
            elif where == 2:
                data = self.raw("GET", path, [(b"X-A" + byte, b"v")])
            elif where == 3:
                data = self.raw("GET", path, [(b"Cookie", b"confidp_session_acme=a" + byte)])
            else:
                data = self.raw(b"GE" + byte + b"T", path)
            self.send("control bytes", data, ops=rng.random() < 0.2)

    def assets(self, count: int) -> None:
        def only_static(response: RawResponse) -> str | None:
            if response.status == 200 and response.body and response.body not in self.static:
                return "an asset that is not a theme's static file"
            return None

        for name in TRAVERSALS:
            for tenant in ("acme", "globex"):
                self.send("assets", self.raw("GET", f"/{tenant}/assets/{name}"),
                          check=only_static)
        for _ in range(count):
            parts = [self.rng.choice(["..", "%2e%2e", ".", "style.css", "static", "%2f", "",
                                      "..%5c", "%00", quote(MARKER, safe=""), "templates"])
                     for _ in range(self.rng.randrange(1, 6))]
            self.send("assets", self.raw(self.rng.choice(["GET", "HEAD"]),
                                         "/acme/assets/" + "/".join(parts)),
                      check=only_static)

    def operations(self, count: int) -> None:
        for _ in range(count):
            name = self.rng.choice(["acme", "acme.yaml", "nope", quote(MARKER, safe=""),
                                    "%ff", "..%2facme.yaml", "a" * 2000, "%00", ""])
            path = self.rng.choice(["/status/" + name, "/status?" + self.pairs(["x"]),
                                    "/metrics?name[]=" + name, "/healthz/" + name,
                                    "/readyz?" + name])
            headers = self.accept() + self.authorization()
            self.send("operations", self.raw(self.rng.choice(["GET", "HEAD", "POST"]), path,
                                             headers), ops=self.rng.random() < 0.7)

    def near_valid(self, count: int) -> None:
        """Real requests with one or two values changed, so that the fuzzing reaches the
        pages, redirects and token responses behind the first checks."""
        a = self.artefacts
        basic = (b"Authorization", b"Basic " + base64.b64encode(f"billing:{SECRET}".encode()))
        bearer = (b"Authorization", b"Bearer " + a.access_token.encode())
        templates: list[tuple[str, str, dict[str, str], list[tuple[bytes, bytes]]]] = [
            ("GET", "/acme/authorize", {**seed_params(), "nonce": "n", "login_hint": "alice"},
             [(b"Cookie", a.session_cookie.encode())]),
            ("POST", "/acme/api/id/v1/auth/authorize", {**seed_params(), "prompt": "consent"},
             [(b"Cookie", a.session_cookie.encode())]),
            ("GET", "/acme/authorize", seed_params(prompt="none"), []),
            ("GET", "/acme/login", {"request": a.sealed}, [(b"Cookie", a.flow_cookie.encode())]),
            ("POST", "/acme/token", {"grant_type": "authorization_code", "code": a.code,
                                     "redirect_uri": CALLBACK, "code_verifier": VERIFIER,
                                     "client_id": "portal-spa"}, []),
            ("POST", "/acme/token", {"grant_type": "refresh_token", "client_id": "portal-spa",
                                     "refresh_token": a.refresh_token, "scope": "openid"}, []),
            ("POST", "/globex/token", {"grant_type": "client_credentials",
                                       "scope": "invoices.write"}, [basic]),
            ("POST", "/globex/introspect", {"token": a.access_token}, [basic]),
            ("POST", "/acme/revoke", {"token": a.refresh_token, "client_id": "portal-spa",
                                      "token_type_hint": "refresh_token"}, []),
            ("GET", "/acme/userinfo", {}, [bearer]),
            ("POST", "/acme/userinfo", {"access_token": a.access_token}, []),
            ("GET", "/acme/logout", {"id_token_hint": a.id_token, "state": "s",
                                     "post_logout_redirect_uri": "http://127.0.0.1:9999/"},
             [(b"Cookie", a.session_cookie.encode())]),
        ]
        for _ in range(count):
            method, path, params, headers = self.rng.choice(templates)
            fields = {name: quote(value, safe="") for name, value in params.items()}
            for _ in range(self.rng.choice([1, 1, 2])):
                name = self.rng.choice([*fields, "state", "extra"])
                fields[name] = self.text()
            pairs = "&".join(f"{k}={v}" for k, v in fields.items())
            if self.rng.random() < 0.1:  # one of them twice
                pairs += "&" + pairs.split("&")[0]
            headers = [*headers, *self.accept()]
            if method == "GET":
                data = self.raw("GET", f"{path}?{pairs}", headers)
            else:
                data = self.raw("POST", path, [(b"Content-Type", FORM.encode()), *headers],
                                pairs.encode())
            self.send("near-valid", data)

    def sign_in_steps(self, count: int) -> None:
        """Mutations of a real sign-in: the login and consent forms with the real cookie."""
        a = self.artefacts
        for _ in range(count):
            target = self.rng.choice(["/acme/login", "/acme/consent"])
            fields = {"request": quote(a.sealed, safe=""),
                      "csrf_token": quote(a.csrf_token, safe=""),
                      "username": self.rng.choice(["alice", "nobody", quote(MARKER, safe="")]),
                      "password": self.text(), "decision": self.text()}
            for name in list(fields):
                if self.rng.random() < 0.3:
                    fields[name] = self.text()
            body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
            headers = [(b"Content-Type", FORM.encode()), (b"Cookie", a.flow_cookie.encode()),
                       *self.accept()]
            if self.rng.random() < 0.5:
                self.send("sign-in steps", self.raw("GET", f"{target}?request={fields['request']}",
                                                    headers[1:]))
            else:
                self.send("sign-in steps", self.raw("POST", target, headers, body))


def test_fuzz(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    fuzzer = Fuzzer(server, sign_in(server), random.Random(SEED))
    log_before = len(server.log().splitlines())

    def scaled(count: int) -> int:
        return max(1, int(count * SCALE))

    fuzzer.methods()
    fuzzer.query_parameters(scaled(1500))
    fuzzer.form_bodies(scaled(1200))
    fuzzer.odd_bodies(scaled(200))
    fuzzer.framing(scaled(210))
    fuzzer.headers(scaled(600))
    fuzzer.control_bytes(scaled(400))
    fuzzer.assets(scaled(250))
    fuzzer.operations(scaled(300))
    fuzzer.near_valid(scaled(800))
    fuzzer.sign_in_steps(scaled(150))
    # the server is still whole
    still = fuzzer.send("after", fuzzer.raw("GET", "/acme/.well-known/openid-configuration"))
    assert still.status == 200

    report = fuzzer.report
    log = server.log().splitlines()[log_before:]
    with capsys.disabled():
        print(f"\nfuzz: seed {SEED}, {sum(report.sent.values())} requests in "
              f"{time.monotonic() - started:.1f} s; server log: {len(log)} new line(s)")
        print("  sent by category: " + ", ".join(f"{k} {v}" for k, v in report.sent.items()))
        print("  statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(report.statuses.items())))
        for failure in report.failures[:20]:
            print("  FAIL " + failure)
    assert not report.failures, f"{len(report.failures)} failure(s), first: " \
                                  f"{report.failures[0]}"
    tracebacks = [line for line in log if "Traceback" in line]
    assert tracebacks == [], "\n".join(log[:80])
