"""Shared test helpers: tenant documents, tenant files, and the real server as a subprocess."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
# argon2id of "wonderland" (the demo password of tenants/acme.yaml)
ALICE_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$klIvzPv7fmVvlCvDF8v7cA$"
              "dyZ1lj71RT2K3IzcB+gzs5t6+4H3NN4MDCBk818ESaU")
SCHEMA_COMMENT = "# yaml-language-server: $schema=../schema/tenant.schema.json\n"


def tenant_doc(issuer: str, **overrides: Any) -> dict[str, Any]:
    """A small valid tenant document; keyword arguments replace top-level keys."""
    doc: dict[str, Any] = {
        "issuer": issuer,
        "display_name": "Test Tenant",
        "applications": [{
            "client_id": "portal-spa",
            "name": "Portal",
            "type": "public",
            "redirect_uris": ["https://portal.example.com/callback",
                              "http://127.0.0.1:9999/callback"],
            "scopes": ["openid", "profile", "email"],
        }],
        "users": [{"username": "alice", "password_hash": ALICE_HASH}],
    }
    doc.update(copy.deepcopy(overrides))
    return doc


def dump(doc: dict[str, Any]) -> bytes:
    return (SCHEMA_COMMENT + yaml.safe_dump(doc, sort_keys=False)).encode()


def write_tenant(directory: Path, name: str, doc: dict[str, Any] | bytes) -> bytes:
    data = doc if isinstance(doc, bytes) else dump(doc)
    (directory / name).write_bytes(data)
    return data


def replace_tenant(directory: Path, name: str, doc: dict[str, Any] | bytes) -> bytes:
    """Write as editors and git do: a temporary file renamed over the old one."""
    data = doc if isinstance(doc, bytes) else dump(doc)
    temporary = directory / f".{name}.tmp"
    temporary.write_bytes(data)
    os.replace(temporary, directory / name)
    return data


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Clock:
    """A clock that moves only when a test moves it (``clock.now += 10``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _report(function: Callable[[str], Any], argument: str,
            queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(function(argument))


def results_from_processes(function: Callable[[str], Any], argument: str,
                           count: int = 4) -> list[Any]:
    """``function(argument)`` in ``count`` new processes started together (spawned, so they
    share nothing but the argument), as replicas starting at once would; their results."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_report, args=(function, argument, queue))
                 for _ in range(count)]
    for process in processes:
        process.start()
    results = [queue.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)
    return results


def free_port(avoid: int | None = None) -> int:
    """A port of 127.0.0.1 nothing listens on now (other than ``avoid``)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != avoid:
            return port


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


class Server:
    """``confidp serve`` as a subprocess on a free port of 127.0.0.1, and its operations
    listener on another."""

    def __init__(self, tenants: Path, themes: Path, state: Path, port: int,
                 extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 ops_port: int | None = None) -> None:
        self.port = port
        self.ops_port = ops_port or free_port(avoid=port)
        self.base = f"http://127.0.0.1:{port}"
        self.ops_base = f"http://127.0.0.1:{self.ops_port}"
        self.log_path = state.parent / f"server-{port}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(tenants),
             "--themes", str(themes), "--state-dir", str(state), "--host", "127.0.0.1",
             "--port", str(port), "--ops-host", "127.0.0.1", "--ops-port", str(self.ops_port),
             *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=str(state.parent),
            env={**os.environ, **(env or {})})
        self.client = httpx.Client(base_url=self.base, timeout=5.0)
        self.ops = httpx.Client(base_url=self.ops_base, timeout=5.0)

    def wait_ready(self, timeout: float = 15.0) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n"
                                     f"{self.log()}")
            try:
                return (self.client.get("/readyz").status_code == 200
                        and self.ops.get("/readyz").status_code == 200)
            except httpx.TransportError:
                return False
        wait_until(ready, timeout)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def ops_get(self, path: str, **kwargs: Any) -> httpx.Response:
        """An operations endpoint (/status, /metrics, /healthz, /readyz), on the operations
        listener."""
        return self.ops.get(path, **kwargs)

    def status(self, name: str) -> dict[str, Any]:
        response = self.ops_get(f"/status/{name}")
        return response.json() if response.status_code == 200 else {}

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.client.close()
        self.ops.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@contextlib.contextmanager
def running_server(tenants: Path, themes: Path, state: Path, port: int,
                   extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None,
                   ops_port: int | None = None) -> Iterator[Server]:
    server = Server(tenants, themes, state, port, extra_args, env, ops_port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


class RedisServer:
    """A real redis-server on a free port of 127.0.0.1, without persistence."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0
        wait_until(up, timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class HAProxy:
    """Debian's HAProxy on a free port of 127.0.0.1 running ``deploy/haproxy/haproxy.cfg``, the
    configuration the README tells operators to copy, with only its ``bind`` and ``server``
    lines replaced: round-robin over ``servers`` (name, public port, operations port), each
    health-checked at its operations listener's ``/readyz``. An admin socket (added here)
    tells which servers HAProxy considers up."""

    CONFIG = REPO / "deploy" / "haproxy" / "haproxy.cfg"

    def __init__(self, directory: Path, servers: list[tuple[str, int, int]],
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        self.socket_path = directory / "haproxy.sock"
        self.config_path = directory / "haproxy.cfg"
        self.log_path = directory / "haproxy.log"
        self.servers = servers
        self.process: subprocess.Popen[bytes] | None = None
        self.config_path.write_text(self.config())

    def config(self) -> str:
        """The shipped configuration with this test's addresses."""
        lines: list[str] = []
        for line in self.CONFIG.read_text().splitlines():
            stripped = line.strip()
            if stripped == "global":
                lines += [line, f"    stats socket {self.socket_path} mode 600 level admin"]
            elif stripped.startswith("bind "):
                lines.append(f"    bind 127.0.0.1:{self.port}")
            elif stripped.startswith("server "):
                if not any(existing.strip().startswith("server ") for existing in lines):
                    lines += [f"    server {name} 127.0.0.1:{port} port {ops_port}"
                              for name, port, ops_port in self.servers]
            else:
                lines.append(line)
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(binary).exists():
            raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
        checked = subprocess.run([binary, "-c", "-q", "-f", str(self.config_path)],
                                 capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"haproxy refuses its configuration:\n{checked.stderr}")
        self._log = self.log_path.open("wb")
        # -db: in the foreground, logging to stdout (the configuration's "log stdout")
        self.process = subprocess.Popen([binary, "-db", "-f", str(self.config_path)],
                                        stdout=self._log, stderr=subprocess.STDOUT)

        def up() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"haproxy exited:\n{self.log()}")
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0
        wait_until(up, timeout=10)

    def command(self, line: str) -> str:
        """One command on the admin socket (HAProxy management guide §9.3), its answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_states(self) -> dict[str, str]:
        """Each server's status as HAProxy sees it ("UP", "DOWN", "UP 1/2", ...)."""
        rows = self.command("show stat").splitlines()
        header = rows[0].lstrip("# ").split(",")
        states = {}
        for row in rows[1:]:
            values = dict(zip(header, row.split(","), strict=False))
            if values.get("svname") not in (None, "FRONTEND", "BACKEND"):
                states[values["svname"]] = values["status"]
        return states

    def wait_state(self, name: str, state: str, timeout: float = 15.0) -> None:
        wait_until(lambda: self.server_states().get(name) == state, timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if hasattr(self, "_log"):
            self._log.close()
