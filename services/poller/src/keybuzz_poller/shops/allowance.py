"""A shop's daily allowance of listing calls, spent where it buys the most freshness: pure.

A marketplace may allow each shop account N listing calls a UTC day
(``ShopApiSettings.calls_per_day``). The plan gives each UTC hour a polling rate relative to
the busiest (its *share*): the busiest hours, which together carry ``COVERED`` of the day's
buyer messages, are polled at one short interval, the others at ``QUIET_SHARE`` of that
rate. That spacing minimises the p99 of the message → ticket delay for N polls (spacing ∝
1/√rate minimises the mean instead, and leaves the quiet hours' long intervals as the p99:
docs/POLLER.md, "Daily allowance"; docs/BENCHMARKS.md, "The best p99 an allowance permits").

The interval at each moment spreads the calls left today over the rest of the day's shares,
so a day never asks for more than N, and calls spent faster (pages of a backlog, retries)
stretch the rest of the day's intervals. A poll may spend a call only while the day's count
stays within the plan's pace (its share of the day so far, and a small burst to catch up):
a backlog cannot take the rest of the day's calls.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from keybuzz_shared.connectors.seam import ShopApiSettings

HOURS = 24
HOUR = 3600.0
DAY = HOURS * HOUR
# French buyers' messages by local hour (midnight first): little at night, a working-day
# plateau, most in the evening. Relative weights, for a marketplace that gives none.
FRENCH_BUYER_HOURS: tuple[float, ...] = (
    0.2,
    0.1,
    0.05,
    0.05,
    0.05,
    0.1,
    0.3,
    0.8,
    1.5,
    2.5,
    2.5,
    2.5,
    2.5,
    2.2,
    2.5,
    2.5,
    2.5,
    2.5,
    3.0,
    3.0,
    3.0,
    3.0,
    1.8,
    0.8,
)
COVERED = 0.995  # the day's messages arriving in hours polled at the shortest interval
QUIET_SHARE = 0.25  # a quiet hour's polling rate against a busy one's: 4× the interval
BURST_SHARE = 0.01  # calls beyond the day's pace a backlog may spend at once (of N)
MIN_BURST = 2


@dataclass(frozen=True)
class Allowance:
    """A marketplace's allowance as its shop API settings give it."""

    calls_per_day: int
    min_interval: float  # never polled more often (the shop API's poll interval)
    buyer_hours: tuple[float, ...] = FRENCH_BUYER_HOURS  # by local hour of ``zone``
    zone: str = "Europe/Paris"
    covered: float = COVERED
    quiet_share: float = QUIET_SHARE
    # The shop's own buyer messages by UTC hour, when known: the plan leans on them.
    learned: tuple[int, ...] = field(default=())

    def plan(self, day: date) -> DayPlan:
        weights = blended(utc_weights(self.buyer_hours, self.zone, day), self.learned)
        return _plan(self.calls_per_day, self.min_interval, weights, self.covered, self.quiet_share)


def allowance_of(api: ShopApiSettings) -> Allowance | None:
    """The allowance a connector's shop API settings declare; None when they declare none."""
    if api.calls_per_day is None:
        return None
    return Allowance(
        calls_per_day=api.calls_per_day,
        min_interval=float(api.poll_interval_seconds),
        buyer_hours=api.buyer_hours or FRENCH_BUYER_HOURS,
        zone=api.buyer_zone,
    )


