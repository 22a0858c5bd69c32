"""The two listeners: the public one (the issuers, plus /healthz and /readyz for simple
probes) and the operations one (/healthz, /readyz, /status, /metrics), as Dex and Ory Hydra
separate them. One Sanic app serves both; the operations listener's connections run
``OpsProtocol``, so a handler knows which listener a request came in on from its connection,
whatever the addresses.

The sockets are bound here, in the main process, before Sanic starts: an address already in
use is one line and exit status 2 rather than a traceback (or, for a second listener, a warning
while the server runs without it). Sanic hands the bound sockets to every worker.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from functools import partial
from time import perf_counter

from sanic.http import Http
from sanic.log import access_logger
from sanic.server.protocols.http_protocol import HttpProtocol
from sanic.server.socket import bind_socket

from confidp.context import App, AppRequest

log = logging.getLogger("confidp.server")


class DrainingHttp(Http):
    """Sanic's HTTP/1.1, except that once the server is stopping every response says
    ``Connection: close`` and ends its connection, the responses to requests already in flight
    included. Sanic closes the connections idle when it stops; one busy then would go back to
    waiting for another request after its response, and the drain would wait for it: behind a
    load balancer, which keeps connections open between requests, a stopping replica then
    lived out the whole drain timeout although its requests were long done."""

    __slots__ = ()

    async def http1_response_header(self, data: bytes, end_stream: bool) -> None:
        if self.protocol.app.ctx.stopping:
            self.keep_alive = False
        await super().http1_response_header(data, end_stream)

    def log_response(self) -> None:
        """The access log line (``--access-log``), in the log format (``confidp.logs``): the
        path without its query (it may carry a code or a hint), the request id, the client
        IP as ``--trust-proxy`` says."""
        request, response = self.request, self.response
        status = getattr(response, "status", 0)
        headers = getattr(response, "headers", {})
        size = headers.get("content-length", 0) \
            if headers.get("transfer-encoding") != "chunked" else "chunked"
        duration = round(1000 * (perf_counter() - self.perft0), 1) \
            if self.perft0 is not None else None
        ip = request.client_ip
        request_id = getattr(request.ctx, "request_id", None)
        access = {"method": request.method, "path": request.path, "status": status,
                  "bytes": size, "duration_ms": duration, "ip": ip}
        access_logger.info("%s %s %s %s %sms %s", request.method, request.path, status, size,
                           duration, ip,
                           extra={"access": access, "request_id": request_id})


class PublicProtocol(HttpProtocol):
    """HTTP/1.1 on the public listener: Sanic's protocol with ``DrainingHttp``."""

    HTTP_CLASS = DrainingHttp
    __slots__ = ()


class OpsProtocol(PublicProtocol):
    """HTTP/1.1 on the operations listener: the same protocol, only its class differs."""

    __slots__ = ()


async def stop_keeping_alive(app: App) -> None:
    """A ``before_server_stop`` listener: from now on responses end their connections (see
    ``DrainingHttp``)."""
    app.ctx.stopping = True


def stop_after_delay(app: App, delay: float) -> None:
    """The SIGTERM (and SIGINT) handler with ``--shutdown-delay``: /readyz answers 503
    (``stopping``) at once and responses end their connections, but the listeners keep
    serving for ``delay`` seconds, time for a load balancer's health check to take this
    replica out of rotation; then the server stops as it does without a delay (listeners
    closed, requests in flight drained). A second signal stops at once."""
    if app.ctx.stopping:
        app.stop(terminate=False)
        return
    app.ctx.stopping = True
    log.info("stopping in %g s: /readyz answers 503 until then, requests are still served",
             delay)
    asyncio.get_running_loop().call_later(delay, partial(app.stop, terminate=False))


def on_ops_listener(request: AppRequest) -> bool:
    """True when ``request`` arrived on the operations listener."""
    transport = request.transport
    return transport is not None and isinstance(transport.get_protocol(), OpsProtocol)


class ListenError(Exception):
    """An address that cannot be listened on, said in one line."""


@dataclass(frozen=True, slots=True)
class Listener:
    """A bound, listening socket and what it is for."""

    role: str  # "public" or "operations"
    sock: socket.socket

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{show_address(host, port)}"


def show_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def bind(role: str, host: str, port: int) -> Listener:
    """Listen on ``host:port`` (a name, an IPv4 or an IPv6 address) or raise ListenError."""
    try:
        return Listener(role, bind_socket(host, port, backlog=100))
    except OSError as exc:  # in use, not an address of this machine, unknown name, privileged
        raise ListenError(f"cannot listen on {show_address(host, port)}: {_reason(exc)}") \
            from None
