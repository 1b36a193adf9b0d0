"""What a notification's summary lacks, completed by getOrder at getOrder's rate.

A notification makes an order visible at once with its status; its items' ASIN,
title and price, the totals, the buyer and the packages come from getOrder
(Orders 2026-01-01, 0.5/s and a burst of 30 per seller: the SP-API client's token
bucket keeps to it). Fetches are rows of ``order_detail_fetches``: several changes of
one order cost one call, and a burst of 10,000 changes is applied at the queue's pace
while the details follow at Amazon's. Leased rows survive a crash (another instance
takes them once the lease expires).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from keybuzz_shared.amazon import AmazonAuthError, SpApiClient, SpApiError
from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.backoff import backoff_delay
from keybuzz_shared.errors import is_outage
from keybuzz_shared.service import Runtime

from keybuzz_orders import store
from keybuzz_orders.domain import order_row
from keybuzz_orders.notifications import notification_metrics as metrics
from keybuzz_orders.notifications import notification_store as nstore

log = logging.getLogger(__name__)

CLAIM = 20  # fetches leased at a time by one instance
CONCURRENCY = 4  # getOrder calls in flight (the per-seller buckets pace each seller)
LEASE_SECONDS = 120.0
IDLE_SECONDS = 0.5


class OrderDetails(BackgroundLoop):
    name = "order-details"

    def __init__(self, runtime: Runtime[Any], spapi: SpApiClient) -> None:
        self.runtime = runtime
        self.spapi = spapi
        self._gate = asyncio.Semaphore(CONCURRENCY)

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                fetches = await nstore.claim_detail_fetches(self.runtime.pool, CLAIM, LEASE_SECONDS)
                metrics.details_pending(await nstore.pending_detail_fetches(self.runtime.pool))
                failures = 0
            except Exception as exc:  # the database is down: wait and try again
                failures += 1
                log.warning("order detail claim failed", extra={"error": type(exc).__name__})
                await asyncio.sleep(backoff_delay(failures, base=0.5, cap=10.0))
                continue
            if not fetches:
                await asyncio.sleep(IDLE_SECONDS)
                continue
            await asyncio.gather(*(self._fetch(f) for f in fetches))

    async def _fetch(self, fetch: asyncpg.Record) -> None:
        async with self._gate:
            tenant_id, order_id = fetch["tenant_id"], fetch["external_order_id"]
            try:
                order = await self.spapi.get_order(tenant_id, order_id)
            except (AmazonAuthError, SpApiError) as exc:
                if is_outage(exc):  # Amazon is down: the lease expires, someone retries
                    return
                # Not this seller's order, or no credentials: getOrder will not say more.
                log.warning(
                    "order details not fetched: %s",
                    exc,
                    extra={"tenant_id": tenant_id, "order_id": order_id},
                )
                await nstore.detail_fetched(self.runtime.pool, fetch)
                return
            except Exception as exc:
                log.warning("order details failed", extra={"error": type(exc).__name__})
                return
            async with self.runtime.unit_of_work() as uow:
                await store.upsert_orders(
                    uow.conn, tenant_id, fetch["marketplace"], [order_row(order)]
                )
                await nstore.detail_fetched(uow.conn, fetch)
            metrics.details_fetched()
