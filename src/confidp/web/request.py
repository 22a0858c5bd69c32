"""The request class confidp gives Sanic (``Sanic(request_class=...)``): it refuses a request
head that RFC 9112 says a server must refuse, and it keeps Sanic's error path working for a
request target that cannot be parsed.

Sanic 25.12 parses the head loosely: a control byte in a header name or value, a field name
that is not a token (``Transfer-Encoding : chunked``, an obs-fold line), a method with a control
byte, or a missing Host all pass. Worse, a raw control byte in the request target (``\\x00``,
``\\x01``, ``\\x7f``, a TAB) makes the URL parser fail twice: once for the request, and again
when Sanic builds a stand-in request (``Http.create_empty_request``, with the same target and
no head) to render the 400; that second failure escapes, the client gets no answer at all and
the log gets four tracebacks. Here the stand-in gets the target percent-encoded, so the 400 is
sent by ``confidp.web.http_errors.ErrorHandler``.

Sanic's ``request.form`` logs a traceback for a form body that is not UTF-8 or a multipart body
without a boundary, so one client could fill the log; confidp takes parameters only as
``application/x-www-form-urlencoded`` UTF-8 (RFC 6749 §3.2, OpenID Connect Core §3.1.2.1), and
anything else reads here as an empty form, which each endpoint then refuses in its own words.

Sanic reads a request body while the handler runs, so a client that stops sending its body
meets the response timeout, which Sanic answers 503; ``body_incomplete`` tells the error
handler it was the client's delay (408).

This relies on two Sanic behaviours, checked by ``tests/e2e/test_hostile_http.py``: a request
parsed from the wire is constructed with its ``head`` bytes, the stand-in without; and the
request's stream (``sanic.http.Http``) keeps ``request_body`` set until the body is read.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from sanic import Request
from sanic.exceptions import BadRequest
from sanic.headers import parse_content_header
from sanic.request import RequestParameters

from confidp.web.forms import FORM_TYPE

_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
# RFC 9112 §2.2, §3, §5: request-line, then field lines. A field name is a token, directly
# followed by ":" (§5.1: no whitespace before the colon; an obs-fold line, starting with
# whitespace, fails the same way, §5.2); a field value is HTAB, SP, visible ASCII or obs-text
# (RFC 9110 §5.5: never NUL, CR, LF or another control byte).
_HEAD = re.compile(_TOKEN + rb"++ [\x21-\x7e]++ HTTP/1\.[01]"
                   rb"(?:\r\n" + _TOKEN + rb"++:[\t\x20-\x7e\x80-\xff]*+)*+")
# RFC 9112 §3.2, RFC 3986 §3.2.2-3.2.3: uri-host [":" port]; an empty host is allowed
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]*)?")
_NOT_IN_TARGET = re.compile(rb"[^\x21-\x7e]")


class MalformedRequest(BadRequest):
    """A request head that is not valid HTTP/1.1: answered 400, never logged."""

    quiet = True


@lru_cache(maxsize=256)
def _valid_host(value: str) -> bool:
    return _HOST.fullmatch(value) is not None


def head_problem(head: bytes, version: str, hosts: list[str]) -> str | None:
    """Why a request head must be refused (RFC 9112 §2.2, §3, §3.2, §5), or None."""
    if _HEAD.fullmatch(head) is None:
        return "The request is not valid HTTP/1.1: a control character, or a malformed " \
               "method, request line or header field."
    if version == "1.1" and len(hosts) != 1:
        return "An HTTP/1.1 request needs exactly one Host header."
    if hosts and not _valid_host(hosts[0]):
        return "The Host header is not a valid host name and port."
    return None


def _percent_encoded(target: bytes) -> bytes:
    return _NOT_IN_TARGET.sub(lambda match: b"%%%02X" % match.group()[0], target)


class ConfidpRequest(Request):
    __slots__ = ()

    def __init__(self, url_bytes: bytes, headers: Any, version: str, method: str,
                 transport: Any, app: Any, head: bytes = b"", stream_id: int = 0) -> None:
        if head:  # parsed from the wire
            problem = head_problem(head, version, headers.getall("host", []))
            if problem is not None:
                raise MalformedRequest(problem)
        else:  # Sanic's stand-in to render an error: its target must parse
            url_bytes = _percent_encoded(url_bytes)
        super().__init__(url_bytes, headers, version, method, transport, app, head, stream_id)

    def get_form(self, keep_blank_values: bool = False) -> RequestParameters:
        """The body's fields if it is a UTF-8 ``application/x-www-form-urlencoded`` form, else
        none (never a multipart body, never a logged traceback)."""
        self.parsed_form = RequestParameters()
        self.parsed_files = RequestParameters()
        content_type, _ = parse_content_header(self.headers.getone("content-type", ""))
        if content_type == FORM_TYPE:
            try:
                text = self.body.decode("utf-8")
            except UnicodeDecodeError:
                return self.parsed_form
            self.parsed_form = RequestParameters(parse_qs(text,
                                                          keep_blank_values=keep_blank_values))
        return self.parsed_form


def body_incomplete(request: Request[Any, Any]) -> bool:
    """True while the body of ``request`` has not all arrived."""
    return bool(getattr(request.stream, "request_body", None))
