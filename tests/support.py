"""Shared test helpers: tenant documents, tenant files, and the real server as a subprocess."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import multiprocessing
import os
import random
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


def _port_block() -> range:
    """The ports this test process hands out: below the kernel's ephemeral range (which
    outgoing connections and ``bind(0)`` draw from), one block per pytest-xdist worker. A port
    taken from ``bind(0)`` and freed again could be handed to the other worker, or become a
    client connection's source port, in the second before the server bound it (seen: a
    module's server failed to start in a parallel run)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    first, size = 10000, max(500, (low - 10000) // 4)
    start = first + (index % 4) * size
    return range(start, start + size)


_PORTS = _port_block()
_next_port = itertools.count(random.randrange(len(_PORTS)))


def free_port(avoid: int | None = None) -> int:
    """A port of 127.0.0.1 nothing uses now (other than ``avoid``), from this process's own
    block (``_port_block``), in turn: a port freed a moment ago comes back only after all
    the others."""
    for _ in range(len(_PORTS)):
        port = _PORTS[next(_next_port) % len(_PORTS)]
        if port == avoid:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))  # no SO_REUSEADDR: a TIME_WAIT port is taken
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port of 127.0.0.1 in {_PORTS}")


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

    def wait_ready(self, timeout: float = 45.0) -> None:
        """Until both listeners answer ready. Generous: on a loaded 2-core machine each worker
        process of ``--workers N`` takes seconds to start (imports in a fresh interpreter)."""
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
            """The frontend answers and the admin socket is in place (HAProxy binds it under
            a temporary name and renames it: it can lag the frontend)."""
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"haproxy exited:\n{self.log()}")
            if not self.socket_path.exists():
                return False
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


def _redis_up(port: int) -> bool:
    """A Redis (or Sentinel) answers PING on this port of 127.0.0.1."""
    import redis

    try:
        with redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:  # not listening yet, or still loading
        return False


def _online_replicas(info: dict[str, Any]) -> int:
    """How many replicas a master's INFO replication shows in sync (state=online)."""
    return sum(1 for name, value in info.items()
               if name.startswith("slave") and isinstance(value, dict)
               and value.get("state") == "online")


def _client(port: int) -> Any:
    import redis

    return redis.Redis(port=port, socket_timeout=5, socket_connect_timeout=1,
                       decode_responses=True)


