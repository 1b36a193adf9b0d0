"""Incremental sync: every ORDERS_SYNC_INTERVAL_SECONDS, what changed since Amazon's cursor.

A tenant takes part once a backfill completed (its ``createdBefore`` starts the
cursor). A round asks ``searchOrders`` for ``lastUpdatedAfter`` = the cursor, upserts
every page (idempotent, so a round cut short is simply read again) and then moves
the cursor to the answer's ``lastUpdatedBefore``: what Amazon says it has shown,
never our clock (an order changed within the listing lag shows up next round).
One call per tenant and round in the usual case, well within searchOrders'
0.0056/s once the burst is spent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
from keybuzz_shared.amazon import AmazonAuthError, SearchOrdersQuery, SpApiClient, SpApiError
from keybuzz_shared.amazon.times import amazon_time
from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.errors import is_outage
from keybuzz_shared.service import Runtime

from keybuzz_orders import store
from keybuzz_orders.backfill import metrics
from keybuzz_orders.backfill.jobs import JobCounts
from keybuzz_orders.domain import order_row

log = logging.getLogger(__name__)

TICK_SECONDS = 5.0  # how often due cursors are looked for (the interval itself is a setting)


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

    def __init__(self, runtime: Runtime[Any], spapi: SpApiClient) -> None:
        self.runtime = runtime
        self.spapi = spapi

    @property
    def interval(self) -> float:
        return float(self.runtime.settings.orders_sync_interval_seconds)

    async def run(self) -> None:
        while True:
            try:
                for cursor in await store.claim_due_syncs(self.runtime.pool, self.interval):
                    await self._round(cursor)
            except Exception as exc:  # the database is down: next tick
                log.warning("order sync round failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(min(TICK_SECONDS, self.interval))

    async def sync_now(self, tenant_id: str) -> SyncResult:
        """An operator's (or a test's) round for one tenant, outside the schedule."""
        claimed = await store.claim_due_syncs(self.runtime.pool, self.interval, tenant_id)
        if not claimed:
            raise NoSyncCursor(tenant_id)
        return await self._round(claimed[0])

    async def stop(self, tenant_id: str, reason: str) -> None:
        """The connection went away: no more rounds for the tenant until its next backfill."""
        await store.stop_sync(self.runtime.pool, tenant_id, reason)
        metrics.sync_stopped(tenant_id)

    async def _round(self, cursor: asyncpg.Record) -> SyncResult:
        tenant_id, marketplace = cursor["tenant_id"], cursor["marketplace"]
        try:
            return await self._read(cursor)
        except (AmazonAuthError, SpApiError) as exc:
            # Revoked or missing credentials stop the sync until the next connection;
            # an outage only waits for the next round.
            stop = not is_outage(exc)
            await store.note_sync_error(
                self.runtime.pool, tenant_id, marketplace, str(exc)[:500], stop=stop
            )
            if stop:
                metrics.sync_stopped(tenant_id)
            log.warning("order sync failed", extra={"tenant_id": tenant_id, "stopped": stop})
            return SyncResult(tenant_id=tenant_id, errors=1)

    async def _read(self, cursor: asyncpg.Record) -> SyncResult:
        tenant_id, marketplace = cursor["tenant_id"], cursor["marketplace"]
        query = SearchOrdersQuery(
            marketplace_ids=[cursor["marketplace_id"]],
            last_updated_after=amazon_time(cursor["last_updated_before"]),
            max_results_per_page=self.runtime.settings.backfill_page_size,
        )
        counts, last_updated_before = JobCounts(), None
        while True:
            page = await self.spapi.search_orders(tenant_id, query)
            orders, bad = page.decode_orders()
            rows = [order_row(o) for o in orders]
            async with self.runtime.unit_of_work() as uow:
                stored = await store.upsert_orders(uow.conn, tenant_id, marketplace, rows)
            waits = page.rate_limit_waits
            counts += stored.but(pages=1, errors=len(bad), rate_limit_waits=waits)
            metrics.rate_limit_waits(waits)
            last_updated_before = page.last_updated_before or last_updated_before
            if page.next_token is None:
                break
            query = dataclasses.replace(query, pagination_token=page.next_token)
        result = SyncResult(
            tenant_id=tenant_id,
            last_updated_before=last_updated_before,
            **msgspec.structs.asdict(counts),
        )
        if result.last_updated_before is not None:
            await store.advance_sync_cursor(
                self.runtime.pool,
                tenant_id,
                marketplace,
                cursor["last_updated_before"],
                result.last_updated_before,
                result.orders,
            )
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
