"""deploy/kubernetes: every overlay renders with ``kubectl kustomize``, validates against the
Kubernetes API schemas (kubernetes-validate, no cluster), and has the properties confidp
needs: probes on the operations listener, a restrictive securityContext, shared state for
several replicas, and only settings confidp really reads."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import (
    KUBERNETES,
    OVERLAYS,
    confidp_settings,
    objects,
    one,
    render,
)
from tests.support import REPO

# The oldest Kubernetes these manifests support (native sidecars: initContainers with
# restartPolicy Always, on by default since 1.29) and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.29", "1.37")
SANIC_GRACEFUL_SHUTDOWN_SECONDS = 15  # Sanic's GRACEFUL_SHUTDOWN_TIMEOUT default
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_there_are_the_overlays_the_readme_names() -> None:
    assert OVERLAYS == ["redis", "redis-git-sync", "single"]
    readme = (KUBERNETES / "README.md").read_text()
    for overlay in OVERLAYS:
        assert f"kubectl apply -n confidp -k deploy/kubernetes/overlays/{overlay}" in readme


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_objects_validate_against_the_kubernetes_schemas(overlay: str, version: str) -> None:
    import kubernetes_validate

    documents = render(KUBERNETES / "overlays" / overlay)
    assert documents
    for document in documents:
        # strict: an unknown or misspelt field is an error, not silently dropped
        kubernetes_validate.validate(document, version, strict=True)


def test_validation_catches_a_misspelt_field() -> None:
    """The check above can fail: a field the API does not know is rejected."""
    import kubernetes_validate

    deployment = one(render(KUBERNETES / "overlays" / "single"), "Deployment", "confidp")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def _pod(documents: tuple[dict[str, Any], ...], name: str = "confidp") -> dict[str, Any]:
    return one(documents, "Deployment", name)["spec"]["template"]["spec"]


def _confidp(pod: dict[str, Any]) -> dict[str, Any]:
    [container] = [c for c in pod["containers"] if c["name"] == "confidp"]
    return container


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def _all_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return pod["containers"] + pod.get("initContainers", [])


def _port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    [number] = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(number)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_go_to_the_operations_listener(overlay: str) -> None:
    container = _confidp(_pod(render(KUBERNETES / "overlays" / overlay)))
    env = _env(container)
    ops_port = int(env["CONFIDP_OPS_PORT"])
    assert ops_port != int(env["CONFIDP_PORT"])
    # in a pod the listeners must take connections from the kubelet and the Services
    assert env["CONFIDP_OPS_HOST"] == env["CONFIDP_HOST"] == "0.0.0.0"  # noqa: S104
    expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz",
                "startupProbe": "/healthz"}
    for probe, path in expected.items():
        http = container[probe]["httpGet"]
        assert http["path"] == path, probe
        assert _port_number(container, http["port"]) == ops_port, probe


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_confidp_variable_is_a_real_setting(overlay: str) -> None:
    """A renamed or removed flag breaks this test instead of being silently ignored."""
    settings = confidp_settings()
    for container in _all_containers(_pod(render(KUBERNETES / "overlays" / overlay))):
        for name in _env(container) if "env" in container else {}:
            if name.startswith("CONFIDP_"):
                assert name in settings, f"{container['name']}: {name} is not a setting"


def test_the_settings_check_knows_the_flags() -> None:
    """The list the check above compares against is not empty or made up."""
    settings = confidp_settings()
    assert {"CONFIDP_TENANTS", "CONFIDP_STATE_DIR", "CONFIDP_STORE",
            "CONFIDP_STATUS_TOKEN"} <= settings
    assert "CONFIDP_NO_SUCH_SETTING" not in settings


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_locked_down(overlay: str) -> None:
    for deployment in objects(render(KUBERNETES / "overlays" / overlay), "Deployment"):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        # Service links would set CONFIDP_PORT=tcp://... from the Service named confidp
        assert pod["enableServiceLinks"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["securityContext"].get("runAsUser", 1) != 0, name
        for container in _all_containers(pod):
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["runAsNonRoot"] is True, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert context.get("runAsUser", 1) != 0, where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned(overlay: str) -> None:
    for deployment in objects(render(KUBERNETES / "overlays" / overlay), "Deployment"):
        for container in _all_containers(deployment["spec"]["template"]["spec"]):
            image = container["image"]
            if "@sha256:" in image:
                continue
            last = image.rsplit("/", 1)[-1]
            assert ":" in last, f"{image}: no tag means latest"
            tag = last.split(":", 1)[1]
            assert tag and tag != "latest", image
            if image.startswith("confidp:"):  # the image built from this repository
                assert tag == PROJECT["version"], image


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_writable_paths_are_volumes(overlay: str) -> None:
    """With a read-only root file system, everything confidp writes is a volume: TMPDIR
    (Python, prometheus-client's multiprocess files) and, unless keys come read-only from a
    Secret, the state directory."""
    pod = _pod(render(KUBERNETES / "overlays" / overlay))
    container = _confidp(pod)
    env = _env(container)
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    tmp = mounts[env["TMPDIR"]]
    assert not tmp.get("readOnly") and "emptyDir" in volumes[tmp["name"]]
    assert env["CONFIDP_STATE_DIR"] in mounts
    tenants = Path(env["CONFIDP_TENANTS"])
    assert any(tenants == Path(p) or Path(p) in tenants.parents for p in mounts), tenants


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_leaves_time_to_drain(overlay: str) -> None:
    pod = _pod(render(KUBERNETES / "overlays" / overlay))
    command = _confidp(pod)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] > int(command[1]) + \
        SANIC_GRACEFUL_SHUTDOWN_SECONDS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_reach_the_named_ports(overlay: str) -> None:
    documents = render(KUBERNETES / "overlays" / overlay)
    deployment = one(documents, "Deployment", "confidp")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    container = _confidp(deployment["spec"]["template"]["spec"])
    env = _env(container)
    wanted = {"confidp": ("http", int(env["CONFIDP_PORT"])),
              "confidp-ops": ("ops", int(env["CONFIDP_OPS_PORT"]))}
    for name, (port_name, number) in wanted.items():
        service = one(documents, "Service", name)
        assert service["spec"]["selector"].items() <= labels.items(), name
        [port] = service["spec"]["ports"]
        assert _port_number(container, port["targetPort"]) == number, name
        assert port["name"] == port_name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_share_state(overlay: str) -> None:
    """More than one replica needs Redis, a disruption budget and one set of keys; a single
    replica on a ReadWriteOnce volume must never run twice at once."""
    documents = render(KUBERNETES / "overlays" / overlay)
    deployment = one(documents, "Deployment", "confidp")
    pod = deployment["spec"]["template"]["spec"]
    env = _env(_confidp(pod))
    state = next(v for v in pod["volumes"] if v["name"] == "state")
    claim = state.get("persistentVolumeClaim", {}).get("claimName")
    modes = one(documents, "PersistentVolumeClaim", claim)["spec"]["accessModes"] \
        if claim else []
    if deployment["spec"]["replicas"] > 1:
        assert env["CONFIDP_STORE"].startswith("redis://")
        budgets = objects(documents, "PodDisruptionBudget")
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(b["spec"]["selector"]["matchLabels"].items() <= labels.items()
                   for b in budgets)
        assert modes == ["ReadWriteMany"] or _state_from_secret(pod)
    else:
        assert env["CONFIDP_STORE"] == "memory"
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def _state_from_secret(pod: dict[str, Any]) -> bool:
    [mount] = [m for m in _confidp(pod)["volumeMounts"] if m["name"] == "state"]
    return mount.get("readOnly") is True and any(
        c["name"] == "unpack-state" for c in pod.get("initContainers", []))


def test_redis_is_reached_by_the_service_it_ships() -> None:
    documents = render(KUBERNETES / "overlays" / "redis")
    env = _env(_confidp(_pod(documents)))
    service = one(documents, "Service", "confidp-redis")
    assert env["CONFIDP_STORE"] == f"redis://confidp-redis:{service['spec']['ports'][0]['port']}/0"
    redis = _pod(documents, "confidp-redis")["containers"][0]
    assert "noeviction" in redis["args"]  # an evicted session signs someone out
    assert int(env["CONFIDP_STORE_WAIT"]) > 0


def test_git_sync_publishes_where_confidp_reads() -> None:
    documents = render(KUBERNETES / "overlays" / "redis-git-sync")
    pod = _pod(documents)
    [sync] = [c for c in pod["initContainers"] if c["name"] == "git-sync"]
    assert sync["restartPolicy"] == "Always"  # a native sidecar
    assert sync["startupProbe"]["httpGet"]["path"] == "/"  # confidp starts after one sync
    sync_env = _env(sync)
    link = Path(sync_env["GITSYNC_ROOT"]) / sync_env["GITSYNC_LINK"]
    tenants = Path(_env(_confidp(pod))["CONFIDP_TENANTS"])
    assert tenants == link or link in tenants.parents
    sync_mounts = {m["mountPath"]: m["name"] for m in sync["volumeMounts"]}
    confidp_mounts = {m["mountPath"]: m for m in _confidp(pod)["volumeMounts"]}
    root = sync_env["GITSYNC_ROOT"]
    assert confidp_mounts[root]["name"] == sync_mounts[root]
    assert confidp_mounts[root]["readOnly"] is True
    assert "/etc/confidp/tenants" not in confidp_mounts
    assert not [c for c in objects(documents, "ConfigMap")
                if c["metadata"]["name"] == "confidp-tenants"]


def test_keys_from_a_secret_are_read_only_in_memory() -> None:
    documents = render(KUBERNETES / "overlays" / "redis-git-sync")
    pod = _pod(documents)
    assert _state_from_secret(pod)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["state"]["emptyDir"]["medium"] == "Memory"
    assert volumes["state-secret"]["secret"]["secretName"] == "confidp-state"
    assert volumes["state-secret"]["secret"]["defaultMode"] == 0o440
    assert not objects(documents, "PersistentVolumeClaim") or all(
        c["metadata"]["name"] != "confidp-state"
        for c in objects(documents, "PersistentVolumeClaim"))


def test_network_policies_leave_the_public_port_open() -> None:
    documents = render(KUBERNETES / "overlays" / "redis-git-sync")
    policy = one(documents, "NetworkPolicy", "confidp")
    ports = [port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]]
    assert sorted(ports) == ["http", "ops"]
    [ops_rule] = [r for r in policy["spec"]["ingress"] if r["ports"] == [{"port": "ops"}]]
    assert ops_rule["from"]  # the operations port is not open to everyone
    redis = one(documents, "NetworkPolicy", "confidp-redis")
    [rule] = redis["spec"]["ingress"]
    assert rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] \
        == "server"


def test_the_example_tenants_are_valid() -> None:
    """The ConfigMap's tenant files pass the server's own validator."""
    base = render(KUBERNETES / "base")
    [config] = [c for c in objects(base, "ConfigMap")
                if c["metadata"]["name"] == "confidp-tenants"]
    assert config["data"]
    done = subprocess.run([sys.executable, "-m", "confidp.cli", "check",
                           str(KUBERNETES / "base" / "tenants"), "--themes",
                           str(REPO / "themes")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list((KUBERNETES / "base" / "tenants").glob("*.yaml"))) == len(config["data"])
