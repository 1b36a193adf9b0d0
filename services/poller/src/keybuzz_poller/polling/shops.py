"""Polling marketplace shops (over their API): a :class:`LeasedPolls` on ``poller_shops``,
with the folders' claims, leases and back-off. Each shop's next poll falls its marketplace's
interval after the last (``MarketplaceSettings.shop_api``'s ``poll_interval_seconds``); one
claiming tick, lease and deadline serve every shop, set by the shortest interval. What a lease
is for is a shop key, ``<marketplace>:<tenant_id>``; its poll is
``shops/poll.py``'s.

A failing shop cannot hold the others up (``shop_poll_timings``): its poll is cut at its
deadline, a slow poll gives its slot back, and once failing (in back-off) it is polled in
slots of its own.

A poll refused for the shop's key marks the shop REAUTH_REQUIRED (no further polls until it
connects again) and fails like an outage, so the shop's status says why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import Protocol

from keybuzz_shared.app_budgets import (
    REREAD_SECONDS,
    AppBudgets,
    BudgetedInterval,
    BudgetGauges,
    SharedReads,
    pace_wait,
)
from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.connectors.registry import served
from keybuzz_shared.redaction import remote_excerpt

from keybuzz_poller.polling.domain import PollFailure, PollResult, shop_poll_timings
from keybuzz_poller.polling.ports import PollSchedule
from keybuzz_poller.polling.scheduler import LeasedPolls, PollPutOff, PollSkipped, poll_all_due
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.shops.allowance import seconds_into_day
from keybuzz_poller.shops.calls import calls_asked, calls_per_poll, plan_of
from keybuzz_poller.shops.connection_ports import ShopPollingPorts
from keybuzz_poller.shops.connections import key_refused, shop_marketplaces
from keybuzz_poller.shops.domain import CallsAsked, DayCalls, Shop, ShopStart, shop_of
from keybuzz_poller.shops.poll import poll_shop
from keybuzz_poller.shops.ports import ShopKeyRefused, ShopPorts

log = logging.getLogger(__name__)

BUDGET_GAUGES = BudgetGauges.named(
    "keybuzz_poller_app_budget_interval_seconds",
    "keybuzz_poller_app_budget_shops",
    rounds="a shop's polls",
)


class ShopSchedule(PollSchedule, Protocol):
    """The shops' schedule (``PostgresShopSchedule``): a poll's end also sets its day's
    count of calls right and records the marks read the poll made, in the same statement."""

    async def poll_succeeded(
        self,
        tenant_id: str,
        owner: str,
        fetched: int,
        interval: float,
        calls: Sequence[DayCalls] = (),
        marked: Sequence[str] = (),
        reserve: CallsAsked | None = None,
    ) -> None:
        """``reserve``: what the shop's next claim reserves of its day (``CallsAsked``)."""

    async def poll_failed(
        self,
        tenant_id: str,
        owner: str,
        failure: PollFailure,
        calls: Sequence[DayCalls] = (),
        marked: Sequence[str] = (),
    ) -> None: ...

    def claimed_start(self, key: str) -> ShopStart | None:
        """The shop's start as the claim that leased it read it (None: not claimed so)."""


