"""Scaled time.

Every timestamp the sandbox reports is real wall-clock UTC, so clients can compare
them with their own clock. What the time scale changes is how long the marketplaces'
processes take: a duration of `d` marketplace seconds lasts `d / scale` real seconds.

Order lifecycles run on a *virtual* timeline: before the anchor (sandbox start)
virtual time equals real time (the seeded history); after it, virtual time runs
`scale` times faster. A seller can also be advanced by jumps (admin endpoint);
events inside a jump are stamped with the real time of the jump.
"""

from __future__ import annotations

import bisect
import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, tzinfo


class Clock:
    def __init__(
        self, scale: float, anchor: float | None = None, now: Callable[[], float] = time.time
    ) -> None:
        self.scale = scale
        self._now = now
        self.anchor = float(int(now())) if anchor is None else anchor

    def now(self) -> float:
        return self._now()

    @contextlib.contextmanager
    def held(self, at: float | None = None) -> Iterator[None]:
        """Time stands still meanwhile, now or ``at`` (tests of an in-process sandbox: at a
        large time scale a token lives seconds of real time, less than a loaded machine may
        take over a test's few calls)."""
        running = self._now
        held_at = running() if at is None else at
        self._now = lambda: held_at
        try:
            yield
        finally:
            self._now = running

    def monotonic(self) -> float:
        """Monotonic marketplace seconds, for token buckets."""
        return time.monotonic() * self.scale

    def real_duration(self, marketplace_seconds: float) -> float:
        return marketplace_seconds / self.scale

    def deadline(self, marketplace_seconds: float) -> float:
        return self.now() + self.real_duration(marketplace_seconds)

    def to_virtual(self, real: float) -> float:
        if real <= self.anchor:
            return real
        return self.anchor + (real - self.anchor) * self.scale

    def to_real(self, virtual: float) -> float:
        if virtual <= self.anchor:
            return virtual
        return self.anchor + (virtual - self.anchor) / self.scale


class SellerTimeline:
    """Virtual time of one seller: the clock's virtual time plus admin jumps."""

    def __init__(self, clock: Clock, jumps: list[tuple[float, float]] | None = None) -> None:
        self.clock = clock
        # (real time of the jump, virtual seconds added), sorted by real time.
        self.jumps: list[tuple[float, float]] = sorted(jumps or [])
        self._cumulative = self._cumulate()

    def _cumulate(self) -> list[float]:
        total, out = 0.0, []
        for _, seconds in self.jumps:
            total += seconds
            out.append(total)
        return out

    def add_jump(self, real: float, seconds: float) -> None:
        self.jumps.append((real, seconds))
        self.jumps.sort()
        self._cumulative = self._cumulate()

    def _jumped_by(self, real: float) -> float:
        idx = bisect.bisect_right([j[0] for j in self.jumps], real)
        return self._cumulative[idx - 1] if idx else 0.0

    def virtual(self, real: float) -> float:
        return self.clock.to_virtual(real) + self._jumped_by(real)

    def real(self, virtual: float) -> float:
        """Earliest real time at which the seller's virtual clock reached `virtual`."""
        offset = 0.0
        for (at, seconds), cumulative in zip(self.jumps, self._cumulative, strict=True):
            before_jump = self.clock.to_virtual(at) + offset
            if virtual <= before_jump:
                break
            if virtual <= before_jump + seconds:
                return at
            offset = cumulative
        return self.clock.to_real(virtual - offset)


def iso(ts: float) -> str:
    """Whole seconds, UTC, trailing Z (SP-API's style, and several other APIs')."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str, naive_zone: tzinfo = UTC) -> float:
    """ISO 8601 to epoch seconds; naive values are taken in `naive_zone` (UTC unless told)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_zone)
    return parsed.timestamp()
