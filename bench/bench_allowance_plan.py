"""A shop's daily allowance spent by the poller's plan (``keybuzz_poller.shops.allowance``):
simulated days of random buyer messages against the plan's polls, the p99 of the message →
poll delay against the best the allowance permits (``best_p99``, the baseline, computed
for the pattern the messages were drawn from) and against polling at one interval all day.

Each shop-day: messages drawn hour by hour (Poisson, ``MESSAGES`` a day on average) from
an hourly pattern; the shop polled as the poller schedules it (each poll's next one
``DayPlan.interval`` on, from the day's count; a poll spends a call only within
``DayPlan.calls_allowed``), the days one after another so that the night's messages wait
for the next day's polls. Patterns: the profile itself (French buyers' hours), and the
profile with each hour drawn ×0.5–1.5 or shifted three hours later (a shop whose buyers
stray from it), planned on the profile alone and on its own hours learned from the
previous days (as the poller does).
The poll's own time is not included (tens of milliseconds against seconds).

No server is used. Run by hand: ``.venv/bin/python -m bench bench_allowance_plan``
(``BENCH_ALLOWANCE_CALLS``, default 4000; ``BENCH_ALLOWANCE_DAYS``, 20 shop-days a
pattern; ``BENCH_ALLOWANCE_MESSAGES``, 300 a day).
"""

from __future__ import annotations

import dataclasses
import os
import random
from datetime import date, timedelta

from keybuzz_poller.shops.allowance import (
    DAY,
    FRENCH_BUYER_HOURS,
    HOUR,
    HOURS,
    Allowance,
    DayPlan,
    best_p99,
    utc_weights,
)

from bench.harness import BenchContext, Figure

CALLS = int(os.environ.get("BENCH_ALLOWANCE_CALLS", "4000"))
DAYS = int(os.environ.get("BENCH_ALLOWANCE_DAYS", "20"))
MESSAGES = float(os.environ.get("BENCH_ALLOWANCE_MESSAGES", "300"))
FIRST_DAY = date(2026, 11, 2)


def arrivals(weights: tuple[float, ...], rng: random.Random) -> list[float]:
    total = sum(weights)
    found: list[float] = []
    for hour, weight in enumerate(weights):
        expected = MESSAGES * weight / total
        at = hour * HOUR + rng.expovariate(expected / HOUR) if expected > 0 else HOUR * HOURS
        while at < (hour + 1) * HOUR:
            found.append(at)
            at += rng.expovariate(expected / HOUR)
    return found


def polls(plan: DayPlan, start: float) -> tuple[list[float], float]:
    """The day's polls from ``start`` as the poller makes them, and the first of the next day."""
    spent, made, at = 0, [], start
    while at < DAY:
        if spent < plan.calls_allowed(at):
            spent += 1
            made.append(at)
        at += plan.interval(at, spent)
    return made, at - DAY


def p99(delays: list[float]) -> float:
    ordered = sorted(delays)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def simulate(
    pattern: list[tuple[float, ...]], allowance: Allowance, learn: bool, rng: random.Random
) -> tuple[list[float], int]:
    """Message → poll delays over the days (the first day a warm-up), and the most calls a day."""
    delays: list[float] = []
    most, start = 0, 0.0
    waiting: list[float] = []  # messages after the day's last poll: the next day's first
    learned = [0] * HOURS
    for n, weights in enumerate(pattern):
        day = FIRST_DAY + timedelta(days=n)
        shaped = dataclasses.replace(allowance, learned=tuple(learned)) if learn else allowance
        made, start = polls(shaped.plan(day), start)
        most = max(most, len(made))
        arrived = arrivals(weights, rng)
        for at in arrived:
            learned[int(at // HOUR)] += 1
        queue = [(t - DAY, n > 1) for t in waiting] + [(t, n > 0) for t in arrived]
        waiting = []
        polled = iter(made)
        next_poll = next(polled, None)
        for at, counted in sorted(queue):
            while next_poll is not None and next_poll < at:
                next_poll = next(polled, None)
            if next_poll is None:
                waiting.append(at)
            elif counted:
                delays.append(next_poll - at)
    return delays, most


async def run(ctx: BenchContext) -> list[Figure]:
    rng = random.Random(35)
    allowance = Allowance(calls_per_day=CALLS, min_interval=1)
    flat = dataclasses.replace(allowance, buyer_hours=(1.0,) * HOURS)
    profile = [
        utc_weights(FRENCH_BUYER_HOURS, "Europe/Paris", FIRST_DAY + timedelta(days=n))
        for n in range(DAYS + 1)
    ]
    drift = [rng.uniform(0.5, 1.5) for _ in range(HOURS)]
    strayed = [tuple(w * d for w, d in zip(day, drift, strict=True)) for day in profile]
    shifted = [day[-3:] + day[:-3] for day in profile]  # buyers three hours west
    figures: list[Figure] = []
    patterns = (("the profile", profile), ("hours ×0.5–1.5", strayed), ("3 h later", shifted))
    for label, pattern in patterns:
        best = best_p99(pattern[1], CALLS)
        runs = [("plan", allowance, False), ("one interval all day", flat, False)]
        if pattern is not profile:
            runs.insert(1, ("plan, hours learned", allowance, True))
        for name, shaped, learn in runs:
            delays, most = simulate(pattern, shaped, learn, random.Random(7))
            figures.append(
                {
                    "name": f"p99 message → poll, {label}: {name}",
                    "value": round(p99(delays), 1),
                    "unit": "s",
                    "baseline": round(best, 1),  # the best p99 the allowance permits
                    "note": f"{len(delays)} messages, {DAYS} days of {CALLS} calls; "
                    f"most calls a day {most}; mean {sum(delays) / len(delays):.1f} s",
                }
            )
    return figures
