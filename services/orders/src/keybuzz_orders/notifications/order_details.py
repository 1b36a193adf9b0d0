"""What a notification's summary lacks, completed by getOrder at getOrder's rate.

A notification makes an order visible at once with its status; its items' ASIN,
title and price, the totals, the buyer and the packages come from getOrder
(Orders 2026-01-01, 0.5/s and a burst of 30 per seller: the SP-API client's token
bucket keeps to it). Fetches are rows of ``order_detail_fetches``: several changes of
one order cost one call, and a burst of 10,000 changes is applied at the queue's pace
while the details follow at the source's. Leased rows survive a crash (another instance
takes them once the lease expires).
"""

from __future__ import annotations

import asyncio
import logging

from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.backoff import backoff_delay

from keybuzz_orders.notifications import notification_metrics as metrics
from keybuzz_orders.order_source import SourceRefused, SourceUnavailable
from keybuzz_orders.ports import DetailFetch, DetailPorts

log = logging.getLogger(__name__)

CLAIM = 20  # fetches leased at a time by one instance
CONCURRENCY = 4  # getOrder calls in flight (the per-seller buckets pace each seller)
LEASE_SECONDS = 120.0
IDLE_SECONDS = 0.5


class OrderDetails(BackgroundLoop):
    name = "order-details"

    def __init__(self, ports: DetailPorts) -> None:
        self.ports = ports
        self._gate = asyncio.Semaphore(CONCURRENCY)

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                claimed = await self._claim()
                failures = 0
            except Exception as exc:  # the database is down: wait and try again
                failures += 1
                log.warning("order detail claim failed", extra={"error": type(exc).__name__})
                await asyncio.sleep(backoff_delay(failures, base=0.5, cap=10.0))
                continue
            if not claimed:
                await asyncio.sleep(IDLE_SECONDS)
                continue
            await asyncio.gather(*(self._fetch(f) for f in claimed))

    async def fetch_due(self) -> int:
        """One round: the due fetches claimed and fetched side by side; how many."""
        claimed = await self._claim()
        await asyncio.gather(*(self._fetch(f) for f in claimed))
        return len(claimed)

    async def _claim(self) -> list[DetailFetch]:
        claimed = await self.ports.fetches.claim_detail_fetches(CLAIM, LEASE_SECONDS)
        metrics.details_pending(await self.ports.fetches.pending_detail_fetches())
        return claimed

    async def _fetch(self, fetch: DetailFetch) -> None:
        async with self._gate:
            try:
                order = await self.ports.source.order(fetch.tenant_id, fetch.order_id)
            except SourceRefused as exc:
                # Not this seller's order, or no credentials: the source will not say more.
                log.warning(
                    "order details not fetched: %s",
                    exc,
                    extra={"tenant_id": fetch.tenant_id, "order_id": fetch.order_id},
                )
                await self.ports.fetches.detail_fetched(fetch)
                return
            except SourceUnavailable:  # the source is down: the lease expires, someone retries
                return
            except Exception as exc:
                log.warning("order details failed", extra={"error": type(exc).__name__})
                return
            async with self.ports.units() as unit:
                await unit.store.upsert_orders(fetch.tenant_id, fetch.marketplace, [order])
                await unit.store.detail_fetched(fetch)
            metrics.details_fetched()
