"""Exponential back-off for the in-process retry loops (consumers, outbox relay, replies)."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, base: float, cap: float, jitter: bool = False) -> float:
    """``base × 2^(attempt-1)`` seconds, at most ``cap``; attempt 1 waits ``base``.

    With ``jitter`` the delay is drawn between 50 and 100 % of that, so the retries of
    many workers hit by the same outage spread out instead of arriving together.
    """
    delay = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 30))
    return delay * random.uniform(0.5, 1.0) if jitter else delay
