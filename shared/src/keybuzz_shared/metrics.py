"""Prometheus metrics of the frame.

Interface used by the frame (messaging, outbox); the observability work fills it in.
"""

from __future__ import annotations


def event_outcome(service: str, subject: str, outcome: str, seconds: float) -> None:
    """One event handled: outcome is ``ok``, ``retried``, ``held`` (dependency down) or
    ``dead_lettered``; ``seconds`` is the handler's latency."""
