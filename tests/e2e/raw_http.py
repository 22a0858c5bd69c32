"""HTTP/1.1 over a raw socket, for requests no HTTP client would send (control bytes, broken
framing, undecodable headers), and a reader for exactly one response."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    status: int | None  # None: the connection closed (or timed out) with no response
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    raw: bytes = b""

    @property
    def answered(self) -> bool:
        return self.status is not None


def _read_response(sock: socket.socket) -> RawResponse:
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return RawResponse(None, raw=data)
            data += chunk
        if not data.startswith(b"HTTP/1.1 1"):  # past interim responses (100 Continue)
            break
        data = data.partition(b"\r\n\r\n")[2]
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawResponse(int(status_line.split(" ")[1]), headers, body[:length], data)


def exchange(port: int, data: bytes, timeout: float = 5.0) -> RawResponse:
    """Send ``data`` on a new connection to 127.0.0.1:``port``; the first response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)  # may be answered and closed before it is all sent
        try:
            return _read_response(sock)
        except (TimeoutError, ConnectionResetError):
            return RawResponse(None)


def request(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]] | None = None,
            body: bytes = b"", version: bytes = b"HTTP/1.1", host: bytes | None = b"127.0.0.1",
            close: bool = True) -> bytes:
    """The bytes of one request, exactly as given (nothing is checked or escaped)."""
    lines = [method + b" " + target + b" " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    lines += [name + b": " + value for name, value in headers or []]
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
