"""Outbound HTTP to upstream identity providers: one well-kept ``httpx.AsyncClient`` per
trust store (the system's, or a connector's ``ca_file``), TLS always verified, every request
bounded by the connector's ``timeout`` and by ``MAX_RESPONSE_BYTES``, counted per connector
in the metrics (``Metrics.upstream``: requests by outcome, latency), and the last discovery
and key-set fetch of each connector and its error kept for ``/status``.

Each worker process has its own clients and status (as it has its own reload watcher).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from confidp.clock import Clock
from confidp.config.durations import seconds
from confidp.identity.sources import UpstreamError, UpstreamUnavailable
from confidp.metrics import Metrics
from confidp.model import Connector

MAX_RESPONSE_BYTES = 1024 * 1024  # discovery, keys, tokens and user info are a few KB
USER_AGENT = "confidp"
# what a request was for: the metrics' and /status's label
DISCOVERY = "discovery"
JWKS = "jwks"
TOKEN = "token"  # noqa: S105 - an endpoint's name
USERINFO = "userinfo"
API = "api"
_FETCHES = (DISCOVERY, JWKS)  # shown in /status


@dataclass(slots=True)
class Fetch:
    """The last fetch of one kind: when it succeeded, when it failed and why."""

    ok_at: float | None = None
    error_at: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"last_success": self.ok_at, "last_error_at": self.error_at,
                "last_error": self.error}


@dataclass(slots=True)
class ConnectorStatus:
    fetches: dict[str, Fetch] = field(default_factory=dict)
    last_error: str | None = None  # of any request (token, userinfo, ...)
    last_error_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {**{what: self.fetches.get(what, Fetch()).to_json() for what in _FETCHES},
                "last_error": self.last_error, "last_error_at": self.last_error_at}


def parse_json(content: bytes) -> Any:
    """JSON from a provider; ``ValueError`` for anything else, including nesting too deep
    for the parser (a hostile ``[[[[...`` raises RecursionError in the standard library)."""
    try:
        return json.loads(content)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def timeout_of(connector: Connector) -> float:
    return float(seconds(str(connector.settings.get("timeout", "10s"))))


class Outbound:
    def __init__(self, metrics: Metrics, clock: Clock) -> None:
        self._metrics = metrics
        self._clock = clock
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._status: dict[tuple[str, str], ConnectorStatus] = {}
        # (tenant, connector, what) -> (until, value): discovery documents and key sets
        self._cache: dict[tuple[str, str, str], tuple[float, Any]] = {}

    def cached(self, key: tuple[str, str, str], now: float) -> Any:
        entry = self._cache.get(key)
        return entry[1] if entry is not None and now < entry[0] else None

    def keep(self, key: tuple[str, str, str], value: Any, until: float) -> None:
        self._cache[key] = (until, value)

    def client(self, connector: Connector) -> httpx.AsyncClient:
        """The client for ``connector``'s trust store; redirects are not followed (an
        upstream answers where it is told to)."""
        ca_file = connector.settings.get("ca_file")
        path = str(Path(connector.base_dir) / ca_file) if ca_file else ""
        client = self._clients.get(path)
        if client is None:
            verify: ssl.SSLContext | bool = (ssl.create_default_context(cafile=path)
                                             if path else True)
            client = httpx.AsyncClient(verify=verify, follow_redirects=False,
                                       headers={"User-Agent": USER_AGENT},
                                       limits=httpx.Limits(max_connections=100,
                                                           max_keepalive_connections=20))
            self._clients[path] = client
        return client

    def status(self, tenant_id: str, connector_id: str) -> ConnectorStatus:
        return self._status.setdefault((tenant_id, connector_id), ConnectorStatus())

    def statuses(self, tenant_id: str) -> Mapping[str, ConnectorStatus]:
        return {connector: status for (tenant, connector), status in self._status.items()
                if tenant == tenant_id}

    async def request(self, tenant_id: str, connector: Connector, what: str, method: str,
                      url: str, **kwargs: Any) -> httpx.Response:
        """One request, its body read (at most ``MAX_RESPONSE_BYTES``) within the
        connector's timeout. A transport failure, a timeout or a 5xx is
        ``UpstreamUnavailable``; other statuses are the caller's to judge."""
        status = self.status(tenant_id, connector.id)
        try:
            # timed and counted per connector (confidp.metrics: ok, timeout, error)
            with self._metrics.upstream(tenant_id, connector.id):
                try:
                    # the whole request, not each phase: a provider sending a byte at a time
                    # cannot hold a sign-in past the connector's timeout
                    async with asyncio.timeout(timeout_of(connector)):
                        response = await self._send(connector, method, url, **kwargs)
                except httpx.TimeoutException:
                    raise TimeoutError from None
                if response.status_code >= 500:
                    raise UpstreamUnavailable(f"{what}: {url} answered "
                                              f"{response.status_code}")
        except UpstreamError as error:
            self._failed(status, what, error.detail)
            raise
        except TimeoutError:
            detail = f"{what}: {url} did not answer within {timeout_of(connector):g}s"
            self._failed(status, what, detail)
            raise UpstreamUnavailable(detail, "timeout") from None
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            detail = f"{what}: {url} could not be reached ({type(exc).__name__}: {exc})"
            self._failed(status, what, detail)
            raise UpstreamUnavailable(detail) from None
        if what in _FETCHES:
            status.fetches.setdefault(what, Fetch()).ok_at = self._clock()
        return response

    async def _send(self, connector: Connector, method: str, url: str,
                    **kwargs: Any) -> httpx.Response:
        client = self.client(connector)
        timeout = timeout_of(connector)
        auth = kwargs.pop("auth", None)
        request = client.build_request(method, url, timeout=timeout, **kwargs)
        response = await client.send(request, stream=True, auth=auth)
        try:
            body = bytearray()
            async for chunk in response.aiter_raw():
                body.extend(chunk)
                if len(body) > MAX_RESPONSE_BYTES:
                    raise UpstreamError(f"{url} answered more than {MAX_RESPONSE_BYTES} "
                                        "bytes", "invalid_response")
        finally:
            await response.aclose()
        return httpx.Response(response.status_code, headers=response.headers,
                              content=bytes(body), request=request)

    def _failed(self, status: ConnectorStatus, what: str, detail: str) -> None:
        now = self._clock()
        status.last_error, status.last_error_at = detail, now
        if what in _FETCHES:
            fetch = status.fetches.setdefault(what, Fetch())
            fetch.error, fetch.error_at = detail, now

    def record_error(self, tenant_id: str, connector: Connector, what: str,
                     error: UpstreamError) -> None:
        """A response that came but could not be used (bad JSON, a bad ID token): kept for
        /status (the request itself counted as answered)."""
        self._failed(self.status(tenant_id, connector.id), what, error.detail)

    async def json(self, tenant_id: str, connector: Connector, what: str, method: str,
                   url: str, **kwargs: Any) -> Any:
        """The JSON body of a 2xx answer; anything else is ``UpstreamError``."""
        response = await self.request(tenant_id, connector, what, method, url, **kwargs)
        try:
            if not 200 <= response.status_code < 300:
                raise UpstreamError(f"{what}: {url} answered {response.status_code}",
                                    "invalid_response")
            try:
                return parse_json(response.content)
            except ValueError:
                raise UpstreamError(f"{what}: {url} did not answer JSON",
                                    "invalid_response") from None
        except UpstreamError as error:
            self.record_error(tenant_id, connector, what, error)
            raise

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
