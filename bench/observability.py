"""What audit logging and metrics cost (issue 14): /authorize and /token throughput with them
on and off, measured in the same run, alternating, so that the ratio holds on a noisy machine.

- on: the defaults (audit events written to the log, in ``--log-format json``; every request
  timed in the HTTP histogram; store calls timed and counted);
- off: ``--audit-log off`` and ``CONFIDP_REQUEST_METRICS=0`` (events are still counted in the
  sign-in and token counters, and store calls still timed: they cannot be turned off).

Measured, as in bench/flow.py (whose helpers this uses), with the server on a core of its
own and the load clients on another: /authorize that sends the browser to the login page (wrk;
no audit event, the request metrics only), the code flow with a session (/authorize issuing a
code, then /token: two audit events per flow), and refresh grants (one event each). Each
configuration runs ``--rounds`` times; the best rate of each is compared.

    python bench/observability.py [--duration 4] [--rounds 2] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flow

CONFIGURATIONS = {
    "on": (("--log-format", "json"), {}),
    "off": (("--log-format", "json", "--audit-log", "off"), {"CONFIDP_REQUEST_METRICS": "0"}),
}


@contextmanager
def server(work: Path, name: str, cpus: set[int]) -> Iterator[str]:
    extra, env = CONFIGURATIONS[name]
    args, base = flow.confidp_command(work, "memory", 1)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        # --log-level WARNING (bench/flow.py's) does not silence audit events: they are
        # written at INFO whatever the level (README: Operating confidp)
        with flow.process([*args, *extra], f"{base}/readyz", cpus):
            flow.httpx.get(f"{base}/acme/jwks")  # the tenant's keys made before measuring
            yield base
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def measure(base: str, seconds: float, concurrency: int) -> dict[str, float]:
    login = flow.wrk(base + flow.authorize_path(), seconds, concurrency)
    flows = asyncio.run(flow.measure_flows(base, seconds, concurrency))
    refresh = asyncio.run(flow.measure_refresh(base, seconds, concurrency))
    return {"/authorize -> login (wrk)": login["rate"],
            "code flow: /authorize + /token": flows["rate"],
            "/token refresh grant": refresh["rate"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/observability.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    every_cpu = os.sched_getaffinity(0)
    client_cpus = {min(every_cpu)} if len(every_cpu) > 1 else every_cpu
    server_cpus = every_cpu - client_cpus or every_cpu
    os.sched_setaffinity(0, client_cpus)
    work = Path(tempfile.mkdtemp(prefix="confidp-observability-"))
    best: dict[str, dict[str, float]] = {name: {} for name in CONFIGURATIONS}
    try:
        for round_number in range(options.rounds):
            for name in CONFIGURATIONS:
                with server(work, name, server_cpus) as base:
                    figures = measure(base, options.duration, options.concurrency)
                print(f"round {round_number + 1}, {name:3}: " + ", ".join(
                    f"{label} {rate:8.1f}/s" for label, rate in figures.items()), flush=True)
                for label, rate in figures.items():
                    best[name][label] = max(best[name].get(label, 0.0), rate)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nbest of {options.rounds} rounds, {options.duration:g} s each, "
          f"concurrency {options.concurrency}; server on CPU {sorted(server_cpus)}, "
          f"clients on CPU {sorted(client_cpus)}")
    print(f"{'':34} {'on':>10} {'off':>10} {'on/off':>8}")
    for label, off in best["off"].items():
        on = best["on"][label]
        print(f"{label:34} {on:8.1f}/s {off:8.1f}/s {on / off:8.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
