"""A marketplace whose calls are limited per application, every connected shop's together
(the seam's ``AppCallBudget``): each shop's interval from the number of its shops the shops
table holds as polled, so that all of their polls spend at most the budget's share for
polls, whichever instance polls them and however many instances there are. The count is
re-read at most every ``REREAD_SECONDS``: a seller connecting or leaving changes the next
intervals computed, with no restart. docs/POLLER.md, "Application call budget".
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from keybuzz_shared.connectors.seam import AppCallBudget
from prometheus_client import Gauge

# Each poll computes its shop's next interval from the count: one count a marketplace every
# few seconds, not a statement per poll (10,000 sellers at 20 minutes are 8 polls a second).
REREAD_SECONDS = 5.0

BUDGET_INTERVAL = Gauge(
    "keybuzz_poller_app_budget_interval_seconds",
    "The interval between a shop's polls its marketplace's application call budget gives "
    "for the shops connected now (never below the marketplace's own interval).",
    ["marketplace"],
)
BUDGET_SHOPS = Gauge(
    "keybuzz_poller_app_budget_shops",
    "A marketplace's shops polled now, as the shops table counts them, that share its "
    "application call budget.",
    ["marketplace"],
)


@dataclass(frozen=True)
class BudgetedInterval:
    """What a marketplace's budget gives now: for an operator and the scheduler alike."""

    marketplace: str
    budget: AppCallBudget
    shops: int  # polled now (connected, tenant not archived)
    declared_interval: float  # the marketplace's own poll_interval_seconds
    interval: float  # max(declared, shops × calls per poll × 86,400 / polls' calls a day)

    @property
    def calls_a_day(self) -> float:
        """What the shops' polls spend a day at ``interval``."""
        return self.budget.calls_a_day(self.shops, self.interval)


@dataclass
class AppBudgets:
    """One per process: each budgeted marketplace's last count of its polled shops."""

    count: Callable[[str], Awaitable[int]]  # a marketplace's polled shops (the shops table)
    clock: Callable[[], float] = time.monotonic
    # marketplace → when its shops were counted (``clock``) and how many
    counted: dict[str, tuple[float, int]] = field(default_factory=dict)

    async def shops(self, marketplace: str, *, fresh: bool = False) -> int:
        """Its polled shops, counted again when ``fresh`` or the last count is stale."""
        now, last = self.clock(), self.counted.get(marketplace)
        if fresh or last is None or now - last[0] >= REREAD_SECONDS:
            self.counted[marketplace] = last = (now, await self.count(marketplace))
        return last[1]

    async def interval(
        self, marketplace: str, budget: AppCallBudget, declared: float, *, fresh: bool = False
    ) -> BudgetedInterval:
        shops = await self.shops(marketplace, fresh=fresh)
        interval = budget.poll_interval(shops, declared)
        BUDGET_INTERVAL.labels(marketplace).set(interval)
        BUDGET_SHOPS.labels(marketplace).set(shops)
        return BudgetedInterval(marketplace, budget, shops, float(declared), interval)
