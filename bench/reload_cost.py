"""What one edit costs the reloader, in process, at several tenant counts (issue 16: flat cost).

For each count, generates the tenants (as bench/reload.py does), loads them once, then edits
one file at a time (renamed over) and times ``Reloader.load`` told which file the event named
(what the watcher does) and, for comparison, a full rescan (what every event cost before).
Prints p50 and p95 of the CPU time in milliseconds (CPU time, not wall time: on a machine
shared with other work, wall time measures the others), and the resident memory added per
tenant by the load.
No server and no HTTP: the figures are the reloader's own cost, without the watcher's
debounce or the client's polling.

    python bench/reload_cost.py [--tenants 1000 10000] [--edits 30]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from reload import percentile, tenant

from confidp.registry import Snapshot
from confidp.reload import Reloader

REPO = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def edit(directory: Path, index: int, revision: int) -> Path:
    path = directory / f"t{index}.yaml"
    temporary = directory / f".t{index}.tmp"
    temporary.write_bytes(tenant(index, 8000, 10, revision))
    os.replace(temporary, path)
    return path


def measure(count: int, edits: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="confidp-reload-cost-"))
    try:
        for index in range(count):
            (work / f"t{index}.yaml").write_bytes(tenant(index, 8000, 10, 0))
        reloader = Reloader(work, REPO / "themes", settle=0)
        gc.collect()
        before = rss_mb()
        started = time.thread_time()
        snapshot, _ = reloader.load(None)
        loaded = time.thread_time() - started
        assert snapshot is not None
        gc.collect()
        per_tenant = (rss_mb() - before) * 1024 / count
        targeted: list[float] = []
        full: list[float] = []
        for number in range(1, edits + 1):
            index = (number * 7919) % count
            for times, changed in ((targeted, True), (full, False)):
                path = edit(work, index, number * 2 + (0 if changed else 1))
                started = time.thread_time()
                new, _ = reloader.load(snapshot, [str(path)] if changed else None)
                times.append((time.thread_time() - started) * 1000)
                assert isinstance(new, Snapshot)
                snapshot = new
        print(f"{count:>6} tenants: loaded in {loaded:.1f} s of CPU, "
              f"{per_tenant:.1f} KiB RSS each; "
              f"one edit, CPU: p50 {statistics.median(targeted):.1f} ms, p95 "
              f"{percentile(targeted, 0.95):.1f} ms (a full rescan: p50 "
              f"{statistics.median(full):.1f} ms, p95 {percentile(full, 0.95):.1f} ms)",
              flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    for count in args.tenants:
        measure(count, args.edits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
