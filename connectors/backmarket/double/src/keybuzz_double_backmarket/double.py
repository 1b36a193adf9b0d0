"""The running Back Market double: its clock, its shops and their tokens, each endpoint's
per-minute and per-day limits with what every shop called, the calls made inside a
Retry-After, and faults."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Literal

import msgspec
from keybuzz_sandbox.clock import Clock
from keybuzz_sandbox.double_kit.api import CallLimits, Enforced, RetryAfters
from keybuzz_sandbox.faults import FaultInjector, NextCount, WebPageFaults

from .book import DAY, Activity, ShopBook
from .shops import ShopSpec, api_token

# Each endpoint's limits, per shop (official: calls a minute, calls a day). The orders
# endpoints have no figure of their own: only the general one below applies to them.
LIMITS: dict[str, tuple[int, int]] = {
    "getCareFolderList": (520, 4_000),
    "getCareFolderDetails": (600, 40_000),
    "postMessage": (560, 40_000),
}
# Official, for every endpoint: "above 200 requests in 10 seconds being blocked for 10
# seconds" (per shop: assumed).
BURST_CALLS, BURST_SECONDS = 200, 10.0
MINUTE = 60.0


def bm_time(ts: float) -> str:
    """Back Market's timestamps: ISO 8601, whole seconds, ``+00:00`` (its examples)."""
    return datetime.fromtimestamp(int(ts), UTC).isoformat()


class BackMarketFaultConfig(
    WebPageFaults, kw_only=True, rename="camel", forbid_unknown_fields=True
):
    """Body of PUT /_sandbox/backmarket/faults (docs/SANDBOX.md, "Back Market double")."""

    retry_after_seconds: Annotated[int, msgspec.Meta(ge=1)] = 1
    waf_next: NextCount = 0
    waf_kind: Literal["html", "json"] = "html"


class Limits(Enforced, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of PUT /_sandbox/backmarket/limits: Back Market's figures unless given (per
    operation ``[per minute, per day]``), for tests that reach a limit in a few calls."""

    per_operation: dict[str, tuple[int, int]] = {}
    burst_calls: Annotated[int, msgspec.Meta(ge=1)] = BURST_CALLS

    def __post_init__(self) -> None:
        self.per_operation = {**LIMITS, **self.per_operation}

    def problems(self) -> list[str]:
        figures = [n for pair in self.per_operation.values() for n in pair]
        if not set(self.per_operation) <= set(LIMITS) or min(figures, default=1) < 1:
            return [f"perOperation among {', '.join(LIMITS)}, >= 1"]
        return []


class Count(msgspec.Struct, kw_only=True, rename="camel"):
    """One shop's calls of one endpoint on one day of the double's clock."""

    answered: int = 0  # within the limits (what the allowance counts)
    refused: int = 0  # answered 429
    inside_retry_after: int = 0  # made before a Retry-After the shop was given ended


class Shop:
    def __init__(self, seed: str, spec: ShopSpec, anchor: float) -> None:
        self.seed, self.spec, self.anchor = seed, spec, anchor
        self.generation = 0

    @property
    def token(self) -> str:
        return api_token(self.seed, self.spec.number, self.generation)

    @property
    def loaded(self) -> bool:
        return "book" in vars(self)

    @cached_property
    def book(self) -> ShopBook:
        return ShopBook(self.seed, self.spec, self.anchor)


class BackMarketDouble:
    def __init__(self, seed: str, specs: Iterable[ShopSpec], clock: Clock) -> None:
        self.clock = clock
        self.advanced = 0.0  # seconds the admin moved the double's clock forward
        self.shops = {spec.number: Shop(seed, spec, clock.anchor) for spec in specs}
        self.tokens = {shop.token: shop for shop in self.shops.values()}
        self.activity = Activity()
        self.faults = FaultInjector(f"{seed}|backmarket", BackMarketFaultConfig())
        self.counts: dict[tuple[int, str, int], Count] = {}
        waits: RetryAfters[tuple[int, str]] = RetryAfters(self.now, bm_time, clock.scale)
        self.limits = CallLimits(Limits(), waits, clock.real_duration)

    # --- the double's clock ----------------------------------------------------------------

    def now(self) -> float:
        """Back Market's time: the sandbox's scaled clock plus the admin's advances."""
        return self.clock.to_virtual(self.clock.now()) + self.advanced

    def clock_state(self) -> dict[str, object]:
        now = self.now()
        left = DAY - now % DAY
        return {
            "now": bm_time(now),
            "epoch": now,
            "scale": self.clock.scale,
            "advancedSeconds": self.advanced,
            "day": int(now // DAY),
            "dayEndsInSeconds": left,
            "dayEndsInRealSeconds": self.clock.real_duration(left),
        }

    def book(self, shop: Shop) -> ShopBook:
        """The shop's book, brought to the double's now."""
        book = shop.book
        book.play(self.now(), self.activity)
        return book

    def rotate(self, shop: Shop) -> str:
        """A new token for the shop: the old one stops working."""
        self.tokens.pop(shop.token, None)
        shop.generation += 1
        self.tokens[shop.token] = shop
        return shop.token

    # --- limits ----------------------------------------------------------------------------

    def count(self, number: int, operation: str) -> Count:
        key = (number, operation, int(self.now() // DAY))
        return self.counts.setdefault(key, Count())

    def note_call(self, number: int, operation: str) -> None:
        """Counts a call made before the Retry-After the shop was given for it ended."""
        call: dict[str, object] = {"shop": number, "operation": operation}
        if self.limits.waits.noted((number, operation), call, self.limits.blocked.get(number, 0)):
            self.count(number, operation).inside_retry_after += 1

    def admit(self, number: int, operation: str) -> int | None:
        """None when the call is within the limits (and counted); else the Retry-After,
        whole real seconds, it is refused with."""
        count, wait = self.count(number, operation), self._wait(number, operation)
        if wait is None:
            count.answered += 1
            return None
        count.refused += 1
        return self.limits.refused((number, operation), wait)

    def _wait(self, number: int, operation: str) -> float | None:
        """None when the call is within the limits (then counted in their windows); else
        the seconds of the double's clock until it would be."""
        limits, now = self.limits, self.now()
        if not limits.settings.enforced:
            return None
        if now < (blocked := limits.blocked.get(number, 0.0)):
            return blocked - now
        if limits.calls((number, "*"), BURST_SECONDS, now) >= limits.settings.burst_calls:
            limits.blocked[number] = now + BURST_SECONDS
            return BURST_SECONDS
        limits.add((number, "*"), BURST_SECONDS, now)
        allowed: tuple[int, ...] = limits.settings.per_operation.get(operation, ())
        for size, most in zip((MINUTE, DAY), allowed, strict=False):
            if limits.calls((number, operation), size, now) >= most:
                return (now // size + 1) * size - now
        for size in (MINUTE, DAY) if allowed else ():
            limits.add((number, operation), size, now)
        return None

    def counters(self, shop: int | None = None) -> list[dict[str, object]]:
        """Every count, or one shop's."""
        return [
            {"shop": number, "operation": operation, "day": on, **msgspec.to_builtins(count)}
            for (number, operation, on), count in sorted(self.counts.items())
            if shop in (None, number)
        ]
