"""The container image's contract, checked without a container engine (none runs here):
the Containerfile's labels and settings, and ``confidp serve`` started exactly as the image
starts it (its ENV, its WORKDIR, its paths laid out under a temporary root)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.deploy.support import (
    confidp_settings,
    containerfile,
    image_env,
    key_values,
    ops_listener_env,
)
from tests.support import REPO, free_port, wait_until, write_tenant

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
OCI = "org.opencontainers.image."


def serve(tenants: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(tenants),
         "--themes", str(REPO / "themes"), "--state-dir", str(tmp_path / "state"),
         "--host", "127.0.0.1", "--port", str(free_port())],
        capture_output=True, text=True, timeout=60)


def test_serve_refuses_a_missing_tenants_directory(tmp_path: Path) -> None:
    done = serve(tmp_path / "nowhere", tmp_path)
    assert done.returncode == 2
    assert f"the tenants directory {tmp_path / 'nowhere'} does not exist" in done.stderr
    assert f"mount them at {tmp_path / 'nowhere'}" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_refuses_a_tenants_directory_without_tenant_files(tmp_path: Path) -> None:
    """An empty directory, or one with nothing that is a tenant file: a README, a hidden
    file, a directory named like a tenant file, a link to nothing."""
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    done = serve(tenants, tmp_path)
    assert done.returncode == 2
    assert f"no tenant files (*.yaml, *.yml) in the tenants directory {tenants}" in done.stderr
    assert "CONFIDP_TENANTS" in done.stderr and "mount them at" in done.stderr
    (tenants / "README.md").write_text("tenants go here\n")
    (tenants / ".hidden.yaml").write_text("issuer: x\n")
    (tenants / "dir.yaml").mkdir()
    os.symlink(tmp_path / "missing.yaml", tenants / "dangling.yaml")
    done = serve(tenants, tmp_path)
    assert done.returncode == 2
    assert "no tenant files" in done.stderr
    assert not (tmp_path / "state").exists()  # refused before anything is made


def test_serve_starts_with_one_tenant_file_even_an_invalid_one(tmp_path: Path) -> None:
    """One file is enough: an invalid first version is reported by /status, as before."""
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    write_tenant(tenants, "broken.yaml", b"issuer: [\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(tenants),
         "--themes", str(REPO / "themes"), "--state-dir", str(tmp_path / "state"),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ops_listener_env())
    try:
        import httpx

        def ready() -> bool:
            assert process.poll() is None, "the server exited"
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            except httpx.TransportError:
                return False
        wait_until(ready, timeout=15)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _final_stage() -> list[tuple[str, str]]:
    instructions = containerfile()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_oci_labels() -> None:
    labels: dict[str, str] = {}
    defaults: dict[str, str] = {}
    for keyword, arguments in _final_stage():
        if keyword == "LABEL":
            labels.update(key_values(arguments))
        elif keyword == "ARG":
            defaults.update(key_values(arguments))
    for name in ("source", "version", "licenses", "title", "description", "revision"):
        assert OCI + name in labels, name
    assert labels[OCI + "version"] == "${VERSION}"
    assert defaults["VERSION"] == PROJECT["version"]  # bump both together
    assert labels[OCI + "licenses"] == PROJECT["license"]
    assert labels[OCI + "title"] == PROJECT["name"]
    assert labels[OCI + "description"] == PROJECT["description"]
    assert labels[OCI + "source"] == "${SOURCE}"


def test_the_image_serves_no_demo_tenants_by_default() -> None:
    env = image_env()
    copies = [arguments.split() for keyword, arguments in _final_stage()
              if keyword == "COPY" and not arguments.startswith("--from")]
    [examples] = [target for source, target in copies if source == "tenants"]
    assert env["CONFIDP_TENANTS"] != examples
    assert not any(target == env["CONFIDP_TENANTS"] for _, target in copies)
    readme = (REPO / "README.md").read_text()
    assert f"CONFIDP_TENANTS={examples}" in readme  # how to ask for them


def test_the_image_settings_are_real_settings() -> None:
    env = image_env()
    settings = confidp_settings()
    unknown = sorted(name for name in env if name.startswith("CONFIDP_") and
                     name not in settings)
    assert not unknown
    assert env["CONFIDP_OPS_HOST"] == env["CONFIDP_HOST"] == "0.0.0.0"  # noqa: S104


def test_runs_as_any_uid_in_group_zero() -> None:
    """OpenShift runs the image under an arbitrary UID in group 0: the state directory is
    group 0's with the owner's rights; nothing else is writable."""
    stage = _final_stage()
    env = image_env()
    state = env["CONFIDP_STATE_DIR"]
    [user] = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert user.split(":")[1] == "0" and user.split(":")[0] != "0"
    [volume] = [json.loads(arguments) for keyword, arguments in stage if keyword == "VOLUME"]
    assert volume == [state]
    run = " ".join(arguments for keyword, arguments in stage if keyword == "RUN")
    assert f"chown 10001:0 {state}" in run and f"chmod 0770 {state}" in run
    assert re.search(r"chmod -R u=rwX,go=rX [^&]*/usr/share/confidp", run)


def _healthcheck() -> list[str]:
    [arguments] = [a for keyword, a in _final_stage() if keyword == "HEALTHCHECK"]
    return list(json.loads(arguments.split(" CMD ", 1)[1]))


def _image_root(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The image's files under ``tmp_path`` (what COPY and RUN put there) and its ENV with
    the paths moved there and the ports made free ones on 127.0.0.1."""
    root = tmp_path / "root"
    env = image_env()
    for keyword, arguments in _final_stage():
        if keyword == "COPY" and not arguments.startswith("--from"):
            source, target = arguments.split()
            shutil.copytree(REPO / source, root / target.lstrip("/"))
    for name in ("CONFIDP_TENANTS", "CONFIDP_STATE_DIR"):
        (root / env[name].lstrip("/")).mkdir(parents=True, exist_ok=True)
    moved = {name: str(root / value.lstrip("/")) if value.startswith("/") else value
             for name, value in env.items()}
    moved.update(CONFIDP_HOST="127.0.0.1", CONFIDP_OPS_HOST="127.0.0.1",
                 CONFIDP_PORT=str(free_port()), CONFIDP_OPS_PORT=str(free_port()))
    return root, moved


