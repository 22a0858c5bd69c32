"""The store URL: where the store is and how confidp writes to it, parsed and checked in one
place, so that a malformed URL is one line naming what is wrong before anything connects.

Forms (``rediss`` for TLS in each Redis form; a password is percent-encoded)::

    memory
    redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?OPTIONS]
    unix://[[USER]:PASSWORD@]/PATH/TO/redis.sock[?db=DB&OPTIONS]
    redis+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...][/][?OPTIONS]
    redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[/DB][?OPTIONS]

For a cluster the hosts are where to start (any few of its nodes); for Sentinel they are the
sentinels and ``SERVICE`` the name they monitor the master by; the credentials are those of
the Redis servers (``sentinel_username``/``sentinel_password`` for sentinels that need their
own). Options: ``wait_replicas`` and ``wait_timeout`` (how many replicas must have each write
before it counts as done: confidp.store.redis), ``ssl_ca_certs``, ``ssl_certfile``,
``ssl_keyfile``, ``ssl_cert_reqs`` and ``ssl_check_hostname`` (with ``rediss``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MEMORY = "memory"
SINGLE = "single"
CLUSTER = "cluster"
SENTINEL = "sentinel"

# scheme -> (mode, TLS)
SCHEMES: dict[str, tuple[str, bool]] = {
    "redis": (SINGLE, False), "rediss": (SINGLE, True), "unix": (SINGLE, False),
    "redis+cluster": (CLUSTER, False), "rediss+cluster": (CLUSTER, True),
    "redis+sentinel": (SENTINEL, False), "rediss+sentinel": (SENTINEL, True),
}
DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379
# Each Redis call waits at most 2 s for its answer (confidp.store.redis), so a replica's
# confirmation must come well within that.
MAX_WAIT_TIMEOUT = 1.5
DEFAULT_WAIT_TIMEOUT = 0.5
MAX_WAIT_REPLICAS = 16
_PASSWORD_OPTION = re.compile(r"(password=)[^&]*")
_CERT_REQS = ("none", "optional", "required")
_BOOLEANS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
_OPTIONS = ("wait_replicas", "wait_timeout", "sentinel_username", "sentinel_password",
            "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs",
            "ssl_check_hostname", "db")
FORMS = ("memory, redis://HOST:PORT/DB, redis+cluster://HOST:PORT,HOST:PORT,... or "
         "redis+sentinel://HOST:PORT,HOST:PORT,.../SERVICE (rediss for TLS)")


class StoreURLError(ValueError):
    """A store URL that cannot be used; the message is one line naming what is wrong."""


@dataclass(frozen=True)
class RedisAddress:
    """Where a Redis store is, and how its writes are confirmed."""

    mode: str  # SINGLE, CLUSTER or SENTINEL
    tls: bool = False
    hosts: tuple[tuple[str, int], ...] = ()  # Redis, cluster seed or sentinel addresses
    path: str | None = None  # a unix socket instead of hosts (SINGLE only)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    db: int = 0
    service: str | None = None  # SENTINEL: the master's name
    wait_replicas: int = 0
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    ssl: dict[str, Any] = field(default_factory=dict)  # redis-py's ssl_* arguments


def _port(text: str, default: int) -> int:
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise StoreURLError(f"the port {text!r} is not a number from 1 to 65535")
    return int(text)


def _host(entry: str, default_port: int) -> tuple[str, int]:
    """``HOST[:PORT]``, ``[IPv6][:PORT]``."""
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or not host or (rest and not rest.startswith(":")):
            raise StoreURLError(f"the host {entry!r} is not [IPv6 address]:PORT")
        return host, _port(rest[1:], default_port)
    host, _, port = entry.partition(":")
    if not host or any(c in host for c in " @/?#[]"):
        raise StoreURLError(f"the host {entry!r} is not HOST:PORT")
    return host, _port(port, default_port)


def _db(text: str) -> int:
    if not text.isdigit():
        raise StoreURLError(f"the database {text!r} is not a number (0, 1, ...)")
    return int(text)


def _number(name: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # also NaN
        raise StoreURLError(f"{name}={text!r} must be a number from {low:g} to {high:g}")
    return value


def _options(query: str, mode: str, tls: bool) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in _OPTIONS:
            raise StoreURLError(f"unknown option {name!r}; the options are "
                                + ", ".join(n for n in _OPTIONS if n != "db"))
        if name in options:
            raise StoreURLError(f"the option {name!r} is given twice")
        options[name] = value
    if not tls and any(name.startswith("ssl_") for name in options):
        raise StoreURLError("ssl_* options need TLS: use rediss://, rediss+cluster:// or "
                            "rediss+sentinel://")
    if mode != SENTINEL and any(name.startswith("sentinel_") for name in options):
        raise StoreURLError("sentinel_* options are for redis+sentinel:// only")
    return options


def _ssl(options: dict[str, str]) -> dict[str, Any]:
    ssl: dict[str, Any] = {}
    for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
        if name in options:
            ssl[name] = options[name]
    if "ssl_cert_reqs" in options:
        if options["ssl_cert_reqs"] not in _CERT_REQS:
            raise StoreURLError("ssl_cert_reqs must be one of " + ", ".join(_CERT_REQS))
        ssl["ssl_cert_reqs"] = options["ssl_cert_reqs"]
    if "ssl_check_hostname" in options:
        if options["ssl_check_hostname"] not in _BOOLEANS:
            raise StoreURLError("ssl_check_hostname must be yes or no")
        ssl["ssl_check_hostname"] = _BOOLEANS[options["ssl_check_hostname"]]
    return ssl


def parse(url: str) -> RedisAddress:
    """The address of a Redis store URL; ``StoreURLError`` when it cannot be used."""
    scheme, separator, _ = url.partition("://")
    if not separator or scheme.lower() not in SCHEMES:
        raise StoreURLError(f"unknown store: use {FORMS}")
    mode, tls = SCHEMES[scheme.lower()]
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # an unbalanced [IPv6] bracket
        raise StoreURLError(f"the hosts are not HOST:PORT or [IPv6 address]:PORT ({exc})"
                            ) from None
    if parts.fragment:
        raise StoreURLError("a store URL has no #fragment (percent-encode a '#' in the "
                            "password as %23)")
    userinfo, at, hostlist = parts.netloc.rpartition("@")
    username: str | None = None
    password: str | None = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
        if not colon:  # redis://secret@host: a lone word is the password, as redis-py reads
            username, password = None, unquote(user)
    options = _options(parts.query, mode, tls)
    path = parts.path
    db = 0
    service = None
    hosts: tuple[tuple[str, int], ...] = ()
    socket_path = None
    if scheme.lower() == "unix":
        if hostlist:
            raise StoreURLError("unix:// takes a socket path: unix:///run/redis/redis.sock")
        if not path or path == "/":
            raise StoreURLError("unix:// needs the socket's path: "
                                "unix:///run/redis/redis.sock?db=0")
        socket_path = unquote(path)
        db = _db(options["db"]) if "db" in options else 0
    else:
        if "db" in options:
            raise StoreURLError("the database goes in the path (redis://HOST:PORT/DB), "
                                "not in ?db=")
        if not hostlist:
            raise StoreURLError("the URL names no host")
        entries = hostlist.split(",")
        if mode == SINGLE and len(entries) > 1:
            raise StoreURLError("redis:// takes one host; several are for "
                                "redis+cluster:// or redis+sentinel://")
        default = DEFAULT_SENTINEL_PORT if mode == SENTINEL else DEFAULT_PORT
        hosts = tuple(_host(entry, default) for entry in entries)
        segments = [unquote(s) for s in path.split("/")[1:]] if path else []
        if segments and segments[-1] == "":
            segments.pop()  # a trailing slash
        if mode == SINGLE:
            if len(segments) > 1:
                raise StoreURLError("the path is the database only: redis://HOST:PORT/DB")
            db = _db(segments[0]) if segments else 0
        elif mode == CLUSTER:
            if segments and segments != ["0"]:
                raise StoreURLError("Redis Cluster has database 0 only: "
                                    "redis+cluster://HOST:PORT,HOST:PORT,...")
        else:
            if not segments or not segments[0]:
                raise StoreURLError("name the master the sentinels monitor: "
                                    "redis+sentinel://HOST:26379,.../SERVICE[/DB]")
            if len(segments) > 2:
                raise StoreURLError("the path is the service and the database only: "
                                    "redis+sentinel://HOSTS/SERVICE/DB")
            service = segments[0]
            db = _db(segments[1]) if len(segments) == 2 else 0
    wait_replicas = 1 if mode in (CLUSTER, SENTINEL) else 0
    if "wait_replicas" in options:
        text = options["wait_replicas"]
        if not text.isdigit() or int(text) > MAX_WAIT_REPLICAS:
            raise StoreURLError(f"wait_replicas={text!r} must be a whole number of replicas "
                                f"from 0 to {MAX_WAIT_REPLICAS}")
        wait_replicas = int(text)
    wait_timeout = _number("wait_timeout", options["wait_timeout"], 0.01, MAX_WAIT_TIMEOUT) \
        if "wait_timeout" in options else DEFAULT_WAIT_TIMEOUT
    return RedisAddress(
        mode=mode, tls=tls, hosts=hosts, path=socket_path, username=username,
        password=password, db=db, service=service, wait_replicas=wait_replicas,
        wait_timeout=wait_timeout, sentinel_username=options.get("sentinel_username"),
        sentinel_password=options.get("sentinel_password"), ssl=_ssl(options))


def redacted(url: str) -> str:
    """The store URL without its passwords, for messages and logs: the user information
    (everything before the last ``@``) and the value of every ``*password=`` option."""
    url = _PASSWORD_OPTION.sub(r"\1***", url)
    scheme, separator, rest = url.partition("://")
    _, at, host = rest.rpartition("@")
    return f"{scheme}{separator}***@{host}" if at else url


def problem(url: str) -> str | None:
    """Why ``url`` cannot be a store URL (one line, without its passwords), or None."""
    if url == MEMORY:
        return None
    try:
        parse(url)
    except StoreURLError as exc:
        return f"the store {redacted(url)!r}: {exc}"
    return None
