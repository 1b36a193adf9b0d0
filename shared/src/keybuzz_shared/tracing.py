"""Trace context across HTTP, the outbox and NATS (W3C ``traceparent``).

One trace follows a piece of work from the HTTP request that started it,
through the outbox row (``trace_headers()`` is stored with the event and sent
as NATS headers) into every consumer (``consume_context``), and every log line
written meanwhile carries its ``trace_id``/``span_id`` (``logs.JsonFormatter``).

The OpenTelemetry SDK makes the ids even when nothing exports spans. Export is
off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set *and* the optional package
``opentelemetry-exporter-otlp-proto-http`` is installed (docs/SERVICE_FRAME.md).
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from keybuzz_shared.redaction import redact_text

log = logging.getLogger(__name__)

# Only W3C trace context travels with events: baggage could carry anything a caller sent.
_PROPAGATOR = TraceContextTextMapPropagator()
_TRACER = trace.get_tracer("keybuzz")
# Probes and scrapes every few seconds would drown the traces that matter.
UNTRACED_PATHS = ["^/health$", "^/ready$", "^/metrics$"]
_URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query")

_provider: TracerProvider | None = None


def configure(service: str) -> None:
    """Install the SDK tracer provider once per process (several services may share one in tests)."""
    global _provider
    if _provider is not None:
        return
    exporter = _exporter()
    # Nothing to export to: spans are not recorded, only their ids made (for the logs and
    # the traceparent sent on), unless the caller's traceparent says it samples this trace.
    # Recording a span nobody reads was a fifth of a cheap request's CPU (docs/BENCHMARKS.md).
    sampler = None if exporter else ParentBased(root=ALWAYS_OFF)  # None: the SDK's default
    _provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}), sampler=sampler)
    if exporter is not None:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        _provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(_provider)


def _exporter() -> Any | None:
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but opentelemetry-exporter-otlp-proto-http "
            "is not installed; spans are not exported"
        )
        return None
    # Reads the standard OTEL_EXPORTER_OTLP_* variables (endpoint, headers, certificate).
    return OTLPSpanExporter()


def shutdown() -> None:
    """Flush spans still waiting for the exporter (end of ``run()``)."""
    if _provider is not None:
        _provider.shutdown()


def trace_headers() -> dict[str, str]:
    """``traceparent``/``tracestate`` of the current context; empty when there is none."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


@contextmanager
def consume_context(headers: Mapping[str, str] | None, name: str) -> Iterator[None]:
    """Run the handling of one message inside the trace its headers carry (or a new one)."""
    # NATS header names keep the sender's case; the propagator looks up lower-case names.
    carrier = {key.lower(): value for key, value in (headers or {}).items()}
    parent = _PROPAGATOR.extract(carrier)
    # Not the SDK's own recording of an escaping exception: it would keep the exception's
    # text as it is, and that text may hold a DSN or a token.
    with _TRACER.start_as_current_span(
        name,
        context=parent,
        kind=SpanKind.CONSUMER,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except Exception as exc:
            record_error(span, exc)
            raise


def record_error(span: Span, exc: BaseException) -> None:
    """The exception as a span event and the span's status, its text masked like a log line's."""
    message = redact_text(str(exc))
    stack = redact_text("".join(traceback.format_exception(exc)))
    span.record_exception(
        exc, attributes={"exception.message": message, "exception.stacktrace": stack}
    )
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))


def current_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) in hex of the active span, for log lines; None outside any trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def http_plugin() -> OpenTelemetryPlugin:
    """Litestar's OpenTelemetry integration: a server span per request, ``traceparent`` honoured."""
    return OpenTelemetryPlugin(
        OpenTelemetryConfig(
            exclude=UNTRACED_PATHS,
            exclude_spans=["receive", "send"],  # one span per request, not one per ASGI message
            server_request_hook_handler=_redact_url_attributes,
        )
    )


def _redact_url_attributes(span: Span, scope: dict[str, Any]) -> None:
    """Query strings can hold secrets (the LWA callback's ``spapi_oauth_code``): mask them
    before an exporter could ship the span anywhere."""
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, redact_text(value))
