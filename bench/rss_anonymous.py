"""Memory of the server under anonymous error requests (issue 10 item 1).

Starts the real server (``confidp serve``, one process, memory store) on 127.0.0.1 with the
example tenants, then sends ``GET /acme/login?request=x`` (an unknown sign-in request: the
error page) with wrk in rounds, and prints the server's resident set size (VmRSS, the whole
process tree) before the first round and after each round of a few seconds, until the
requests sent add up to the total. A module-level exception instance raised
again and again keeps every request's frames alive through its growing ``__traceback__``: the
RSS then grows with every round; raised fresh, it stays flat.

    python bench/rss_anonymous.py [--requests 100000] [--round-seconds 5] [--connections 20]
                                  [--path /acme/login?request=x]

Needs wrk (apt-get install wrk). Prints one line per round and the growth at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants, in KiB."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        pending += [int(child) for child in children]
    return total


def start_server(directory: Path, port: int) -> subprocess.Popen[bytes]:
    tenants = directory / "tenants"
    tenants.mkdir()
    for name in ("acme.yaml", "globex.yaml"):
        doc = yaml.safe_load((REPO / "tenants" / name).read_text())
        doc["issuer"] = doc["issuer"].replace("localhost:8000", f"127.0.0.1:{port}")
        (tenants / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    process = subprocess.Popen(
        [sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(tenants), "--themes",
         str(REPO / "themes"), "--state-dir", str(directory / "state"), "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "WARNING"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=directory)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not become ready within 30 s")


def run_round(url: str, seconds: int, threads: int, connections: int) -> int:
    """Sends requests for ``seconds`` (wrk runs for a duration, not a count); returns how
    many wrk counted."""
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if "requests in" in line:
            return int(line.split()[0])
    raise SystemExit(f"unexpected wrk output:\n{done.stdout}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--round-seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--path", default="/acme/login?request=x",
                        help="another anonymous request to measure the same way")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        port = free_port()
        server = start_server(directory, port)
        url = f"http://127.0.0.1:{port}{args.path}"
        try:
            status = httpx.get(url, timeout=5).status_code
            print(f"GET {url} -> {status}; {args.requests} requests in rounds of "
                  f"{args.round_seconds} s, {args.threads} threads, {args.connections} "
                  "connections")
            before = rss_kib(server.pid)
            print(f"{'requests':>9} {'RSS MB':>8}")
            print(f"{0:>9} {before / 1024:8.1f}")
            sent = 0
            while sent < args.requests:
                sent += run_round(url, args.round_seconds, args.threads, args.connections)
                print(f"{sent:>9} {rss_kib(server.pid) / 1024:8.1f}", flush=True)
            after = rss_kib(server.pid)
            print(f"growth: {(after - before) / 1024:+.1f} MB over {sent} requests "
                  f"(pid {server.pid}, python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


if __name__ == "__main__":
    main()
