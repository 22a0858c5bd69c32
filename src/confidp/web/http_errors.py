"""Errors Sanic answers by itself, before or around a handler: a malformed request (400), an
unknown path (404) or method (405), a request too slow (408) or too large (413, 414), an
``Expect`` it does not support (417), a handler too slow (503), and any exception a handler did
not turn into a response.

Sanic's own rendering parses the Accept header and fails on one it cannot decode ("500 An
error occurred while handling an error"), so none of it is used: every such error is rendered
here, as JSON for clients that prefer it (``confidp.web.negotiation``) and else a small page,
with the security headers of every response, ``Cache-Control: no-store``, and a fixed message
(nothing from the request is echoed). Client errors are not logged (one bad client must not
fill the log); an exception that escaped a handler is a bug and logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sanic import HTTPResponse, Request
from sanic.exceptions import NotFound, RequestTimeout, SanicException, ServiceUnavailable
from sanic.handlers import ErrorHandler as SanicErrorHandler

from confidp.context import AppRequest, typed
from confidp.web.errors import HttpError, error_response, phrase
from confidp.web.listeners import on_ops_listener
from confidp.web.request import MalformedRequest, body_incomplete

log = logging.getLogger("confidp.web")

# status -> (error code, description)
MESSAGES: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "The request is not valid HTTP."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "This request is not allowed."),
    404: ("not_found", "Nothing is served at this path."),
    405: ("method_not_allowed", "This method is not allowed here."),
    408: ("request_timeout", "The request took too long to arrive."),
    413: ("request_too_large", "The request is too large: its header or its body exceeds "
          "the size limit."),
    414: ("uri_too_long", "The request target is too long."),
    416: ("range_not_satisfiable", "The requested range cannot be served."),
    417: ("expectation_failed", "Only 'Expect: 100-continue' is supported."),
    500: ("server_error", "The server failed to answer this request."),
    503: ("temporarily_unavailable", "The server is temporarily unable to answer. Try again "
          "shortly."),
}
OPS_PATHS = "/healthz, /readyz, /status, /status/<tenant> and /metrics"


def status_of(exception: BaseException) -> int:
    """The status Sanic meant for ``exception``; 500 for anything else (a bug)."""
    if isinstance(exception, SanicException):
        status = getattr(exception, "status_code", 500)
        if isinstance(status, int) and 400 <= status <= 599:
            return status
    return 500


def message_for(exception: BaseException, status: int) -> tuple[str, str]:
    if isinstance(exception, MalformedRequest):  # our own words, never the request's
        return MESSAGES[400][0], str(exception)
    if status in MESSAGES:
        return MESSAGES[status]
    words = phrase(status)
    return words.lower().replace(" ", "_").replace("-", "_"), f"{words}."


def ops_not_found(request: AppRequest) -> HTTPResponse:
    """The operations listener's 404: it serves nothing but the operations endpoints."""
    return error_response(request, HttpError(404, MESSAGES[404][0],
                                             f"The operations listener serves {OPS_PATHS}."))


def framework_error(request: AppRequest, exception: BaseException) -> HTTPResponse:
    """The response for an error Sanic raised, or an exception no handler caught."""
    status = status_of(exception)
    error, description = message_for(exception, status)
    headers: dict[str, str] = {}
    extra = getattr(exception, "headers", None)
    if isinstance(extra, dict):
        headers.update({name: str(value) for name, value in extra.items()
                        if name.lower() in ("allow", "retry-after", "www-authenticate")})
    return error_response(request, HttpError(status, error, description, headers))


class ErrorHandler(SanicErrorHandler):
    """Every error Sanic raises itself goes through ``framework_error``; a path no route
    matches, to ``public_not_found`` on the public listener (the tenants' own 404)."""

    def __init__(self, public_not_found: Callable[[AppRequest], HTTPResponse]) -> None:
        super().__init__()
        self.public_not_found = public_not_found

    def default(self, request: Request, exception: Exception) -> HTTPResponse:
        return self.answer(typed(request), exception)

    def answer(self, request: AppRequest, exception: Exception) -> HTTPResponse:
        if isinstance(exception, ServiceUnavailable) and body_incomplete(request):
            exception = RequestTimeout("the request body did not arrive in time")
        if status_of(exception) >= 500:
            if getattr(exception, "quiet", False):  # e.g. a handler past RESPONSE_TIMEOUT
                log.warning("%s %r: %s", request.method, request.path, exception)
            else:
                log.error("%s %r failed", request.method, request.path, exc_info=exception)
        if isinstance(exception, NotFound):
            if on_ops_listener(request):
                return ops_not_found(request)
            return self.public_not_found(request)
        return framework_error(request, exception)