@dataclass(frozen=True)
class DayPlan:
    calls_per_day: int
    min_interval: float
    shares: tuple[float, ...]  # each UTC hour's polling rate against the busiest's (0..1]
    burst: int

    def interval(self, at: float, spent: int, calls_per_poll: float = 1.0) -> float:
        """Seconds to the next poll, ``at`` seconds into the UTC day with ``spent`` calls
        made today and polls spending ``calls_per_poll`` each (pages): the polls the calls
        left allow spread over the rest of the day's shares; past the allowance, the next
        day."""
        left = self.calls_per_day - spent
        if left <= 0:
            return max(self.min_interval, DAY - at + 1)
        rest = share_seconds(self.shares, at, DAY)
        share = self.shares[min(HOURS - 1, int(at // HOUR))]
        polls = left / max(1.0, calls_per_poll)
        # Half a poll more: the day's last poll falls before midnight, not on it.
        return max(self.min_interval, rest / ((polls + 0.5) * share))

    def calls_allowed(self, at: float) -> int:
        """The calls the day may have spent by ``at``: its share of the day so far and a
        burst, at most the allowance."""
        pace = share_seconds(self.shares, 0.0, at) / share_seconds(self.shares, 0.0, DAY)
        return min(self.calls_per_day, math.ceil(self.calls_per_day * pace) + self.burst)


def seconds_into_day(at: datetime) -> tuple[date, float]:
    """The UTC day of ``at`` and how far into it, in seconds."""
    utc = at.astimezone(UTC)
    midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return utc.date(), (utc - midnight).total_seconds()


def utc_weights(local: Sequence[float], zone: str, day: date) -> tuple[float, ...]:
    """Weights by local hour as weights by UTC hour of ``day`` (the zone's offset that day)."""
    tz = ZoneInfo(zone)
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return tuple(
        float(local[(midnight + timedelta(hours=h)).astimezone(tz).hour]) for h in range(HOURS)
    )


LEARNED_FULL_WEIGHT = 500  # buyer messages after which the shop's own hours count fully
LEARNED_BOUND = 4.0  # a learned hour's weight stays within 1/4 and 4× the profile's


def blended(profile: Sequence[float], learned: Sequence[int]) -> tuple[float, ...]:
    """The profile leaning on the shop's own buyer messages by UTC hour: the more messages
    seen, the more their hours count; each hour bounded around the profile's, so a quiet
    week or a burst does not starve an hour of polls."""
    seen = sum(learned)
    if len(learned) != HOURS or seen <= 0:
        return tuple(profile)
    total = sum(profile)
    trust = min(1.0, seen / LEARNED_FULL_WEIGHT)
    weights = []
    for prior, count in zip(profile, learned, strict=True):
        own = count / seen * total
        mixed = (1 - trust) * prior + trust * own
        weights.append(min(prior * LEARNED_BOUND, max(prior / LEARNED_BOUND, mixed)))
    return tuple(weights)


def hour_shares(
    weights: Sequence[float], covered: float = COVERED, quiet_share: float = QUIET_SHARE
) -> tuple[float, ...]:
    """Each hour's polling rate against the busiest's: ``quiet_share`` for every hour, then
    the busiest hours raised to 1 until the hours polled at full rate (the last one in part)
    carry ``covered`` of the messages."""
    total = sum(weights)
    if total <= 0:
        return (1.0,) * len(weights)
    shares = [quiet_share] * len(weights)
    carried = quiet_share * total  # messages, weighted by how fully their hour is polled
    for hour in sorted(range(len(weights)), key=lambda h: -weights[h]):
        missing = covered * total - carried
        if missing <= 0 or weights[hour] <= 0:
            break
        raised = min(1 - quiet_share, missing / weights[hour])
        shares[hour] += raised
        carried += weights[hour] * raised
    return tuple(shares)


def share_seconds(shares: Sequence[float], start: float, end: float) -> float:
    """∫ share over [start, end] seconds of the day."""
    total = 0.0
    for hour, share in enumerate(shares):
        overlap = min(end, (hour + 1) * HOUR) - max(start, hour * HOUR)
        if overlap > 0:
            total += share * overlap
    return total


@functools.lru_cache(maxsize=256)
def _plan(
    calls_per_day: int,
    min_interval: float,
    weights: tuple[float, ...],
    covered: float,
    quiet_share: float,
) -> DayPlan:
    burst = max(MIN_BURST, math.ceil(calls_per_day * BURST_SHARE))
    return DayPlan(calls_per_day, min_interval, hour_shares(weights, covered, quiet_share), burst)


def best_p99(weights: Sequence[float], calls: int, quantile: float = 0.99) -> float:
    """The lowest p99 (``quantile``) of the message → poll delay that ``calls`` polls a day
    can give messages arriving at ``weights`` by hour: (the busiest hours that carry
    ``quantile`` of the messages, the last one in part) × 3600 s / ``calls``.

    Why: a message arriving where polls are Δ apart waits uniformly in [0, Δ], so the part
    of the messages waiting longer than d is ∫ λ (1 − d/Δ)⁺ dt / Λ, and the polls ∫ 1/Δ dt.
    With u = min(1, d/Δ) both are linear in u: at most 1 − ``quantile`` may wait longer
    when ∫ λ u ≥ ``quantile`` Λ, and the polls are at least ∫ u / d; the fewest polls for a
    given d take u = 1 in the busiest hours first. No schedule does better; polling the
    quiet hours not at all would reach it, so a plan that polls them too stays above it."""
    total = sum(weights)
    covered, hours = 0.0, 0.0
    for weight in sorted(weights, reverse=True):
        missing = quantile * total - covered
        if missing <= 0 or weight <= 0:
            break
        part = min(1.0, missing / weight)
        hours += part
        covered += weight * part
    return hours * HOUR / calls


def planned_p99(plan: DayPlan, weights: Sequence[float], quantile: float = 0.99) -> float:
    """The p99 of the message → poll delay a day following ``plan`` from midnight gives
    messages arriving at ``weights`` by UTC hour (each hour at its planned interval)."""
    rest = share_seconds(plan.shares, 0.0, DAY)
    spacing = [max(plan.min_interval, rest / (plan.calls_per_day * s)) for s in plan.shares]
    total = sum(weights)

    def waiting_longer(d: float) -> float:
        return sum(w * max(0.0, 1 - d / gap) for w, gap in zip(weights, spacing, strict=True))

    low, high = 0.0, max(spacing)
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (
            (middle, high) if waiting_longer(middle) > (1 - quantile) * total else (low, middle)
        )
    return high
