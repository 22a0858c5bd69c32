"""How the Redis store's commands reach the right server, and how a write is confirmed.

Three deployments, one surface (``RedisClient``): a single Redis (``redis://``, ``unix://``),
a Redis Cluster (``redis+cluster://``: redis-py's ``RedisCluster`` routes each command to the
master of its key's hash slot and follows the cluster through failovers), and a master watched
by Sentinel (``redis+sentinel://``: ``Sentinel.master_for`` asks the sentinels for the master
before each new connection, and drops the connections to a master that was demoted). Reads and
writes always go to the master: a replica may lag, and a read from one could find a code or
refresh token that the master has already used.

Durability. Redis replicates asynchronously: a master answers a write before any replica has
it, and a failover in between promotes a replica without it, so a code or refresh token used
up would be usable again, and the tokens issued for it unknown. With ``wait_replicas`` N > 0,
each write is followed on the same connection, in the same round trip, by ``WAIT N timeout``
(Redis ≥ 3; ``WAITAOF`` needs 7.2); only when N replicas have the write does it count as done;
otherwise the call fails (``ReplicasDidNotConfirm``) and the request answers 503, so nothing
confidp acknowledged exists on the master alone. Sentinel and Redis Cluster prefer to promote
the replica furthest along the replication stream, which holds every write any replica
confirmed. A write that was not confirmed may still be done on the master: to the client it is
an answer lost on the way (confidp.store.redis).

Calls are never retried by the client library (a script whose answer was lost may have run);
the one exception is a cluster write that the node refused with MOVED (it did not run it):
sent once more, to the slot's new master.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import MovedError, RedisClusterException, RedisError

from confidp.store.url import CLUSTER, SENTINEL, RedisAddress

CONNECT_SECONDS = 1.0
CALL_SECONDS = 2.0  # each call's answer; a request's calls share its store deadline too
SENTINEL_SECONDS = 0.5  # a sentinel's answer (one per new connection)
# The errors of talking to Redis; redis-py's cluster raises RedisClusterException (not a
# RedisError) when it cannot find the cluster at all.
ERRORS = (RedisError, RedisClusterException, OSError)


class ReplicasDidNotConfirm(RedisError):
    """The master ran a write, but fewer replicas than ``wait_replicas`` had it in time."""

    def __init__(self, confirmed: int, wanted: int, timeout: float) -> None:
        super().__init__(f"the write was confirmed by {confirmed} of the {wanted} replica(s) "
                         f"wait_replicas asks for within {timeout:g} s; it may be lost at a "
                         "failover, so it does not count as done")


class RedisClient(Protocol):
    async def read(self, *command: Any) -> Any:
        """One command that changes nothing, on the master of its key."""

    async def write(self, key: str, *command: Any) -> Any:
        """One command that changes ``key`` (and only keys of its hash slot), confirmed by
        ``wait_replicas`` replicas before it counts as done."""

    async def ping(self) -> bool: ...

    async def replication_problem(self) -> str | None:
        """Why writes would fail now (a replica where a master should be, a master with fewer
        replicas than ``wait_replicas``), or None."""

    async def close(self) -> None: ...


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def _common(address: RedisAddress) -> dict[str, Any]:
    """Connection arguments for every Redis server of the deployment."""
    options: dict[str, Any] = {
        "username": address.username, "password": address.password,
        "socket_connect_timeout": CONNECT_SECONDS, "socket_timeout": CALL_SECONDS,
        "decode_responses": False, "retry": _no_retry()}
    if address.tls:
        options.update(ssl=True, **address.ssl)
    return options


def connect(address: RedisAddress) -> RedisClient:
    """A client for the deployment ``address`` names; nothing connects before the first call."""
    if address.mode == CLUSTER:
        return ClusterClient(address)
    return ServerClient(address)


def _confirmed(reply: Any, address: RedisAddress) -> None:
    if isinstance(reply, Exception):
        raise reply
    if int(reply) < address.wait_replicas:
        raise ReplicasDidNotConfirm(int(reply), address.wait_replicas, address.wait_timeout)


def _wait_command(address: RedisAddress) -> tuple[str, int, int]:
    return "WAIT", address.wait_replicas, max(1, round(address.wait_timeout * 1000))


def _replicas_problem(name: str, info: dict[str, Any], address: RedisAddress) -> str | None:
    if info.get("role") != "master":  # every write would fail
        return (f"{name} is a replica, not a master: point the store URL at the master, or "
                "use redis+sentinel:// or redis+cluster://")
    if not address.wait_replicas:
        return None
    replicas = int(info.get("connected_slaves", 0))
    if replicas < address.wait_replicas:
        return (f"the master {name} has {replicas} replica(s) connected, and every write "
                f"waits for {address.wait_replicas} (wait_replicas): add replicas, or set "
                "?wait_replicas=0 to accept that a failover can lose acknowledged writes")
    return None


class ServerClient:
    """A single Redis, or the master Sentinel names."""

    def __init__(self, address: RedisAddress) -> None:
        self._address = address
        self._sentinel: Sentinel | None = None
        options = _common(address) | {"db": address.db, "health_check_interval": 10}
        if address.mode == SENTINEL:
            sentinel_options: dict[str, Any] = {
                "username": address.sentinel_username, "password": address.sentinel_password,
                "socket_connect_timeout": SENTINEL_SECONDS, "socket_timeout": SENTINEL_SECONDS,
                "retry": _no_retry()}
            if address.tls:
                sentinel_options.update(ssl=True, **address.ssl)
            self._sentinel = Sentinel(  # type: ignore[no-untyped-call]
                list(address.hosts), sentinel_kwargs=sentinel_options, **options)
            assert address.service is not None
            self._redis: aioredis.Redis = self._sentinel.master_for(
                address.service, check_connection=True)
        elif address.path is not None:
            options.pop("ssl", None)
            self._redis = aioredis.Redis(unix_socket_path=address.path, **options)
        else:
            host, port = address.hosts[0]
            self._redis = aioredis.Redis(host=host, port=port, **options)

    async def read(self, *command: Any) -> Any:
        return await self._redis.execute_command(*command)  # type: ignore[no-untyped-call]

    async def write(self, key: str, *command: Any) -> Any:
        if not self._address.wait_replicas:
            return await self._redis.execute_command(  # type: ignore[no-untyped-call]
                *command)
        # one pipeline is one connection: WAIT counts the replicas that have this
        # connection's writes
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.execute_command(*command)
            pipe.execute_command(*_wait_command(self._address))
            result, confirmed = await pipe.execute(raise_on_error=False)
        if isinstance(result, Exception):
            raise result
        _confirmed(confirmed, self._address)
        return result

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:  # whatever the client library raises: not ready
            return False

    async def replication_problem(self) -> str | None:
        info = await self._redis.info("replication")
        pool = self._redis.connection_pool.connection_kwargs
        name = f"{pool.get('host', 'Redis')}:{pool.get('port', '')}" \
            if self._sentinel is None else f"of {self._address.service!r}"
        return _replicas_problem(name, info, self._address)

    async def close(self) -> None:
        await self._redis.aclose()
        if self._sentinel is not None:
            await self._sentinel.aclose()


class ClusterClient:
    """A Redis Cluster: each command to the master of its key's hash slot."""

    def __init__(self, address: RedisAddress) -> None:
        self._address = address
        self._cluster = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in address.hosts],
            **_common(address))  # reads too go to masters (the default)

    async def _ready(self) -> None:
        """The cluster's slots read before a command is routed. redis-py reads them inside
        each command when they are unknown (at first, and after an error), and commands that
        do so concurrently break one another's connections (redis-py 8.1: "Connection closed
        by server", a None writer); its own retries hide that, ours are off. Here they wait
        for one reading instead (a flag check once it is done)."""
        await self._cluster.initialize()

    async def read(self, *command: Any) -> Any:
        await self._ready()
        return await self._cluster.execute_command(*command)

    async def write(self, key: str, *command: Any) -> Any:
        await self._ready()
        if not self._address.wait_replicas:
            return await self._cluster.execute_command(*command)
        moved = False
        while True:
            await self._ready()
            node = self._cluster.get_node_from_key(key)
            # both to the one node, in one pipeline: one connection, so WAIT counts the
            # replicas that have this write
            pipe = self._cluster.pipeline()
            pipe.execute_command(*command, target_nodes=node)
            pipe.execute_command(*_wait_command(self._address), target_nodes=node)
            try:
                result, confirmed = await pipe.execute(raise_on_error=False,
                                                       allow_redirections=False)
            except Exception:
                await self._refresh()
                raise
            if isinstance(result, MovedError) and not moved:
                moved = True  # not run: the slot has a new master; send it there, once
                await self._refresh()
                continue
            if isinstance(result, Exception) or isinstance(confirmed, Exception):
                await self._refresh()  # a node that is no master now, or gone
                raise result if isinstance(result, Exception) else confirmed
            _confirmed(confirmed, self._address)
            return result

    async def _refresh(self) -> None:
        """Read the cluster's slots and masters again (after an error on the explicit-node
        path, which redis-py's own routing does not see)."""
        with contextlib.suppress(Exception):  # the next call tries again
            await self._cluster.nodes_manager.initialize()

    async def ping(self) -> bool:
        try:
            await self._ready()
            return bool(await self._cluster.ping(target_nodes=RedisCluster.RANDOM))
        except Exception:  # whatever the client library raises: not ready
            return False

    async def replication_problem(self) -> str | None:
        if not self._address.wait_replicas:
            return None
        await self._ready()
        for node in self._cluster.get_primaries():
            info = await self._cluster.info("replication", target_nodes=node)
            problem = _replicas_problem(node.name, info, self._address)
            if problem:
                return problem
        return None

    async def close(self) -> None:
        await self._cluster.aclose()
