"""An application call budget (the seam's ``AppCallBudget``) and the interval it gives a
marketplace's shops for their number (``keybuzz_shared.app_budgets``): pure, no server."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import pytest
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.app_budgets import REREAD_SECONDS, AppBudgets
from keybuzz_shared.connectors.seam import AppCallBudget
from keybuzz_shared.settings import load_settings

DAY = 86_400
# eBay's figures (docs/EBAY.md): 1,500,000 calls a day an application, 2.02 calls a poll.
WHOLE = AppCallBudget(calls_per_day=1_500_000, calls_per_poll=2.02, poll_share=1.0)


def test_few_shops_keep_the_marketplaces_own_interval() -> None:
    assert WHOLE.poll_interval(0, 120) == 120
    assert WHOLE.poll_interval(1_000, 120) == 120  # 116.4 s would do: the declared holds
    assert WHOLE.poll_interval(1_031, 120) == 120


def test_many_shops_are_spaced_so_their_polls_spend_the_budget() -> None:
    assert WHOLE.poll_interval(10_000, 120) == pytest.approx(10_000 * 2.02 * DAY / 1_500_000)
    assert WHOLE.poll_interval(10_000, 120) == pytest.approx(1_163.5, abs=0.1)  # ~19 min
    assert WHOLE.poll_interval(20_000, 120) == pytest.approx(2 * 1_163.5, abs=0.1)


def test_the_share_left_to_other_calls_lengthens_the_interval() -> None:
    four_fifths = AppCallBudget(calls_per_day=1_500_000, calls_per_poll=2.02, poll_share=0.8)
    assert four_fifths.polls_calls_per_day == 1_200_000
    ratio = four_fifths.poll_interval(10_000, 120) / WHOLE.poll_interval(10_000, 120)
    assert ratio == pytest.approx(1.25)


@pytest.mark.parametrize("shops", [1, 7, 500, 1_031, 1_032, 5_000, 10_000, 123_457])
@pytest.mark.parametrize("share", [0.5, 0.8, 1.0])
def test_the_days_polls_never_pass_their_share(shops: int, share: float) -> None:
    budget = AppCallBudget(calls_per_day=1_500_000, calls_per_poll=2.02, poll_share=share)
    interval = budget.poll_interval(shops, 120)
    spent = budget.calls_a_day(shops, interval)
    assert spent <= budget.polls_calls_per_day * (1 + 1e-9)
    if interval > 120:  # spaced by the budget: the whole share is used, no call wasted
        assert spent == pytest.approx(budget.polls_calls_per_day)


@pytest.mark.parametrize(
    "fields",
    [
        {"calls_per_day": 0, "calls_per_poll": 2.0, "poll_share": 0.8},
        {"calls_per_day": 1_000, "calls_per_poll": 0.0, "poll_share": 0.8},
        {"calls_per_day": 1_000, "calls_per_poll": 2.0, "poll_share": 0.0},
        {"calls_per_day": 1_000, "calls_per_poll": 2.0, "poll_share": 1.5},
    ],
)
def test_a_budget_that_cannot_be_kept_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AppCallBudget(**fields)  # type: ignore[arg-type]


class Counted:
    """The shops table's count of one marketplace's polled shops, as an operator changes it."""

    def __init__(self, shops: int) -> None:
        self.shops, self.reads, self.now = shops, 0, 0.0

    async def count(self, marketplace: str) -> int:
        assert marketplace == "SHOPMARKET"
        self.reads += 1
        return self.shops


async def test_the_interval_follows_shops_connecting_and_leaving_without_a_restart() -> None:
    table = Counted(10_000)
    budgets = AppBudgets(table.count, clock=lambda: table.now)

    async def interval() -> float:
        return (await budgets.interval("SHOPMARKET", WHOLE, 120)).interval

    assert await interval() == pytest.approx(1_163.5, abs=0.1)
    table.shops = 2_000  # sellers leave
    table.now += REREAD_SECONDS / 2
    assert await interval() == pytest.approx(1_163.5, abs=0.1)  # counted a moment ago
    assert table.reads == 1
    table.now += REREAD_SECONDS
    assert await interval() == pytest.approx(232.7, abs=0.1)  # shrinks back
    table.shops = 500
    table.now += REREAD_SECONDS
    assert await interval() == 120  # down to the marketplace's own
    table.shops = 30_000  # sellers connect
    assert (await budgets.interval("SHOPMARKET", WHOLE, 120, fresh=True)).shops == 30_000
    assert await interval() == pytest.approx(3 * 1_163.5, abs=0.1)
    assert table.reads == 4


async def test_rounds_finding_the_count_stale_together_share_one_count() -> None:
    """Polls ending at the same moment each ask for their marketplace's count: one read of
    it serves them all (a statement a poll otherwise, at every instant the count is stale);
    ``fresh`` reads it again."""
    asked: list[str] = []
    counted = asyncio.Event()

    async def count(marketplace: str) -> int:
        asked.append(marketplace)
        await counted.wait()
        return 7

    budgets = AppBudgets(count)
    rounds = [asyncio.create_task(budgets.shops("EBAY")) for _ in range(10)]
    await asyncio.sleep(0)  # every round started, each finding no count
    counted.set()
    assert await asyncio.gather(*rounds) == [7] * 10
    assert asked == ["EBAY"]
    assert await budgets.shops("EBAY", fresh=True) == 7
    assert asked == ["EBAY", "EBAY"]


async def test_what_an_operator_reads_is_what_the_polls_spend() -> None:
    table = Counted(10_000)
    budgeted = await AppBudgets(table.count).interval("SHOPMARKET", WHOLE, 120)
    assert (budgeted.shops, budgeted.declared_interval) == (10_000, 120.0)
    assert budgeted.calls_a_day == pytest.approx(1_500_000)


def test_a_poll_spending_past_its_share_pushes_the_next_back_and_the_counted_day_paces() -> None:
    from keybuzz_shared.app_budgets import RoundPace, pace_wait
    from keybuzz_shared.connectors.seam import AppCallBudget

    budget = AppCallBudget(calls_per_day=100_000, calls_per_poll=2.0, poll_share=0.9)
    # The budget's spread is the interval: a poll's share is what it may spend.
    spread = budget.spread(31)  # 31 shops × 2 calls × 86,400 / 90,000 = 59.5 s
    tight = RoundPace(interval=60.0, spread=spread, calls_per_round=2.0)
    assert tight.after(None) == 60.0
    assert tight.after(1) == 60.0  # below its share: not sooner
    assert tight.after(20) == pytest.approx(10 * spread)  # ten polls' share: ten spreads
    # An ample budget (3 shops: a 5.8 s spread under a 60 s interval): the same flood takes
    # 58 s of the shop's share, within its interval, and puts nothing off.
    ample = RoundPace(interval=60.0, spread=budget.spread(3), calls_per_round=2.0)
    assert ample.after(20) == 60.0
    assert ample.after(40) == pytest.approx(20 * budget.spread(3))
    share = 90_000  # the polls' day
    assert pace_wait(budget, share // 2, 43_200.0) == 0.0  # on pace at noon
    assert pace_wait(budget, share // 2, 21_600.0) > 20_000  # twice the pace at six
    assert pace_wait(budget, share, 3_600.0) == 86_400 - 3_600 + 1  # spent: the next day


async def test_a_failed_poll_that_spent_past_its_share_is_retried_no_sooner_than_it_spent() -> None:
    """A poll cut at its deadline made its calls all the same: a budgeted marketplace's shop
    is retried no sooner than they put it off (its back-off may be longer); a quiet poll's
    failure keeps the back-off's pace, and a marketplace without a budget too."""

    async def polled_shops(marketplace: str) -> int:
        return 100_000  # the budget's interval past eBay's own

    settings = load_settings(PollerSettings, {})
    runtime = cast(PollerRuntime, SimpleNamespace(settings=settings, stopping=False))
    shops = SimpleNamespace(last_poll_calls={}, calls=None)
    connections = SimpleNamespace(connections=SimpleNamespace(polled_shops=polled_shops))
    scheduler = ShopScheduler(runtime, cast(Any, None), cast(Any, shops), cast(Any, connections))
    budgeted = await scheduler.budgeted("EBAY")
    assert budgeted is not None
    share = budgeted.budget.calls_per_poll
    assert await scheduler.failed_interval("EBAY:t1") == 0.0  # never polled
    shops.last_poll_calls["EBAY:t1"] = 2  # a quiet poll's calls
    assert await scheduler.failed_interval("EBAY:t1") == 0.0
    shops.last_poll_calls["EBAY:t1"] = 125  # a flood's
    assert await scheduler.failed_interval("EBAY:t1") == pytest.approx(
        budgeted.interval * 125 / share
    )
    shops.last_poll_calls["FNAC:t2"] = 125
    assert await scheduler.failed_interval("FNAC:t2") == 0.0  # no application budget