class ShopScheduler(LeasedPolls):
    """One per process, next to the folders' scheduler."""

    def __init__(
        self,
        runtime: PollerRuntime,
        schedule: ShopSchedule,
        shops: ShopPorts,
        connections: ShopPollingPorts,
    ) -> None:
        self.settings = settings = runtime.settings
        # The claiming tick, lease and deadline: by the marketplaces served at start-up.
        intervals = [settings.shop_api(m).poll_interval_seconds for m in shop_marketplaces()]
        timings = shop_poll_timings(settings, float(min(intervals)))
        super().__init__(runtime, schedule, timings)
        self.slots = settings.shop_poll_concurrency
        self.shops = shops
        self.connections = connections
        self.loops = (BackgroundLoop(self._loop, "shop-scheduler"),)
        self.not_served: set[str] = set()  # marketplaces whose shops' polls are skipped
        # A shop's row as its claim read it (a paced one's time since its last poll with
        # its cursor), for the poll that follows: no statement of its own (shop key → row).
        self.starts: dict[str, ShopStart] = {}
        # Counted only for a marketplace that declares an application call budget.
        self.budgets = AppBudgets(lambda m: connections.connections.polled_shops(m), BUDGET_GAUGES)
        # marketplace → when its application's day was counted, the day, and its calls
        self.counted: dict[str, tuple[float, date, int]] = {}
        self.day_calls = SharedReads[int]()
        self.shop_schedule = schedule
        # shop key → by when this process polls it again if it still holds it (its next
        # interval and a lease on): past it, what it keeps of the shop is dropped.
        self.expected: dict[str, datetime] = {}
        self.next_sweep: datetime | None = None  # the first poll's end sweeps

    def interval_of(self, tenant_id: str) -> float:
        try:
            api = self.settings.shop_api(shop_of(tenant_id).marketplace)
        except LookupError:
            return self.interval
        return float(api.poll_interval_seconds)

    async def next_interval(self, tenant_id: str) -> float:
        """A shop with a daily allowance: the calls left today spread over the rest of its
        day's plan (``shops/allowance.py``); the others: their marketplace's interval. Either
        no shorter than its marketplace's application call budget allows for the shops
        connected now (``keybuzz_shared.app_budgets``)."""
        shop = shop_of(tenant_id)
        interval = await self._allowed_interval(tenant_id)
        budgeted = await self.budgeted(shop.marketplace)
        if budgeted is None:
            return interval
        # What was spent, not what is declared: the shop's last poll's calls, and the
        # application's day as counted (``keybuzz_shared.app_budgets``).
        last = self.shops.last_poll_calls.get(shop.key)
        spent = budgeted.pace.after(last)
        return max(interval, spent, await self._pace_wait(shop.marketplace, budgeted))

    async def failed_interval(self, tenant_id: str) -> float:
        """A failed poll (cut at its deadline, an outage) spent its calls all the same: a
        marketplace with an application call budget retries it no sooner than they put it
        off, so that a flood read in polls that fail is not read again at the back-off's
        pace on every seller's budget."""
        shop = shop_of(tenant_id)
        budgeted = await self.budgeted(shop.marketplace)
        last = self.shops.last_poll_calls.get(shop.key)
        if budgeted is None or not last or last <= budgeted.budget.calls_per_poll:
            return 0.0  # a quiet poll's failure: retried at the back-off's pace
        return budgeted.pace.after(last)

    async def _pace_wait(self, marketplace: str, budgeted: BudgetedInterval) -> float:
        """How long the application's day as counted (every instance's polls, kept across
        restarts) puts the marketplace's next polls off; re-read every ``REREAD_SECONDS``."""
        if self.shops.calls is None:
            return 0.0
        day, at = seconds_into_day(self.shops.clock())
        now, kept = time.monotonic(), self.counted.get(marketplace)
        if kept is None or kept[1] != day or now - kept[0] >= REREAD_SECONDS:
            read = partial(self.shops.calls.marketplace_calls, marketplace, day)
            kept = (now, day, await self.day_calls.read((marketplace, day), read))
            self.counted[marketplace] = kept
        return pace_wait(budgeted.budget, kept[2], at)

    async def budgeted(self, marketplace: str, *, fresh: bool = False) -> BudgetedInterval | None:
        """What ``marketplace``'s application call budget gives its shops now; None when it
        declares none (or is not served now)."""
        try:
            api = self.settings.shop_api(marketplace)
        except LookupError:
            return None
        if api.app_calls is None:
            return None
        declared = float(api.poll_interval_seconds)
        return await self.budgets.interval(marketplace, api.app_calls, declared, fresh=fresh)

    async def _allowed_interval(self, tenant_id: str) -> float:
        shop = shop_of(tenant_id)
        if self.shops.calls is None:
            return self.interval_of(tenant_id)
        day, at = seconds_into_day(self.shops.clock())
        try:
            plan = await plan_of(self.shops, shop, day)
        except LookupError:  # its marketplace is not served now
            return self.interval_of(tenant_id)
        if plan is None:
            return self.interval_of(tenant_id)
        known = self.shops.day_calls.get(shop.key)  # as the poll that just ended left it
        spent = known[1] if known and known[0] == day else None
        if spent is None:
            spent = await self.shops.calls.calls_spent(shop, day)
        return plan.interval(at, spent, calls_per_poll(self.shops, shop, day, spent))

    async def succeeded(self, tenant_id: str, fetched: int, interval: float) -> None:
        """The poll's end, with its day's count set right and its marks read recorded in
        the same statement."""
        calls = self.shops.unsettled.pop(tenant_id, [])
        marked = self.shops.unrecorded_marks.pop(tenant_id, [])
        reserve = await self._next_reserved(shop_of(tenant_id))
        await self.shop_schedule.poll_succeeded(
            tenant_id, self.owner, fetched, interval, calls, marked, reserve
        )
        self._expect(tenant_id, interval)

    async def _next_reserved(self, shop: Shop) -> CallsAsked | None:
        """What the shop's next poll reserves of a daily allowance, by the claim that leases
        it: what it would reserve now (a claim comes later, when the day's pace allows
        more), on today's count."""
        try:
            return await calls_asked(self.shops, shop)
        except LookupError:  # its marketplace is not served now
            return None

    async def failed(self, tenant_id: str, reason: str, at_least: float) -> None:
        calls = self.shops.unsettled.pop(tenant_id, [])
        marked = self.shops.unrecorded_marks.pop(tenant_id, [])
        failure = self.timings.failure(reason, at_least)
        await self.shop_schedule.poll_failed(tenant_id, self.owner, failure, calls, marked)
        self._expect(tenant_id, max(at_least, self.timings.retry_cap))

    def _expect(self, tenant_id: str, interval: float) -> None:
        """Notes when the shop is polled again here if this process keeps it; once an
        interval, drops what it keeps of the shops it did not poll by then (disconnected,
        or polled by another instance now: ``ShopPorts.forget``)."""
        now = self.shops.clock()
        self.expected[tenant_id] = now + timedelta(seconds=interval + self.lease)
        if self.next_sweep is not None and now < self.next_sweep:
            return
        self.next_sweep = now + timedelta(seconds=self.interval)
        for key, until in list(self.expected.items()):
            if until < now and key not in self.running:
                del self.expected[key]
                self.shops.forget(key)

    async def poll_one(self, tenant_id: str) -> PollResult:
        shop = shop_of(tenant_id)
        start = self.starts.pop(shop.key, None)
        self._served_or_skip(shop.marketplace)
        try:
            done = await poll_shop(self.shops, shop, start, settles=False)
        except ShopKeyRefused as exc:
            await key_refused(self.connections, shop, remote_excerpt(str(exc), 500))
            raise
        if done.stopped:  # ended cleanly, what it read stored: said, with why
            log.warning(
                "shop poll ended early",
                extra={
                    "tenant_id": shop.tenant_id,
                    "marketplace": shop.marketplace,
                    "calls": done.calls,
                    "why": done.stopped[:5],
                },
            )
        return PollResult(
            tenant_id=tenant_id,
            fetched=done.fetched,
            stored=done.stored,
            duplicates=done.duplicates,
            unparsed=0,
        )

    async def ready(self, tenant_id: str) -> None:
        """Returns once the shop's marketplace allows its next call (``poller/shops/pacing.py``): its
        documented frequency after the end of its last poll (a restart or another instance
        reads it too), whatever made this poll due. A poll claimed a little early waits in
        its slot, before its deadline runs; one claimed earlier is put off to the time
        allowed (``PollPutOff``)."""
        shop = shop_of(tenant_id)
        claimed = self.shop_schedule.claimed_start(shop.key)
        self.starts.pop(shop.key, None)
        try:
            reading = self.shops.reading(shop.marketplace)
        except LookupError:  # not served now: poll_one skips it
            return
        pace = reading.pace
        if pace is None:
            # The claim's read starts the poll, unless its calls are still to be reserved
            # (a daily allowance the claim could not reserve from: the start does).
            if claimed is not None and (reading.allowance is None or claimed.reserved):
                self.starts[shop.key] = claimed
            return
        # The lease is held: the row stays as the claim read it.
        start = claimed or await self.shops.store.started(shop)
        wait = pace.wait(start.seconds_since_poll)
        if pace.waits_in_slot(wait):
            self.starts[shop.key] = start
        if wait <= 0:
            return
        if not pace.waits_in_slot(wait):
            raise PollPutOff(wait)
        await asyncio.sleep(wait)

    def _served_or_skip(self, marketplace: str) -> None:
        """PollSkipped when no connector serves ``marketplace`` now (removed from its
        family's catalogue): its shops stay CONNECTED, unpolled and not failing, said once
        in the log, and are polled again when it is served again."""
        if served(marketplace):
            if marketplace in self.not_served:
                self.not_served.discard(marketplace)
                log.info(
                    "marketplace served again: its shops are polled",
                    extra={"marketplace": marketplace},
                )
            return
        if marketplace not in self.not_served:
            self.not_served.add(marketplace)
            log.warning(
                "marketplace not served: its shops are kept connected and not polled",
                extra={"marketplace": marketplace},
            )
        raise PollSkipped(f"marketplace {marketplace} is not served now")


async def start_shop_polling(
    runtime: PollerRuntime, schedule: ShopSchedule, shops: ShopPorts, connections: ShopPollingPorts
) -> None:
    """``on_startup``: this instance takes its share of the due shops from now on."""
    scheduler = ShopScheduler(runtime, schedule, shops, connections)
    runtime.provide(scheduler)
    scheduler.start()


async def stop_shop_polling(runtime: PollerRuntime) -> None:
    scheduler = runtime.components.pop(ShopScheduler, None)
    if isinstance(scheduler, ShopScheduler):
        await scheduler.stop()


async def poll_due_shops_once(
    runtime: PollerRuntime, schedule: ShopSchedule, shops: ShopPorts, connections: ShopPollingPorts
) -> list[PollResult]:
    """``--once``: every shop due now, polled once (leased ones are left to their holder)."""
    return await poll_all_due(ShopScheduler(runtime, schedule, shops, connections))
