"""OpenTelemetry tracing, optional (``pip install 'confidp[otel]'``) and off unless the standard
``OTEL_*`` variables ask for it (the OpenTelemetry "SDK environment variables"
specification):

- ``OTEL_TRACES_EXPORTER``: ``otlp`` (OTLP over HTTP/protobuf, to
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``), ``console``
  (JSON spans on stdout), both (comma-separated), or ``none``. Unset, tracing is on with
  ``otlp`` when an OTLP endpoint variable is set, else off.
- ``OTEL_SDK_DISABLED=true`` turns it off whatever else is set.
- The SDK reads the rest itself: ``OTEL_SERVICE_NAME`` (default here ``confidp``),
  ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``/``_ARG``, ``OTEL_BSP_*``,
  ``OTEL_EXPORTER_OTLP_HEADERS``...

Asked for without the extra installed, confidp says so once and serves untraced.

Spans: one SERVER span per request (``confidp.web.observe``: named ``METHOD route``, with
``http.route``, ``confidp.tenant``, ``http.response.status_code``, ``confidp.outcome``; it
continues a W3C ``traceparent`` the request carries), and child spans ``store.<operation>``,
``password.verify`` and ``upstream <connector>`` (``span``). Attribute values never carry a
secret, a token or a username.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Final

log = logging.getLogger("confidp.tracing")

SERVICE_NAME: Final = "confidp"
_state: dict[str, Any] = {"tracer": None}  # the process's tracer, once configured


def _exporters() -> list[str]:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    named = os.environ.get("OTEL_TRACES_EXPORTER")
    if named is None:
        endpoint = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                    or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
        return ["otlp"] if endpoint else []
    return [name.strip().lower() for name in named.split(",")
            if name.strip() and name.strip().lower() != "none"]


def configure() -> bool:
    """Set up this process's tracer from the environment (once per process: every worker
    calls it); True when tracing is on."""
    if _state["tracer"] is not None:
        return True
    exporters = _exporters()
    if not exporters:
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        log.warning("OTEL_* variables ask for traces, but the OpenTelemetry SDK is not "
                    "installed: pip install 'confidp[otel]'. Serving without traces.")
        return False
    resource = Resource.create(
        {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME})
    provider = TracerProvider(resource=resource)
    for name in exporters:
        if name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(
                formatter=lambda span: span.to_json(indent=None) + os.linesep)))
        elif name == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )
            except ImportError:
                log.warning("OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp-"
                            "proto-http: pip install 'confidp[otel]'")
                continue
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            log.warning("OTEL_TRACES_EXPORTER %r is not one confidp knows (otlp, console, "
                        "none): ignored", name)
    trace.set_tracer_provider(provider)
    _state["tracer"] = trace.get_tracer("confidp")
    _state["provider"] = provider
    return True


def shutdown() -> None:
    """Send the spans still queued (at server stop)."""
    provider = _state.get("provider")
    if provider is not None:
        provider.shutdown()
        _state["tracer"] = None
        _state["provider"] = None


def enabled() -> bool:
    return _state["tracer"] is not None


class RequestSpan:
    """A request's SERVER span, current while the request is handled."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: Any, token: object) -> None:
        self._span = span
        self._token = token

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self._span.set_attributes(dict(attributes))

    def end(self, name: str, attributes: Mapping[str, Any], *, error: bool) -> None:
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        self._span.update_name(name)
        self._span.set_attributes(dict(attributes))
        if error:
            self._span.set_status(Status(StatusCode.ERROR))
        self._span.end()
        context.detach(self._token)  # type: ignore[arg-type]


def start_request(name: str, headers: Mapping[str, str],
                  attributes: Mapping[str, Any]) -> RequestSpan | None:
    """A SERVER span for a request, continuing the caller's ``traceparent``; it is current
    (the parent of ``span``) until ``RequestSpan.end``."""
    tracer = _state["tracer"]
    if tracer is None:
        return None
    from opentelemetry import context, propagate, trace

    parent = propagate.extract({key.lower(): value for key, value in headers.items()})
    span = tracer.start_span(name, context=parent, kind=trace.SpanKind.SERVER,
                             attributes=dict(attributes))
    token = context.attach(trace.set_span_in_context(span, parent))
    return RequestSpan(span, token)


@contextmanager
def _child(name: str, attributes: Mapping[str, Any]) -> Iterator[None]:
    tracer = _state["tracer"]
    with tracer.start_as_current_span(name, attributes=dict(attributes)):
        yield


def span(name: str, attributes: Mapping[str, Any] | None = None,
         ) -> AbstractContextManager[None]:
    """A child span of the current one (store calls, password hashing, upstream calls); a
    no-op when tracing is off. An exception raised inside is recorded on it."""
    if _state["tracer"] is None:
        return nullcontext()
    return _child(name, attributes or {})
