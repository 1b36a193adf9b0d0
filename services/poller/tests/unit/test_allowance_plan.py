"""A shop's daily allowance of listing calls (``shops/allowance.py``, ``shops/calls.py``):
the plan as pure functions over simulated days, and polls on the in-memory fakes (no
server, a clock the test moves)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.shops.allowance import (
    DAY,
    FRENCH_BUYER_HOURS,
    HOUR,
    Allowance,
    DayPlan,
    best_p99,
    blended,
    planned_p99,
    seconds_into_day,
    utc_weights,
)
from keybuzz_poller.shops.calls import calls_per_poll, plan_of
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.shops.poll import poll_shop
from keybuzz_poller.shops.ports import MarketplaceUnavailable, ShopPorts, ShopReading
from keybuzz_shared.connectors.seam import InboxMessage
from keybuzz_shared.settings import load_settings
from poller_shop_fakes import Clock, FakeShops, InMemoryCallCounts, fake_shops, with_allowance
from poller_shop_fakes import shop_message as message

WINTER, SUMMER = date(2026, 11, 24), date(2026, 7, 1)
SHOP = Shop("t1", "FNAC")


def simulate(plan: DayPlan, pages: random.Random | None = None, start: float = 0.0) -> list[float]:
    """A day of polls following ``plan`` from ``start``: each poll spends one call, or with
    ``pages`` a random 1–6 of them, each page only while the day's pace allows it. The
    times of the calls made."""
    calls: list[float] = []
    at = start
    while at < DAY:
        wanted = pages.randint(1, 6) if pages else 1
        calls += [at] * min(wanted, plan.calls_allowed(at) - len(calls))  # the poll's pages
        at += plan.interval(at, len(calls))
    return calls


@pytest.mark.parametrize("day", [WINTER, SUMMER])
@pytest.mark.parametrize("calls_per_day", [30, 400, 4000])
def test_a_day_of_the_plan_spends_the_allowance_and_never_more(
    day: date, calls_per_day: int
) -> None:
    plan = Allowance(calls_per_day=calls_per_day, min_interval=10).plan(day)
    spent = simulate(plan)
    assert 0.97 * calls_per_day - 1 <= len(spent) <= calls_per_day
    bursts = simulate(plan, random.Random(7))  # multi-page polls: counted, never past N
    assert 0.97 * calls_per_day - 1 <= len(bursts) <= calls_per_day


def test_busy_hours_get_more_polls_than_quiet_ones() -> None:
    plan = Allowance(calls_per_day=4000, min_interval=10).plan(WINTER)
    by_hour = [0] * 24
    for at in simulate(plan):
        by_hour[int(at // HOUR)] += 1
    # 20:00 Paris (19:00 UTC in winter) against 04:00 Paris (03:00 UTC).
    assert by_hour[19] >= 3.5 * by_hour[3]
    assert by_hour[3] > 0  # a quiet hour is polled all the same


def test_calls_spent_faster_stretch_the_rest_of_the_days_intervals() -> None:
    plan = Allowance(calls_per_day=4000, min_interval=10).plan(WINTER)
    noon = 12 * HOUR
    on_plan = len([t for t in simulate(plan) if t < noon])
    assert plan.interval(noon, on_plan + 1000) > 1.5 * plan.interval(noon, on_plan)
    # The rest of the day from there spends what is left, never more.
    assert len(simulate(plan, start=noon)) <= 4000


def test_a_backlog_spends_the_days_pace_and_a_burst_not_the_rest_of_the_day() -> None:
    plan = Allowance(calls_per_day=4000, min_interval=10).plan(WINTER)
    at = 2 * HOUR
    allowed = plan.calls_allowed(at)
    assert allowed < 4000 * 0.08  # 02:00 UTC: the night's 6 % and 40 calls to catch up
    assert plan.calls_allowed(DAY) == 4000
    assert plan.interval(at, allowed) > plan.interval(at, 0)


def test_past_the_allowance_the_next_poll_is_the_next_day() -> None:
    plan = Allowance(calls_per_day=30, min_interval=10).plan(WINTER)
    at = 15 * HOUR
    assert at + plan.interval(at, 30) > DAY
    assert at + plan.interval(at, 29) < DAY


def test_the_plans_p99_is_within_a_tenth_of_the_best_the_allowance_permits() -> None:
    for day in (WINTER, SUMMER):
        weights = utc_weights(FRENCH_BUYER_HOURS, "Europe/Paris", day)
        plan = Allowance(calls_per_day=4000, min_interval=1).plan(day)
        best = best_p99(weights, 4000)
        assert best < planned_p99(plan, weights) <= 1.12 * best
        # Spacing ∝ 1/√rate (the mean's optimum) is far off at p99.
        root = dataclasses.replace(
            plan, shares=tuple(w**0.5 / max(weights) ** 0.5 for w in weights)
        )
        assert planned_p99(root, weights) > 1.5 * best
    flat = (1.0,) * 24
    assert best_p99(flat, 4000) == pytest.approx(0.99 * DAY / 4000)


def test_learned_hours_lean_the_profile_within_bounds() -> None:
    profile = utc_weights(FRENCH_BUYER_HOURS, "Europe/Paris", WINTER)
    night_owls = tuple(1000 if h in (1, 2, 3) else 0 for h in range(24))
    learned = blended(profile, night_owls)
    assert learned[2] == pytest.approx(4 * profile[2])  # raised, at most 4×
    assert learned[19] == pytest.approx(profile[19] / 4)  # lowered, at least a quarter
    assert blended(profile, (0,) * 24) == profile


# --- polls on the fakes ---------------------------------------------------------------


def backlog(fake: FakeShops, messages: int, at: datetime) -> None:
    for n in range(messages):
        fake.marketplace.messages_listed.append(
            msgspec.structs.replace(
                message(f"m{n}"), created_at=at - timedelta(minutes=messages - n)
            )
        )


async def test_each_page_of_a_poll_is_a_call_counted_before_it_is_made() -> None:
    clock = Clock(datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    fake, counts = await with_allowance(4000, clock)
    backlog(fake, 10, clock.at)  # 5 pages of 2
    done = await poll_shop(fake.ports, SHOP)
    assert done.stored == 10
    # Five pages of messages; the empty incident listing made no call (its pages: none).
    assert counts.days[SHOP.key, WINTER] == 5


async def test_a_multi_page_backlog_stops_at_the_days_pace_and_the_next_polls_go_on() -> None:
    clock = Clock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    fake, counts = await with_allowance(30, clock)
    backlog(fake, 100, clock.at)  # 50 pages of 2
    plan = await plan_of(fake.ports, SHOP, WINTER)
    assert plan is not None
    allowed = plan.calls_allowed(seconds_into_day(clock.at)[1])
    assert allowed < 30
    first = await poll_shop(fake.ports, SHOP)
    assert counts.days[SHOP.key, WINTER] == allowed
    assert first.stored == 2 * allowed  # the pages read are stored, the cursor past them
    # Polled again at once: nothing more to spend now.
    again = await poll_shop(fake.ports, SHOP)
    assert (again.stored, counts.days[SHOP.key, WINTER]) == (0, allowed)
    # The day goes on: the pace lets the listing go on where it stopped.
    clock.at = datetime(2026, 11, 24, 23, 59, tzinfo=UTC)
    later = await poll_shop(fake.ports, SHOP)
    assert later.stored > 0 and counts.days[SHOP.key, WINTER] == 30
    # The next UTC day has an allowance of its own.
    clock.at = datetime(2026, 11, 25, 0, 1, tzinfo=UTC)
    await poll_shop(fake.ports, SHOP)
    assert counts.days[SHOP.key, date(2026, 11, 25)] >= 1


async def test_a_restart_mid_day_keeps_the_days_count() -> None:
    clock = Clock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    fake, counts = await with_allowance(30, clock)
    backlog(fake, 100, clock.at)
    await poll_shop(fake.ports, SHOP)
    spent = counts.days[SHOP.key, WINTER]
    # Another process: nothing kept in memory (its plans), the same counts table.
    restarted = dataclasses.replace(fake.ports, plans={})
    await poll_shop(restarted, SHOP)
    assert counts.days[SHOP.key, WINTER] == spent


class CountingSource:
    """The scripted marketplace whose session counts its calls: two list calls a page."""

    def __init__(self, fake: FakeShops) -> None:
        self.inner = fake.marketplace
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def allowance_calls(self, shop: Shop) -> int | None:
        return self.calls

    async def messages(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxMessage]]:
        async for page in self.inner.messages(shop, since):
            self.calls += 2
            yield page


async def test_a_session_that_counts_its_calls_is_believed() -> None:
    clock = Clock(datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    fake, counts = await with_allowance(4000, clock)
    backlog(fake, 6, clock.at)  # 3 pages
    source = CountingSource(fake)
    ports: ShopPorts = dataclasses.replace(fake.ports, source=source)  # type: ignore[arg-type]
    await poll_shop(ports, SHOP)
    assert counts.days[SHOP.key, WINTER] == 6 == source.calls


async def test_shops_without_an_allowance_count_nothing() -> None:
    clock = Clock(datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    fake = fake_shops(clock=clock)
    counts = InMemoryCallCounts()
    fake.ports = dataclasses.replace(fake.ports, calls=counts)
    backlog(fake, 100, clock.at)
    assert (await poll_shop(fake.ports, SHOP)).stored == 100
    assert counts.days == {}
    assert fake.ports.reading("FNAC") == ShopReading(
        mark_as_read=True, first_poll=timedelta(days=30), max_attachment_bytes=1000
    )


async def test_a_shops_plan_leans_on_the_hours_its_buyers_wrote() -> None:
    clock = Clock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    fake, counts = await with_allowance(4000, clock)
    marketplace_plan = await plan_of(fake.ports, SHOP, WINTER)
    night_owls = Shop("t2", "FNAC")
    counts.hours[night_owls.key] = tuple(1000 if h in (1, 2, 3) else 10 for h in range(24))
    own_plan = await plan_of(fake.ports, night_owls, WINTER)
    assert marketplace_plan is not None and own_plan is not None
    assert own_plan.shares[2] > marketplace_plan.shares[2]
    assert own_plan.interval(2 * HOUR, 0) < marketplace_plan.interval(2 * HOUR, 0)


def test_polls_spending_several_calls_are_spaced_out_for_them() -> None:
    plan = Allowance(calls_per_day=4000, min_interval=1).plan(WINTER)
    at = 19 * HOUR
    one, two = plan.interval(at, 3000), plan.interval(at, 3000, calls_per_poll=2.0)
    assert two == pytest.approx(2 * one, rel=0.01)
    assert plan.interval(at, 3000, calls_per_poll=0.5) == one  # never below one a poll


async def test_a_shops_calls_per_poll_follow_its_latest_polls() -> None:
    fake, _ = await with_allowance(4000, Clock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC)))
    ports = fake.ports
    assert calls_per_poll(ports, SHOP, WINTER, 10) == 1.0  # nothing known yet
    costs = [calls_per_poll(ports, SHOP, WINTER, spent) for spent in range(13, 41, 3)]
    assert costs == sorted(costs) and 2.5 < costs[-1] < 3.0  # polls of three pages
    assert calls_per_poll(ports, SHOP, WINTER, 40) == costs[-1]  # a refused poll: no news
    assert calls_per_poll(ports, Shop("t2", "FNAC"), WINTER, 1) == 1.0


async def test_a_poll_reads_again_from_its_marketplaces_overlap_before_the_cursor() -> None:
    clock = Clock(datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    fake, _ = await with_allowance(4000, clock)
    backlog(fake, 2, clock.at)
    await poll_shop(fake.ports, SHOP)
    newest = max(m.created_at for m in fake.marketplace.messages_listed)
    reading = fake.ports.reading("FNAC")
    short = dataclasses.replace(reading, overlap=timedelta(minutes=1))
    await poll_shop(dataclasses.replace(fake.ports, reading=lambda _: short), SHOP)
    assert fake.marketplace.listed_since[-1] == newest - timedelta(minutes=1)
    await poll_shop(fake.ports, SHOP)  # the poller's default: 10 minutes
    assert fake.marketplace.listed_since[-1] == newest - timedelta(minutes=10)


async def test_a_page_whose_call_failed_still_counts_against_the_allowance() -> None:
    """The marketplace counted the call whatever became of its answer: a page that failed
    (an outage, an unreadable answer) is one call of the day spent."""
    clock = Clock(datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    fake, counts = await with_allowance(4000, clock)
    backlog(fake, 10, clock.at)  # 5 pages of 2
    fake.marketplace.fail["page"] = MarketplaceUnavailable("Fnac messages_query: HTTP 503")
    with pytest.raises(MarketplaceUnavailable):
        await poll_shop(fake.ports, SHOP)
    assert counts.days[SHOP.key, WINTER] == 1
    done = await poll_shop(fake.ports, SHOP)
    assert done.stored == 10 and counts.days[SHOP.key, WINTER] == 1 + 5


async def test_with_no_call_left_today_the_next_poll_is_tomorrow() -> None:
    """The shops' scheduler puts a shop whose day is spent past midnight UTC, not at its
    marketplace's interval; a poll asked all the same makes no call."""
    clock = Clock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    fake, counts = await with_allowance(30, clock)
    counts.days[SHOP.key, WINTER] = 30
    settings = load_settings(PollerSettings, {})
    runtime = cast(PollerRuntime, SimpleNamespace(settings=settings, stopping=False))
    scheduler = ShopScheduler(runtime, cast(Any, None), fake.ports, cast(Any, None))
    at = seconds_into_day(clock.at)[1]
    assert at + await scheduler.next_interval(SHOP.key) > DAY
    backlog(fake, 4, clock.at)
    done = await poll_shop(fake.ports, SHOP)  # polled anyway (an operator's poll now)
    assert done.stored == 0 and counts.days[SHOP.key, WINTER] == 30
    counts.days[SHOP.key, WINTER] = 10
    assert at + await scheduler.next_interval(SHOP.key) < DAY
