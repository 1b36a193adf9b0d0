"""A marketplace whose calls are limited per application, every connected shop's together
(the seam's ``AppCallBudget``): each shop's interval from the number of its shops a
service's table holds, so that all of their rounds (the poller's polls, orders' syncs) spend
at most the budget's share, whichever instance runs them and however many instances there
are. The count is re-read at most every ``REREAD_SECONDS``: a seller connecting or leaving
changes the next intervals computed, with no restart. docs/POLLER.md, "Application call
budget"; docs/ORDERS.md, "Application call budget".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import msgspec
from prometheus_client import Gauge

from keybuzz_shared.connectors.seam import AppCallBudget
from keybuzz_shared.connectors.seam.shop_api import SECONDS_A_DAY

# Each round computes its shop's next interval from the count: one count a marketplace every
# few seconds, not a statement per round (10,000 sellers at 20 minutes are 8 a second).
REREAD_SECONDS = 5.0

T = TypeVar("T")


class SharedReads(Generic[T]):
    """Rounds that find a count stale together (polls ending at the same moment) await the
    one read of it in flight, not a read each."""

    def __init__(self) -> None:
        self._reading: dict[object, asyncio.Future[T]] = {}

    async def read(self, key: object, read: Callable[[], Awaitable[T]]) -> T:
        reading = self._reading.get(key)
        if reading is None:
            reading = self._reading[key] = asyncio.ensure_future(read())
            reading.add_done_callback(lambda _done: self._reading.pop(key, None))
        return await asyncio.shield(reading)


@dataclass(frozen=True)
class BudgetGauges:
    """A service's two gauges of its budgets (label ``marketplace``): the interval in force
    and the shops sharing it. Made once per process, at module level, by the service."""

    interval: Gauge
    shops: Gauge

    @classmethod
    def named(cls, interval: str, shops: str, *, rounds: str) -> BudgetGauges:
        """The gauges ``interval`` and ``shops`` (each service's own names, written whole
        where it makes them so that they can be found); ``rounds`` says what the interval
        separates (a shop's polls, its order syncs)."""
        return cls(
            Gauge(
                interval,
                f"The interval between {rounds} its marketplace's application call budget "
                "gives for the shops connected now (never below the marketplace's own "
                "interval).",
                ["marketplace"],
            ),
            Gauge(
                shops,
                "A marketplace's shops, as the service's table counts them now, that share "
                "its application call budget.",
                ["marketplace"],
            ),
        )


@dataclass(frozen=True)
class BudgetedInterval:
    """What a marketplace's budget gives now: for an operator and the scheduler alike."""

    marketplace: str
    budget: AppCallBudget
    shops: int  # counted now (the service's table)
    declared_interval: float  # the marketplace's own interval
    interval: float  # max(declared, shops × calls per round × 86,400 / rounds' calls a day)

    @property
    def calls_a_day(self) -> float:
        """What the shops' rounds spend a day at ``interval``."""
        return self.budget.calls_a_day(self.shops, self.interval)

    @property
    def pace(self) -> RoundPace:
        return RoundPace(
            interval=self.interval,
            spread=self.budget.spread(self.shops),
            calls_per_round=self.budget.calls_per_poll,
        )


class RoundPace(msgspec.Struct, frozen=True, kw_only=True):
    """A budgeted marketplace's pace for one shop's rounds (polls, order syncs): its
    ``interval`` at least; after a round that spent ``calls``, no sooner than the time those
    calls take of the shop's share of the budget: ``spread × calls / calls_per_round``
    (``spread``: the interval at which the shops counted spend the share, the marketplace's
    own interval aside). A shop whose inbox floods spends its own share, not the other
    shops'; where the budget is ample it keeps its interval."""

    interval: float
    spread: float
    calls_per_round: float

    def after(self, calls: int | None) -> float:
        if not calls:
            return self.interval
        return max(self.interval, self.spread * calls / self.calls_per_round)


@dataclass
class AppBudgets:
    """One per process and service: each budgeted marketplace's last count of its shops."""

    count: Callable[[str], Awaitable[int]]  # a marketplace's shops (the service's table)
    gauges: BudgetGauges | None = None
    clock: Callable[[], float] = time.monotonic
    # marketplace → when its shops were counted (``clock``) and how many
    counted: dict[str, tuple[float, int]] = field(default_factory=dict)
    counting: SharedReads[int] = field(default_factory=SharedReads, repr=False)

    async def shops(self, marketplace: str, *, fresh: bool = False) -> int:
        """Its shops, counted again when ``fresh`` or the last count is stale."""
        now, last = self.clock(), self.counted.get(marketplace)
        if fresh:
            count = await self.count(marketplace)
        elif last is None or now - last[0] >= REREAD_SECONDS:
            count = await self.counting.read(marketplace, lambda: self.count(marketplace))
        else:
            return last[1]
        self.counted[marketplace] = (now, count)
        return count

    async def interval(
        self, marketplace: str, budget: AppCallBudget, declared: float, *, fresh: bool = False
    ) -> BudgetedInterval:
        shops = await self.shops(marketplace, fresh=fresh)
        interval = budget.poll_interval(shops, declared)
        if self.gauges is not None:
            self.gauges.interval.labels(marketplace).set(interval)
            self.gauges.shops.labels(marketplace).set(shops)
        return BudgetedInterval(marketplace, budget, shops, float(declared), interval)


# Calls the application's day may be ahead of an even pace (of the polls' share) before the
# polls are put off: a burst of busy polls is let through, a day spent early is not.
PACE_BURST = 0.01


def pace_wait(budget: AppCallBudget, counted: int, at: float) -> float:
    """Seconds before the application's polls may call again, ``counted`` calls counted
    this UTC day ``at`` seconds into it: none while the day is within an even pace of the
    polls' share (and a ``PACE_BURST``); else until the pace reaches the count; past the
    polls' share, the next day."""
    share = budget.polls_calls_per_day
    if counted >= share:
        return SECONDS_A_DAY - at + 1
    due = (counted - share * PACE_BURST) / share * SECONDS_A_DAY
    return max(0.0, due - at)


class AppBudgetStatus(msgspec.Struct, kw_only=True, rename="camel"):
    """A marketplace's application call budget (every shop's calls together, a day) and the
    interval between a shop's rounds it gives for the shops counted now: what
    ``nats req keybuzz.<service>.budgets '{}'`` answers."""

    marketplace: str
    calls_per_day: int  # the marketplace's limit for the application
    poll_share: float  # the part of it these rounds may spend; the rest: other calls
    calls_per_poll: float  # what a shop's round costs, as its connector declares
    shops: int  # counted now, in the service's table
    declared_interval_seconds: float  # the marketplace's own interval
    interval_seconds: float  # the interval each shop's next round falls on
    poll_calls_per_day: float  # what the shops' rounds spend a day at that interval


def app_budget_body(budgeted: BudgetedInterval) -> AppBudgetStatus:
    budget = budgeted.budget
    return AppBudgetStatus(
        marketplace=budgeted.marketplace,
        calls_per_day=budget.calls_per_day,
        poll_share=budget.poll_share,
        calls_per_poll=budget.calls_per_poll,
        shops=budgeted.shops,
        declared_interval_seconds=budgeted.declared_interval,
        interval_seconds=round(budgeted.interval, 1),
        poll_calls_per_day=round(budgeted.calls_a_day),
    )