def _run_as_the_image(root: Path, env: dict[str, str], **kwargs: object) -> subprocess.Popen:
    [workdir] = [a for keyword, a in _final_stage() if keyword == "WORKDIR"]
    command = [json.loads(a) for keyword, a in _final_stage() if keyword in ("ENTRYPOINT", "CMD")]
    assert command == [["confidp"], ["serve"]]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDP_")}
    return subprocess.Popen([sys.executable, "-m", "confidp.cli", "serve"],
                            cwd=root / workdir.lstrip("/"), env={**clean, **env},
                            **kwargs)  # type: ignore[call-overload]


def test_the_image_without_tenants_says_what_to_mount(tmp_path: Path) -> None:
    root, env = _image_root(tmp_path)
    process = _run_as_the_image(root, env, stderr=subprocess.PIPE, text=True)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"no tenant files (*.yaml, *.yml) in the tenants directory " \
        f"{env['CONFIDP_TENANTS']}" in stderr
    assert f"mount them at {env['CONFIDP_TENANTS']}" in stderr


def test_the_image_serves_the_demo_when_asked_and_its_healthcheck_passes(
        tmp_path: Path) -> None:
    root, env = _image_root(tmp_path)
    [examples] = [a.split()[1] for keyword, a in _final_stage()
                  if keyword == "COPY" and a.split()[0] == "tenants"]
    env["CONFIDP_TENANTS"] = str(root / examples.lstrip("/"))
    log = (tmp_path / "server.log").open("wb")
    process = _run_as_the_image(root, env, stdout=log, stderr=subprocess.STDOUT)
    healthcheck = _healthcheck()
    assert healthcheck[0] == "python"
    try:
        def healthy() -> bool:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            return subprocess.run([sys.executable, *healthcheck[1:]], env={**os.environ, **env},
                                  capture_output=True, timeout=10).returncode == 0
        wait_until(healthy, timeout=20, interval=0.2)
        import httpx

        ops = f"http://127.0.0.1:{env['CONFIDP_OPS_PORT']}"
        status = httpx.get(f"{ops}/status/acme").json()
        assert status["serving"]
    finally:
        _stop(process)
        log.close()
    # the healthcheck fails when nothing answers on the operations port
    done = subprocess.run([sys.executable, *healthcheck[1:]], env={**os.environ, **env},
                          capture_output=True, timeout=10)
    assert done.returncode != 0


def test_the_readme_shows_the_container_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "podman build -t confidp" in readme
    assert "-v \"$PWD/tenants:/etc/confidp/tenants:ro\"" in readme
