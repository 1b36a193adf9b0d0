"""Token buckets per key a double chooses (an application, a shop, an operation…), as the
marketplaces meter calls: a documented rate and burst."""

from __future__ import annotations

import math

import msgspec

from .clock import Clock


class RateLimit(msgspec.Struct, frozen=True):
    """A documented rate (its text, as written: "0.0167") and burst."""

    rate_text: str
    burst: int

    @property
    def rate(self) -> float:
        return float(self.rate_text)


class TokenBucket:
    def __init__(self, limit: RateLimit, now: float) -> None:
        self.capacity = float(limit.burst)
        self.rate = limit.rate
        self.tokens = self.capacity  # a fresh bucket allows a full burst
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class RateLimiter:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, ...], TokenBucket] = {}

    def allow(self, key: tuple[str, ...], limit: RateLimit) -> bool:
        # The clock's monotonic time is in marketplace seconds, so the time scale
        # speeds refills without changing the documented rate and burst.
        now = self._clock.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(limit, now)
        return bucket.take(now)

    def retry_after(self, limit: RateLimit) -> int:
        """Whole real seconds until a bucket of ``limit`` holds a request again (its 429's
        Retry-After)."""
        return max(1, math.ceil(self._clock.real_duration(1 / limit.rate)))

    def reset(self) -> None:
        self._buckets.clear()
