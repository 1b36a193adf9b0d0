"""Trace context across HTTP, the outbox and NATS (W3C ``traceparent``).

Interface used by the frame (messaging, outbox); the observability work fills it in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager


def trace_headers() -> dict[str, str]:
    """``traceparent``/``tracestate`` of the current context; empty when there is none."""
    return {}


@contextmanager
def consume_context(headers: Mapping[str, str] | None, name: str) -> Iterator[None]:
    """Run the handling of one message inside the trace its headers carry (or a new one)."""
    yield
