"""A write counts as done only once ``wait_replicas`` replicas have it (Redis's WAIT, on the
connection that wrote, in the same round trip): what a failover could lose is never
acknowledged. Real Redis processes: a master with a replica, the Cluster and Sentinel sets."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from confidp.store import StoreUnavailable
from confidp.store.redis import RedisStore
from confidp.store.tenant import TenantStore
from tests.support import (
    REPO,
    RedisCluster,
    RedisNode,
    RedisSentinel,
    RedisServer,
    free_port,
    wait_until,
)


def redis_server_client(server: RedisServer) -> Any:
    import redis

    return redis.Redis(port=server.port, socket_timeout=5)


@pytest.fixture
def replicated(tmp_path: Path, redis_server: RedisServer) -> Iterator[RedisNode]:
    """A replica of ``redis_server``, in sync."""
    with redis_server_client(redis_server) as master:  # its copy at once, not after 5 s
        master.config_set("repl-diskless-sync-delay", 0)
    port = free_port()
    replica = RedisNode(tmp_path / "replica", port, [
        "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--replicaof", "127.0.0.1", str(redis_server.port)])
    replica.start()

    def in_sync() -> bool:
        # both ends: the replica's link is up, and the master counts it online (only then
        # does WAIT count its acknowledgements)
        with replica.client() as client:
            if client.info("replication")["master_link_status"] != "up":
                return False
        with redis_server_client(redis_server) as master:
            info = master.info("replication")
            return any(isinstance(value, dict) and value.get("state") == "online"
                       for name, value in info.items() if name.startswith("slave"))
    wait_until(in_sync, timeout=20)
    yield replica
    replica.stop()


async def test_a_write_waits_for_its_replica(redis_server: RedisServer,
                                             replicated: RedisNode) -> None:
    store = RedisStore(f"{redis_server.url}?wait_replicas=1&wait_timeout=0.2")
    # the confirmed writes may take longer than 0.2 s on a loaded machine (the replica is a
    # process that must be scheduled): what they show is that they succeed at all
    patient = RedisStore(f"{redis_server.url}?wait_replicas=1&wait_timeout=1.5")
    unconfirmed = RedisStore(redis_server.url)  # wait_replicas=0: a single Redis's default
    try:
        await patient.put("acme:session", "s", {"v": 1}, 30)
        with replicated.client() as replica:  # confirmed: the replica has it already
            assert replica.get("confidp:{acme}:session:s") == '{"v":1}'
        replicated.signal(signal.SIGSTOP)
        try:
            for write in (store.put("acme:session", "t", {}, 30),
                          store.consume("acme:session", "s", [("acme:code", "c", {}, 30)]),
                          store.put_many([("acme:access", "a", {}, 30)]),
                          store.delete("acme:session", "t"),
                          store.hit("acme:throttle", "u", 60)):
                with pytest.raises(StoreUnavailable, match="confirmed by 0 of the 1 replica"):
                    await write
            await unconfirmed.put("acme:session", "u", {}, 30)  # no waiting asked
            assert await store.get("acme:session", "u") == {}  # reads never wait
        finally:
            replicated.signal(signal.SIGCONT)
        await patient.put("acme:session", "v", {}, 30)  # confirmed again, once it is back
    finally:
        await store.close()
        await patient.close()
        await unconfirmed.close()


async def test_cluster_writes_wait_for_the_replica_of_their_shard(
        redis_cluster: RedisCluster) -> None:
    """A tenant's writes go to one shard and wait for that shard's replica; a stalled replica
    stops the writes of the tenants on its shard only."""
    store = RedisStore(redis_cluster.url + "?wait_timeout=0.2")
    patient = RedisStore(redis_cluster.url + "?wait_timeout=1.5")  # writes that must succeed
    try:
        master = redis_cluster.master_of("acme")
        other = next(tenant for tenant in (f"t{n}" for n in range(100))
                     if redis_cluster.master_of(tenant) != master)
        acme, elsewhere = TenantStore(store, "acme"), TenantStore(patient, other)
        await TenantStore(patient, "acme").put("session", "s", {}, 30)
        replica = redis_cluster.nodes[redis_cluster.replica_of(master)]
        replica.signal(signal.SIGSTOP)
        try:
            with pytest.raises(StoreUnavailable, match="confirmed by 0 of the 1 replica"):
                await acme.consume("session", "s", [("code", "c", {}, 30)])
            await elsewhere.put_many([("session", "s", {"ok": True}, 30)])
            assert await elsewhere.get("session", "s") == {"ok": True}
        finally:
            replica.signal(signal.SIGCONT)
        await TenantStore(patient, "acme").put("session", "t", {}, 30)
    finally:
        await store.close()
        await patient.close()


async def test_the_replicas_a_write_waits_for_must_exist(
        redis_server: RedisServer, replicated: RedisNode, redis_cluster: RedisCluster,
        redis_sentinel: RedisSentinel) -> None:
    """Checked at start (confidp serve): a master with fewer replicas than wait_replicas, or
    a redis:// URL that names a replica (whatever wait_replicas), would fail every write."""
    cases = {
        f"{redis_cluster.url}?wait_replicas=2": "has 1 replica(s) connected, and every "
                                                "write waits for 2 (wait_replicas)",
        f"{redis_sentinel.url}?wait_replicas=2": "of 'confidp' has 1 replica(s) connected",
        f"redis://127.0.0.1:{replicated.port}/0": "is a replica, not a master",
        redis_cluster.url: None, redis_sentinel.url: None,
        f"{redis_server.url}?wait_replicas=1": None,
    }
    for url, problem in cases.items():
        store = RedisStore(url)
        try:
            found = await store.replication_problem()
        finally:
            await store.close()
        if problem is None:
            assert found is None, (url, found)
        else:
            assert found is not None and problem in found, (url, found)


