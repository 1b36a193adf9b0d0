"""Incremental sync: every ORDERS_SYNC_INTERVAL_SECONDS, what changed since the source's cursor.

A tenant takes part once a backfill completed (its ``createdBefore`` starts the
cursor). A round asks ``searchOrders`` for ``lastUpdatedAfter`` = the cursor, upserts
every page (idempotent, so a round cut short is simply read again) and then moves
the cursor to the answer's ``lastUpdatedBefore``: what the source says it has shown,
never our clock (an order changed within the listing lag shows up next round).
One call per tenant and round in the usual case, well within searchOrders'
0.0056/s once the burst is spent.

A marketplace whose order API limits the application's calls a day, every shop's together
(its connector's ``order_calls``), has its shops' rounds spaced by
their number, so that all of them spend at most the budget's share (docs/ORDERS.md,
"Application call budget").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime

import msgspec
from keybuzz_shared.app_budgets import AppBudgets, BudgetedInterval, BudgetGauges
from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.connectors.registry import served
from keybuzz_shared.errors import is_outage
from keybuzz_shared.redaction import remote_excerpt, secret_scope
from keybuzz_shared.spent_calls import counted

from keybuzz_orders.backfill import metrics
from keybuzz_orders.backfill.jobs import JobCounts
from keybuzz_orders.order_source import NotConnected, OrderWindow, SourceError, source_for
from keybuzz_orders.ports import SyncCursor, SyncPorts

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0  # how often due cursors are looked for (the interval itself is a setting)
BUDGET_GAUGES = BudgetGauges.named(
    "keybuzz_orders_app_budget_interval_seconds",
    "keybuzz_orders_app_budget_shops",
    rounds="a shop's order syncs",
)


class NoSyncCursor(LookupError):
    def __init__(self, tenant_id: str) -> None:
        super().__init__(
            f"tenant {tenant_id} has no active order sync (no completed backfill, "
            "disconnected, or a backfill is running)"
        )


class SyncResult(JobCounts, kw_only=True, rename="camel"):
    """A round's counts (a job's counters), and where it left the cursor."""

    tenant_id: str
    last_updated_before: datetime | None = None  # the cursor after this round


class OrderSync(BackgroundLoop):
    name = "orders-sync"

    def __init__(self, ports: SyncPorts) -> None:
        self.ports = ports
        self.not_served: set[str] = set()  # marketplaces whose rounds are skipped
        # Counted only for a marketplace whose order API has an application call budget.
        self.app_budgets = AppBudgets(ports.orders.syncing_shops, BUDGET_GAUGES)

    @property
    def interval(self) -> float:
        return self.ports.interval_seconds

    async def budgeted(self, *, fresh: bool = False) -> list[BudgetedInterval]:
        """What each budgeted marketplace's application call budget gives its shops' syncs
        now: ``ORDERS_SYNC_INTERVAL_SECONDS``, or longer where that many shops' rounds would
        spend more than their share (``keybuzz_shared.app_budgets``)."""
        budgets = self.ports.budgets()
        return [
            await self.app_budgets.interval(m, budgets[m], self.interval, fresh=fresh)
            for m in sorted(budgets)
        ]

    async def run(self) -> None:
        while True:
            try:
                await self.sync_due()
            except Exception as exc:  # the database is down: next tick
                log.warning("order sync round failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(min(TICK_SECONDS, self.interval))

    async def sync_due(self) -> list[SyncResult]:
        """A round for each tenant whose cursor is due."""
        budgeted = await self.budgeted()
        paces = {b.marketplace: b.pace for b in budgeted}
        due = await self.ports.orders.claim_due_syncs(self.interval, paces=paces)
        return [await self._round(cursor) for cursor in due]

    async def sync_now(self, tenant_id: str) -> SyncResult:
        """An operator's (or a test's) round for one tenant, outside the schedule."""
        claimed = await self.ports.orders.claim_due_syncs(self.interval, tenant_id)
        if not claimed:
            raise NoSyncCursor(tenant_id)
        return await self._round(claimed[0])

    async def stop(self, tenant_id: str, reason: str, marketplace: str | None = None) -> None:
        """The connection went away: no more rounds for the tenant (on that marketplace)
        until its next backfill."""
        await self.ports.orders.stop_sync(tenant_id, reason, marketplace)
        metrics.sync_stopped(tenant_id)

    async def forget_received(self, tenant_id: str, marketplace: str) -> int:
        """The connection was never the tenant's (ended as a takeover): the orders it brought
        go. A tenant has one connection per marketplace, so they are its orders there."""
        deleted = await self.ports.orders.purge_received(tenant_id, marketplace)
        log.warning(
            "orders received in error deleted",
            extra={"tenant_id": tenant_id, "marketplace": marketplace, "orders": deleted},
        )
        return deleted

    async def _round(self, cursor: SyncCursor) -> SyncResult:
        # The shop's credentials, read for the round, are masked in any form in its logs
        # and in the error it records.
        with secret_scope():
            return await self._round_in_scope(cursor)

    async def _round_in_scope(self, cursor: SyncCursor) -> SyncResult:
        tenant_id = cursor.tenant_id
        if not self._served(cursor.marketplace):
            return SyncResult(tenant_id=tenant_id)
        # What the round spent, counted where every call passes (each attempt), not what a
        # round is declared to cost: the shop's next round is put off by it.
        with counted() as spent:
            try:
                return await self._read_or_fail(cursor)
            finally:
                await self._charged(cursor, spent.made)

    async def _charged(self, cursor: SyncCursor, calls: int) -> None:
        try:
            await self.ports.orders.note_round_calls(cursor.tenant_id, cursor.marketplace, calls)
        except Exception:  # the round's work is stored: a count lost costs one round's calls
            log.warning(
                "a sync round's calls could not be counted",
                extra={"tenant_id": cursor.tenant_id, "calls": calls},
                exc_info=True,
            )

    async def _read_or_fail(self, cursor: SyncCursor) -> SyncResult:
        tenant_id = cursor.tenant_id
        try:
            return await self._read(cursor)
        except SourceError as exc:
            # Revoked or missing credentials stop the sync until the next connection;
            # an outage only waits for the next round.
            stop = not is_outage(exc)
            await self.ports.orders.note_sync_error(
                tenant_id, cursor.marketplace, remote_excerpt(str(exc), 500), stop=stop
            )
            if stop:
                metrics.sync_stopped(tenant_id)
            if isinstance(exc, NotConnected):
                await exc.report()
            log.warning("order sync failed", extra={"tenant_id": tenant_id, "stopped": stop})
            return SyncResult(tenant_id=tenant_id, errors=1)

    def _served(self, marketplace: str) -> bool:
        """A marketplace no connector serves now (removed from its family's catalogue) is
        skipped, its cursor kept ACTIVE where it was, said once in the log: its rounds go on
        from there when it is served again."""
        if served(marketplace):
            if marketplace in self.not_served:
                self.not_served.discard(marketplace)
                log.info(
                    "marketplace served again: its orders sync", extra={"marketplace": marketplace}
                )
            return True
        if marketplace not in self.not_served:
            self.not_served.add(marketplace)
            log.warning(
                "marketplace not served: its order syncs are kept and skipped",
                extra={"marketplace": marketplace},
            )
        return False

    async def _read(self, cursor: SyncCursor) -> SyncResult:
        tenant_id, marketplace = cursor.tenant_id, cursor.marketplace
        window = OrderWindow(
            marketplace_id=cursor.marketplace_id,
            updated_after=cursor.updated_before,
            page_size=self.ports.page_size,
        )
        counts, updated_before = JobCounts(), None
        source = source_for(self.ports.source, self.ports.sources, marketplace)
        while True:
            page = await source.orders_in_window(tenant_id, window)
            async with self.ports.units() as unit:
                stored = await unit.store.upsert_orders(tenant_id, marketplace, page.orders)
            waits = page.rate_limit_waits
            counts += stored.but(pages=1, errors=len(page.unreadable), rate_limit_waits=waits)
            metrics.rate_limit_waits(waits)
            updated_before = page.updated_before or updated_before
            if page.next_token is None:
                break
            window = dataclasses.replace(window, page_token=page.next_token)
        result = SyncResult(
            tenant_id=tenant_id,
            last_updated_before=updated_before,
            **msgspec.structs.asdict(counts),
        )
        if result.last_updated_before is not None:
            await self.ports.orders.advance_sync(cursor, result.last_updated_before, result.orders)
            metrics.sync_cursor(tenant_id, result.last_updated_before)
        log.info(
            "orders synced",
            extra={
                "tenant_id": tenant_id,
                "orders": result.orders,
                "orders_created": result.created,
                "orders_updated": result.updated,
            },
        )
        return result