async def test_a_flood_polled_where_the_budget_is_ample_keeps_its_interval() -> None:
    """What a poll spent is charged against the shop's share of the budget, not against
    its marketplace's own interval: a few sellers on eBay's application budget, one of them
    reading a flood in a poll, are each polled again at eBay's interval; past the share the
    flood's poll puts its shop's next off (the time its calls take of the share)."""
    counted = {"shops": 3}

    async def polled_shops(marketplace: str) -> int:
        return counted["shops"]

    settings = load_settings(PollerSettings, {})
    runtime = cast(PollerRuntime, SimpleNamespace(settings=settings, stopping=False))
    shops = SimpleNamespace(last_poll_calls={"EBAY:t1": 125}, calls=None)
    connections = SimpleNamespace(connections=SimpleNamespace(polled_shops=polled_shops))
    scheduler = ShopScheduler(runtime, cast(Any, None), cast(Any, shops), cast(Any, connections))
    declared = scheduler.interval_of("EBAY:t1")
    assert await scheduler.next_interval("EBAY:t1") == declared
    counted["shops"] = 100_000  # the budget's spread past eBay's interval
    budgeted = await scheduler.budgeted("EBAY", fresh=True)
    assert budgeted is not None and budgeted.interval > declared
    assert await scheduler.next_interval("EBAY:t1") == pytest.approx(
        budgeted.interval * 125 / budgeted.budget.calls_per_poll
    )