def test_serve_refuses_replicas_it_cannot_have(tmp_path: Path,
                                               redis_server: RedisServer) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(REPO / "tenants"),
         "--state-dir", str(tmp_path / "state"), "--port", str(free_port()),
         "--store", f"{redis_server.url}?wait_replicas=1"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert (f"the store {redis_server.url}?wait_replicas=1: the master 127.0.0.1:"
            f"{redis_server.port} has 0 replica(s) connected") in done.stderr


async def test_a_cluster_store_used_at_once_from_the_start(redis_cluster: RedisCluster) -> None:
    """Many first calls at once, before the client has read the cluster's slots (a server
    that starts under load): none fails (redis-py's cluster client, with its retries off,
    broke connections of concurrent first calls)."""
    for query in ("?wait_replicas=0", ""):
        store = RedisStore(redis_cluster.url + query)
        try:
            await asyncio.gather(*(store.put("acme:session", str(n), {}, 30)
                                   for n in range(16)))
            assert await store.get("acme:session", "15") == {}
        finally:
            await store.close()


async def test_a_lagging_replica_promoted_has_all_that_was_acknowledged(
        redis_server: RedisServer, replicated: RedisNode) -> None:
    """The hard case of a failover: the replica stops receiving while its master still takes
    writes (its link cut: it follows a master that is not there), then the master dies and
    that replica is promoted. Confirmed writes lose nothing: while the replica lagged they
    were refused (503), so what the promoted replica lacks, nobody was told was done. A store
    that does not wait was told its write was done, and the write is gone: what waiting
    prevents."""
    confirmed = RedisStore(f"{redis_server.url}?wait_replicas=1&wait_timeout=0.1")
    patient = RedisStore(f"{redis_server.url}?wait_replicas=1&wait_timeout=1.5")
    unconfirmed = RedisStore(redis_server.url)
    acme, loose = TenantStore(confirmed, "acme"), TenantStore(unconfirmed, "acme")
    promoted = RedisStore(f"redis://127.0.0.1:{replicated.port}/0")
    try:
        # confirmed writes (however long the replica takes to be scheduled, up to 1.5 s)
        await TenantStore(patient, "acme").put("refresh", "r1", {"family": "f"}, 60)
        await TenantStore(patient, "acme").put("code", "c1", {"v": 1}, 60)
        with replicated.client() as client:
            client.replicaof("127.0.0.1", free_port())  # the link is cut, the data kept
        with pytest.raises(StoreUnavailable, match="confirmed by 0"):
            await acme.consume("refresh", "r1", [("refresh", "r2", {"family": "f"}, 60)])
        await loose.put("session", "told-done", {}, 60)  # acknowledged at once
        assert redis_server.process is not None
        redis_server.process.kill()  # the master dies
        with replicated.client() as client:
            client.replicaof("NO", "ONE")  # and the replica is promoted
        view = TenantStore(promoted, "acme")
        assert await view.get("refresh", "r1") == {"family": "f"}  # everything confirmed
        assert await view.get("code", "c1") == {"v": 1}
        assert await view.get("refresh", "r2") is None  # refused: r1 may be presented again
        assert await view.get("session", "told-done") is None  # acknowledged, and lost
    finally:
        await confirmed.close()
        await patient.close()
        await unconfirmed.close()
        await promoted.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_rediss_verifies_the_server(tmp_path: Path, redis_binary: str) -> None:
    """rediss:// speaks TLS and checks the server's certificate against ssl_ca_certs; a
    certificate it cannot verify is a store that cannot be reached."""
    cert, key = _self_signed(tmp_path)
    port = free_port()
    server = RedisNode(tmp_path / "tls", port, [
        "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-auth-clients", "no"])
    server.start(wait=False)
    try:
        store = RedisStore(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}")
        try:
            for _ in range(100):  # until it listens
                if await store.ping():
                    break
                await asyncio.sleep(0.05)
            await store.put("acme:session", "s", {"tls": True}, 30)
            assert await store.get("acme:session", "s") == {"tls": True}
        finally:
            await store.close()
        unverified = RedisStore(f"rediss://127.0.0.1:{port}/0")  # the system's CAs only
        try:
            assert not await unverified.ping()
            with pytest.raises(StoreUnavailable, match="certificate verify failed"):
                await unverified.get("acme:session", "s")
        finally:
            await unverified.close()
    finally:
        server.stop()
