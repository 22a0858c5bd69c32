"""The store URL forms (confidp.store.url): what each means, and a one-line reason for every
malformed one, without its passwords."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from confidp.store import open_store, redacted, store_url_problem
from confidp.store.url import CLUSTER, SENTINEL, SINGLE, StoreURLError, parse
from tests.support import REPO


def test_single_redis() -> None:
    address = parse("redis://localhost")
    assert (address.mode, address.hosts, address.db, address.tls) == (
        SINGLE, (("localhost", 6379),), 0, False)
    assert address.wait_replicas == 0  # a single Redis usually has no replica to wait for
    address = parse("rediss://app:s%40cret@redis.example:6380/2?ssl_cert_reqs=none"
                    "&ssl_ca_certs=/etc/ca.pem&ssl_check_hostname=no")
    assert (address.username, address.password, address.db, address.tls) == (
        "app", "s@cret", 2, True)
    assert address.ssl == {"ssl_cert_reqs": "none", "ssl_ca_certs": "/etc/ca.pem",
                           "ssl_check_hostname": False}
    assert parse("redis://:hunter2@h/0").password == "hunter2"
    assert parse("redis://hunter2@h/0").password == "hunter2"  # as redis-py reads it
    assert parse("redis://[::1]:7000/1").hosts == (("::1", 7000),)
    address = parse("unix:///run/redis/redis.sock?db=3")
    assert (address.path, address.db, address.hosts) == ("/run/redis/redis.sock", 3, ())


def test_cluster() -> None:
    address = parse("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2,[::1]:7002/")
    assert address.mode == CLUSTER and address.password == "pw"
    assert address.hosts == (("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002))
    assert (address.wait_replicas, address.wait_timeout) == (1, 0.5)  # confirmed by default
    address = parse("rediss+cluster://h:7000?wait_replicas=0")
    assert address.tls and address.wait_replicas == 0


def test_sentinel() -> None:
    address = parse("redis+sentinel://:pw@s1,s2:26380/mymaster/4?wait_replicas=2"
                    "&wait_timeout=0.25&sentinel_password=sp")
    assert address.mode == SENTINEL and address.service == "mymaster" and address.db == 4
    assert address.hosts == (("s1", 26379), ("s2", 26380))
    assert (address.password, address.sentinel_password) == ("pw", "sp")
    assert (address.wait_replicas, address.wait_timeout) == (2, 0.25)
    assert parse("rediss+sentinel://s1/mymaster").tls
    assert parse("redis+sentinel://s1/mymaster/").db == 0
    assert "pw" not in repr(address) and "sp" not in repr(address)


@pytest.mark.parametrize(("url", "says"), [
    ("postgres://h/0", "unknown store: use memory, redis://"),
    ("redis", "unknown store"),
    ("redis://", "names no host"),
    ("redis://h:99999/0", "port '99999' is not a number from 1 to 65535"),
    ("redis://h:port/0", "port 'port'"),
    ("redis://h/zero", "database 'zero' is not a number"),
    ("redis://h/0/1", "the path is the database only"),
    ("redis://a:1,b:2/0", "redis:// takes one host"),
    ("redis://h?db=1", "the database goes in the path"),
    ("redis://h/0#x", "no #fragment"),
    ("redis://[::1/0", "IPv6"),
    ("redis://h/0?timeout=1", "unknown option 'timeout'; the options are wait_replicas,"),
    ("redis://h/0?wait_replicas=1&wait_replicas=2", "given twice"),
    ("redis://h/0?wait_replicas=-1", "wait_replicas='-1' must be a whole number"),
    ("redis://h/0?wait_replicas=1.5", "whole number"),
    ("redis://h/0?wait_replicas=99", "from 0 to 16"),
    ("redis://h/0?wait_timeout=0", "wait_timeout='0' must be a number from 0.01 to 1.5"),
    ("redis://h/0?wait_timeout=nan", "wait_timeout='nan'"),
    ("redis://h/0?wait_timeout=3", "from 0.01 to 1.5"),
    ("redis://h/0?ssl_cert_reqs=none", "ssl_* options need TLS"),
    ("rediss://h/0?ssl_cert_reqs=maybe", "ssl_cert_reqs must be one of none, optional"),
    ("rediss://h/0?ssl_check_hostname=perhaps", "ssl_check_hostname must be yes or no"),
    ("redis://h/0?sentinel_password=x", "sentinel_* options are for redis+sentinel"),
    ("unix://host/run/redis.sock", "unix:// takes a socket path"),
    ("unix://", "needs the socket's path"),
    ("redis+cluster://h:7000/1", "Redis Cluster has database 0 only"),
    ("redis+cluster://h:7000,,h2:7001", "the host '' is not HOST:PORT"),
    ("redis+sentinel://s1:26379", "name the master the sentinels monitor"),
    ("redis+sentinel://s1:26379/", "name the master"),
    ("redis+sentinel://s1/m/0/x", "the service and the database only"),
])
def test_a_malformed_url_is_one_line_saying_what_is_wrong(url: str, says: str) -> None:
    problem = store_url_problem(url)
    assert problem is not None and says in problem, problem
    assert "\n" not in problem
    with pytest.raises(StoreURLError):
        parse(url)
    with pytest.raises(ValueError) as caught:  # what confidp.app meets, if it ever did
        open_store(url)
    assert str(caught.value) in problem


def test_memory_and_good_urls_have_no_problem() -> None:
    for url in ("memory", "redis://h:6379/0", "unix:///s.sock",
                "redis+cluster://a:1,b:2", "redis+sentinel://s/m"):
        assert store_url_problem(url) is None


@pytest.mark.parametrize("url", [
    "redis://:hunter2@h:99999/0",
    "redis+cluster://user:hunter2@h:1,h:2/5",
    "redis+sentinel://:hunter2@s1/m?sentinel_password=hunter2&bogus=1",
    "redis+sentinel://s1?sentinel_password=hunter2",
    "redis://:hun/ter2@h/0",
])
def test_passwords_never_appear_in_a_problem(url: str) -> None:
    problem = store_url_problem(url)
    assert problem is not None and "hunter2" not in problem and "ter2" not in problem


def test_redacted() -> None:
    assert redacted("redis://h:1/0") == "redis://h:1/0"
    assert redacted("redis://:pw@h:1/0") == "redis://***@h:1/0"
    assert redacted("redis+sentinel://u:pw@s1:1,s2:2/m?sentinel_password=p@w&wait_replicas=1"
                    ) == "redis+sentinel://***@s1:1,s2:2/m?sentinel_password=***&wait_replicas=1"


def test_serve_refuses_a_malformed_store_url_at_once(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "confidp.cli", "serve", "--tenants", str(REPO / "tenants"),
         "--state-dir", str(tmp_path / "state"),
         "--store", "redis+sentinel://:hunter2@127.0.0.1:26379"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "confidp: --store: the store 'redis+sentinel://***@127.0.0.1:26379': name the "
        "master the sentinels monitor: redis+sentinel://HOST:26379,.../SERVICE[/DB]"]
