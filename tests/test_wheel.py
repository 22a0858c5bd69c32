"""The built wheel, installed outside the repository, serves with only a tenants directory.

The wheel is built from a copy of this checkout's sources (``pip wheel --no-deps
--no-build-isolation``, nothing downloaded) and installed without dependencies into a fresh
virtualenv in a temporary directory; the test virtualenv's site-packages are appended to its
path for the dependencies only (a plain path entry: the editable install's finder there is
never run, so ``confidp`` is imported from the wheel, which the tests check).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from confidp.themes import REQUIRED_TEMPLATES
from tests.e2e.flow import authorize_url, location, seed_params
from tests.support import REPO, free_port, tenant_doc, wait_until, write_tenant

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def confidp(self) -> Path:
        return self.venv / "bin" / "confidp"


def _clean_env() -> dict[str, str]:
    """No CONFIDP_* setting and no PYTHONPATH leaking in from the test run."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith("CONFIDP_") and name != "PYTHONPATH"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    # A clean copy of what the wheel is built from, so no build/ or egg-info of the checkout
    # (possibly stale) is used or written.
    source = root / "source"
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(root / "dist"), str(source)],
        capture_output=True, text=True, timeout=300, cwd=root, env=_clean_env())
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = (root / "dist").glob("confidp-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=300, cwd=root, env=_clean_env())
    assert install.returncode == 0, install.stdout + install.stderr
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
         "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return Installed(wheel, venv)


def test_the_wheel_carries_the_default_theme(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for template in REQUIRED_TEMPLATES:
        assert f"confidp/default_theme/templates/{template}" in names
    assert "confidp/default_theme/static/style.css" in names
    assert "confidp/config/tenant.schema.json" in names


def test_confidp_is_imported_from_the_wheel(installed: Installed) -> None:
    where = subprocess.run([str(installed.python), "-c", "import confidp; print(confidp.__file__)"],
                           capture_output=True, text=True, env=_clean_env(), cwd=installed.venv,
                           check=True).stdout.strip()
    assert Path(where).is_relative_to(installed.venv)


def test_version_comes_from_the_installed_metadata(installed: Installed) -> None:
    version = installed.wheel.name.split("-")[1]
    done = subprocess.run([str(installed.confidp), "--version"], capture_output=True, text=True,
                          env=_clean_env(), cwd=installed.venv, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"confidp {version}\n"


@pytest.fixture
def served(installed: Installed, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes],
                                                                    str, Path]]:
    """``confidp serve`` from the wheel, in an empty working directory holding only tenants/
    (no themes directory, no flags but the address)."""
    port = free_port()
    (tmp_path / "tenants").mkdir()
    write_tenant(tmp_path / "tenants", "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(installed.confidp), "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=_clean_env())
        try:
            yield process, f"http://127.0.0.1:{port}", log_path
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_the_installed_wheel_serves_the_default_theme(
        served: tuple[subprocess.Popen[bytes], str, Path], tmp_path: Path) -> None:
    process, base, log_path = served
    assert not (tmp_path / "themes").exists()
    with httpx.Client(base_url=base, timeout=5) as client:
        def ready() -> bool:
            assert process.poll() is None, log_path.read_text(errors="replace")
            try:
                return client.get("/readyz").status_code == 200
            except httpx.TransportError:
                return False
        wait_until(ready, timeout=30)
        params = seed_params(scope="openid profile")
        login = location(client.get(authorize_url("/acme", params)))
        page = client.get(login)
        assert page.status_code == 200
        assert '<body class="theme-default">' in page.text
        assert '<button type="submit">Sign in</button>' in page.text
        css = client.get("/acme/assets/style.css")
        assert css.status_code == 200
        builtin = REPO / "src" / "confidp" / "default_theme" / "static" / "style.css"
        assert css.content == builtin.read_bytes()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log, log
    assert (tmp_path / "state").is_dir()  # the default state directory, in the working dir