class RedisNode:
    """One redis-server (or redis-sentinel) process on 127.0.0.1, with its directory and
    arguments kept so it can be stopped, killed and started again as it was."""

    def __init__(self, directory: Path, port: int, args: list[str],
                 sentinel: bool = False) -> None:
        self.directory = directory
        self.port = port
        self.args = args
        self.sentinel = sentinel
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    def start(self, extra: tuple[str, ...] = (), wait: bool = True) -> None:
        binary = shutil.which("redis-sentinel" if self.sentinel else "redis-server")
        if binary is None:
            raise RuntimeError("redis-server/redis-sentinel are not installed "
                               "(apt-get install redis-server redis-sentinel)")
        with (self.directory / "log").open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen([binary, *self.args, *extra], cwd=self.directory,
                                            stdout=log, stderr=subprocess.STDOUT)
        if wait:
            wait_until(lambda: _redis_up(self.port), timeout=20, interval=0.05)

    def client(self) -> Any:
        return _client(self.port)

    def signal(self, number: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, number)

    def kill(self) -> None:
        """SIGKILL: gone at once, as in a crash."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, 18)  # SIGCONT, in case a test left it stopped
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _server_args(port: int) -> list[str]:
    # a replica that (re)connects gets its copy at once: Redis 7 waits 5 s by default for
    # more replicas to share one, and with wait_replicas every write waits for it meanwhile
    return ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--protected-mode", "yes", "--repl-diskless-sync-delay", "0"]


class RedisCluster:
    """A real Redis Cluster on free ports of 127.0.0.1: ``masters`` masters with ``replicas``
    replicas each (``redis-cli --cluster create``), no persistence, failure detection after
    ``node_timeout_ms``. ``url`` is confidp's ``redis+cluster://`` address of it."""

    def __init__(self, directory: Path, masters: int = 3, replicas: int = 1,
                 node_timeout_ms: int = 1000) -> None:
        self.nodes: dict[int, RedisNode] = {}
        self.masters = masters
        self.replicas = replicas
        for index in range(masters * (1 + replicas)):
            port, bus = free_port(), free_port()
            self.nodes[port] = RedisNode(directory / f"node{index}", port, [
                *_server_args(port), "--cluster-enabled", "yes", "--cluster-port", str(bus),
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(node_timeout_ms)])
        seeds = ",".join(f"127.0.0.1:{port}" for port in list(self.nodes)[:masters])
        self.url = f"redis+cluster://{seeds}"

    def start(self) -> None:
        for node in self.nodes.values():
            node.start(wait=False)
        for port in self.nodes:
            wait_until(lambda port=port: _redis_up(port), timeout=20, interval=0.05)
        subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{port}" for port in self.nodes),
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            check=True, capture_output=True, timeout=60)
        self.wait_healthy()

    def info(self, port: int, section: str = "replication") -> dict[str, Any]:
        with _client(port) as client:
            return dict(client.info(section))

    def cluster_info(self, port: int) -> dict[str, Any]:
        with _client(port) as client:
            return dict(client.cluster("info"))

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Every node running says the cluster is ok, and every master has its replicas."""
        def healthy() -> bool:
            try:
                running = [port for port, node in self.nodes.items() if node.process]
                if any(self.cluster_info(port)["cluster_state"] != "ok" for port in running):
                    return False
                masters = [port for port in running
                           if self.info(port)["role"] == "master"]
                return len(masters) == self.masters and all(
                    _online_replicas(self.info(port)) >= self.replicas for port in masters)
            except Exception:  # a node still starting or failing over
                return False
        wait_until(healthy, timeout=timeout, interval=0.1)

    def master_of(self, tag: str) -> int:
        """The port of the master serving the hash slot of ``{tag}``."""
        for port, node in self.nodes.items():
            if node.process is None:
                continue
            with contextlib.suppress(Exception), _client(port) as client:
                slot = client.cluster("keyslot", f"{{{tag}}}")
                for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
                    if start <= slot <= end:
                        return int(master[1])
        raise AssertionError("no node answers CLUSTER SLOTS")

    def replica_of(self, master: int) -> int:
        info = self.info(master)
        return int(info["slave0"]["port"])

    def fresh(self) -> None:
        """Healthy, and empty: for the next test."""
        self.wait_healthy()
        for port, node in self.nodes.items():
            if node.process is not None and self.info(port)["role"] == "master":
                with _client(port) as client:
                    client.flushall()

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


SENTINEL_SERVICE = "confidp"


class RedisSentinel:
    """A real Sentinel set on free ports of 127.0.0.1: one master, ``replicas`` replicas and
    three sentinels (quorum 2) that see a master down after ``down_after_ms``. ``url`` is
    confidp's ``redis+sentinel://`` address of it."""

    def __init__(self, directory: Path, replicas: int = 1, down_after_ms: int = 1000) -> None:
        self.directory = directory
        master = free_port()
        self.servers: dict[int, RedisNode] = {
            master: RedisNode(directory / "server0", master, _server_args(master))}
        self.first_master = master
        for index in range(replicas):
            port = free_port()
            self.servers[port] = RedisNode(directory / f"server{index + 1}", port, [
                *_server_args(port), "--replicaof", "127.0.0.1", str(master)])
        self.sentinels: dict[int, RedisNode] = {}
        for index in range(3):
            port = free_port()
            node = RedisNode(directory / f"sentinel{index}", port, ["sentinel.conf"],
                             sentinel=True)
            (node.directory / "sentinel.conf").write_text(
                f"port {port}\nbind 127.0.0.1\ndir {node.directory}\n"
                f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {SENTINEL_SERVICE} {down_after_ms}\n"
                f"sentinel failover-timeout {SENTINEL_SERVICE} 10000\n")
            self.sentinels[port] = node
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinels)
        self.url = f"redis+sentinel://{hosts}/{SENTINEL_SERVICE}"

    def start(self) -> None:
        for node in [*self.servers.values(), *self.sentinels.values()]:
            node.start(wait=False)
        for port in [*self.servers, *self.sentinels]:
            wait_until(lambda port=port: _redis_up(port), timeout=20, interval=0.05)
        for port in self.sentinels:
            # Sentinel's own timings, shortened for tests (Redis 7's SENTINEL DEBUG): it reads
            # each server's INFO every 1 s instead of 10 s, so it finds replicas and turns a
            # master that comes back after a failover into a replica within seconds, not 20 s
            with _client(port) as client:
                client.execute_command("SENTINEL", "DEBUG", "info-period", 1000,
                                       "publish-period", 500)
        self.wait_healthy()

    def master(self) -> int:
        """The master's port, as the sentinels report it (all of them, the same)."""
        def agreed() -> int | None:
            seen = set()
            for port in self.sentinels:
                with contextlib.suppress(Exception), _client(port) as client:
                    seen.add(int(client.sentinel_get_master_addr_by_name(SENTINEL_SERVICE)[1]))
            return seen.pop() if len(seen) == 1 else None
        return int(wait_until(agreed, timeout=20, interval=0.1))

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """The sentinels agree on the master, know one another and every replica, and each
        replica is in sync with the master."""
        replicas = len(self.servers) - 1

        def healthy() -> bool:
            try:
                master = self.master()
                with _client(master) as client:
                    info = client.info("replication")
                if info["role"] != "master" or _online_replicas(info) < replicas:
                    return False
                for port in self.sentinels:
                    with _client(port) as client:
                        state = client.sentinel_master(SENTINEL_SERVICE)
                        known = client.sentinel_slaves(SENTINEL_SERVICE)
                    if state["num-other-sentinels"] < 2 or \
                            sum(not r["is_odown"] and not r["is_sdown"] and
                                r["master-link-status"] == "ok" for r in known) < replicas:
                        return False
                return True
            except Exception:
                return False
        wait_until(healthy, timeout=timeout, interval=0.1)

    def fresh(self) -> None:
        """Healthy, and empty: for the next test."""
        self.wait_healthy()
        with _client(self.master()) as client:
            client.flushall()

    def stop(self) -> None:
        for node in [*self.sentinels.values(), *self.servers.values()]:
            node.stop()
