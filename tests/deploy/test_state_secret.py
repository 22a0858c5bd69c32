"""components/state-from-secret: the init container's unpacking, run as the manifest says,
and confidp serving from the unpacked state directory mounted read-only, as in the pod."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import pytest

from tests.deploy.support import KUBERNETES, one, ops_listener_env, render
from tests.e2e.flow import authorize_url, seed_params
from tests.support import free_port, tenant_doc, wait_until, write_tenant

pytestmark = pytest.mark.e2e


def _unpack_command() -> list[str]:
    """The unpack-state init container's command, with its two paths left off."""
    documents = render(KUBERNETES / "overlays" / "redis-git-sync")
    pod = one(documents, "Deployment", "confidp")["spec"]["template"]["spec"]
    [unpack] = [c for c in pod["initContainers"] if c["name"] == "unpack-state"]
    command = list(unpack["command"])
    mounts = {m["name"]: m["mountPath"] for m in unpack["volumeMounts"]}
    assert command[-2].startswith(mounts["state-secret"] + "/")
    assert command[-1] == mounts["state"]
    assert command[0] == "python"
    return [sys.executable, *command[1:-2]]


def _state_archive(tmp_path: Path, *tenants: str) -> tuple[Path, dict[str, set[str]]]:
    """A state directory made by ``confidp state init`` and packed as the README says
    (tar -C STATE -czf state.tar.gz sealing.key server.key enrolment.key ops.token keys);
    returns the archive and
    each tenant's key ids."""
    from confidp.keys import KeyStore

    state = tmp_path / "made"
    tenants_dir = tmp_path / "made-tenants"
    tenants_dir.mkdir()
    for tenant in tenants:
        (tenants_dir / f"{tenant}.yaml").write_text("issuer: x\n")  # only the names count
    done = subprocess.run([sys.executable, "-m", "confidp.cli", "state", "init", "--tenants",
                           str(tenants_dir), "--state-dir", str(state)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"the signing keys of {len(tenants)} tenant(s)" in done.stdout
    store = KeyStore(state)
    kids = {t: {key["kid"] for key in store.ring(t).jwks["keys"]} for t in tenants}
    archive = tmp_path / "state.tar.gz"
    subprocess.run(["tar", "-C", str(state), "-czf", str(archive), "sealing.key",
                    "server.key", "enrolment.key", "ops.token", "keys"], check=True)
    return archive, kids


def _unpack(archive: Path, target: Path) -> subprocess.CompletedProcess[str]:
    target.mkdir(exist_ok=True)
    return subprocess.run([*_unpack_command(), str(archive), str(target)],
                          capture_output=True, text=True, timeout=60)


def test_unpacks_the_archive(tmp_path: Path) -> None:
    archive, kids = _state_archive(tmp_path, "acme", "globex")
    done = _unpack(archive, tmp_path / "state")
    assert done.returncode == 0, done.stderr
    assert "the signing keys of 2 tenant(s): acme globex" in done.stdout
    assert (tmp_path / "state" / "server.key").read_bytes() == \
        (tmp_path / "made" / "server.key").read_bytes()
    assert (tmp_path / "state" / "sealing.key").read_bytes() == \
        (tmp_path / "made" / "sealing.key").read_bytes()
    for tenant in kids:
        assert sorted(p.name for p in (tmp_path / "state" / "keys" / tenant).iterdir()) == \
            sorted(p.name for p in (tmp_path / "made" / "keys" / tenant).iterdir())


@pytest.mark.parametrize("missing", ["sealing.key", "server.key"])
def test_refuses_an_archive_without_a_key_file(tmp_path: Path, missing: str) -> None:
    archive = tmp_path / "state.tar"
    with tarfile.open(archive, "w") as tar:
        for name in {"sealing.key", "server.key"} - {missing}:
            info = tarfile.TarInfo(name)
            info.size = 32
            tar.addfile(info, io.BytesIO(bytes(32)))
    done = _unpack(archive, tmp_path / "state")
    assert done.returncode != 0
    assert f"has no {missing}" in done.stderr


@pytest.mark.parametrize("member", ["../outside", "/tmp/confidp-absolute-outside",
                                    "link-out"])
def test_refuses_to_write_outside_the_state_directory(tmp_path: Path, member: str) -> None:
    archive = tmp_path / "state.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo(member)
        if member == "link-out":
            info.type = tarfile.SYMTYPE
            info.linkname = str(tmp_path / "elsewhere")
            tar.addfile(info)
            info = tarfile.TarInfo("link-out/planted")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    target = tmp_path / "deep" / "state"
    target.parent.mkdir()
    done = _unpack(archive, target)
    assert done.returncode != 0
    assert not (tmp_path / "deep" / "outside").exists()
    assert not Path("/tmp/confidp-absolute-outside").exists()
    assert not (tmp_path / "elsewhere").exists()


def _read_only_mounts_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "-m", "sh", "-c",
                           "mount -o remount,bind,ro / /  2>/dev/null; "
                           "mount --bind /tmp /mnt && mount -o remount,bind,ro /mnt"],
                          capture_output=True, timeout=30)
    return done.returncode == 0


def test_confidp_serves_from_the_read_only_unpacked_state(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    """What the pod does: keys and sealing key read from a read-only mount, nothing written.
    As root, file modes do not stop writes, so the directory is a read-only bind mount in a
    mount namespace of its own (unshare -m)."""
    if not _read_only_mounts_work():
        if os.environ.get("CI"):
            pytest.fail("unshare -m with a read-only bind mount must work in CI (run as root)")
        pytest.skip("no unshare/mount here (needs root): read-only state NOT tested")
    archive, kids = _state_archive(tmp_path, "acme")
    unpacked = tmp_path / "state"
    assert _unpack(archive, unpacked).returncode == 0
    read_only = tmp_path / "read-only-state"
    read_only.mkdir()
    cache = tmp_path / "tmp" / "tenant-cache"  # the pod's /tmp emptyDir
    port = free_port()
    write_tenant(tenants_dir, "acme.yaml", tenant_doc(f"http://127.0.0.1:{port}/acme"))
    script = 'mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && exec "$@"'
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        ["unshare", "-m", "sh", "-c", script, "sh", str(unpacked), str(read_only),
         sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(tenants_dir),
         "--themes", str(themes_dir), "--state-dir", str(read_only), "--host", "127.0.0.1",
         "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
        env={**ops_listener_env(), "CONFIDP_CACHE_DIR": str(cache)})
    base = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                return httpx.get(f"{base}/readyz").status_code == 200
            except httpx.TransportError:
                return False
        wait_until(ready, timeout=15)
        jwks = httpx.get(f"{base}/acme/jwks")
        assert jwks.status_code == 200
        assert {key["kid"] for key in jwks.json()["keys"]} == kids["acme"]
        # a sign-in request sealed with the unpacked sealing key opens again
        with httpx.Client(base_url=base) as browser:
            login = browser.get(authorize_url("/acme", seed_params(scope="openid")))
            assert login.status_code == 302
            page = browser.get(login.headers["location"])
        assert page.status_code == 200, page.text
        assert 'name="password"' in page.text
        wait_until(lambda: list(cache.glob("tenants-*.bin")), timeout=15)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    assert "Read-only file system" not in (tmp_path / "server.log").read_text()
    made = sorted(p.relative_to(unpacked) for p in unpacked.rglob("*"))
    assert made == sorted(p.relative_to(tmp_path / "made") for p in
                          (tmp_path / "made").rglob("*"))
