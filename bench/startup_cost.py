"""Where the start-up time of many tenants goes, per file, in process (issue 16: ready < 4 s
at 10 000 tenants).

Generates N tenant files like bench/reload.py's (10 applications, 3 users, about 3.7 KB) and
prints milliseconds per file for:
  - PyYAML's C loader alone (``yaml.load(..., CSafeLoader)``): the floor for any YAML-based
    start-up with the YAML library confidp uses;
  - composing the node tree alone (the C part of that);
  - confidp's parse (``confidp.config.yaml_positions.parse_yaml``: the same loader, plus the
    refusal of deep nesting, duplicate keys and alias bombs);
  - the whole initial load (``Reloader.load``: reading, parsing, schema, rules, building),
    each the best of several passes,
and what those would be for 10 000 files, on one core and ideally spread over all of them.

    python bench/startup_cost.py [--tenants 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import reload as reload_bench  # bench/reload.py: the same tenant files
import yaml

from confidp.config.yaml_positions import parse_yaml
from confidp.reload import Reloader

REPO = Path(__file__).resolve().parent.parent


def per_file_ms(texts: list[bytes], work: Callable[[bytes], object], rounds: int = 3) -> float:
    """The best of ``rounds`` passes over every text (the first also warms the caches; other
    load only ever slows a pass down)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for text in texts:
            work(text)
        best = min(best, time.perf_counter() - started)
    return best / len(texts) * 1000


def compose(text: bytes) -> None:
    loader = yaml.CSafeLoader(text)
    try:
        loader.get_single_node()
    finally:
        loader.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=2000)
    args = parser.parse_args()
    texts = [reload_bench.tenant(index, 8000, 10, 0) for index in range(args.tenants)]
    with tempfile.TemporaryDirectory(prefix="confidp-startup-") as work:
        tenants_dir = Path(work) / "tenants"
        tenants_dir.mkdir()
        for index, text in enumerate(texts):
            (tenants_dir / f"t{index}.yaml").write_bytes(text)
        figures = {
            "PyYAML C loader, load": per_file_ms(
                texts, lambda text: yaml.load(text, Loader=yaml.CSafeLoader)),
            "PyYAML C loader, compose only": per_file_ms(texts, compose),
            "confidp parse_yaml": per_file_ms(texts, parse_yaml),
        }
        whole, served = float("inf"), 0
        for _ in range(2):  # a new reloader each time: a cold initial load, best of two
            reloader = Reloader(tenants_dir, REPO / "themes", settle=0)
            started = time.perf_counter()
            snapshot, _ = reloader.load(None)
            whole = min(whole, (time.perf_counter() - started) / args.tenants * 1000)
            served = len(list(snapshot.tenants())) if snapshot else 0
    figures["whole initial load (Reloader.load)"] = whole
    cores = os.cpu_count() or 1
    print(f"{args.tenants} tenant files of about {len(texts[0]) / 1024:.1f} KiB, "
          f"{served} served; {cores} cores")
    print(f"{'':38} {'ms/file':>8} {'10 000 files, 1 core':>22} {f'on {cores} cores':>12}")
    for name, ms in figures.items():
        print(f"{name:38} {ms:8.3f} {ms * 10:20.1f} s {ms * 10 / cores:10.1f} s")
    print("target: ready < 4 s at 10 000 tenants (bench/reload.py --tenants 10000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
