"""Operator metrics of the orders service, on ``/metrics`` next to the frame's.

Defined once per process (prometheus_client's registry) with a ``service`` label,
as the frame's are, so each service's ``/metrics`` shows only its own series.
"""

from __future__ import annotations

import time
from datetime import datetime

from prometheus_client import Counter, Gauge

from keybuzz_orders.backfill.jobs import JobCounts

SERVICE = "orders"

JOBS_RUNNING = Gauge(
    "keybuzz_orders_backfill_jobs_running",
    "Backfill jobs this process is running now.",
    ["service"],
)
JOBS_ENDED = Counter(
    "keybuzz_orders_backfill_jobs",
    "Backfill jobs ended, by outcome (completed, failed, cancelled) and strategy "
    "(SEARCH, REPORT; none when a job ended before its first page).",
    ["service", "outcome", "strategy"],
)
PAGES = Counter(
    "keybuzz_orders_backfill_pages",
    "Backfill steps stored, by source: search (a searchOrders page), report (a batch "
    "of a report document).",
    ["service", "source"],
)
ORDERS_IMPORTED = Counter(
    "keybuzz_orders_backfill_orders",
    "Orders read by backfills, by result: created, updated, unchanged, error.",
    ["service", "result"],
)
RATE_LIMIT_WAITS = Counter(
    "keybuzz_orders_spapi_rate_limit_waits",
    "SP-API calls of backfills and syncs that waited for their token bucket or got a 429.",
    ["service"],
)
SYNC_CURSOR = Gauge(
    "keybuzz_orders_sync_cursor_timestamp_seconds",
    "Per tenant: the source's cursor of the incremental sync (complete up to here). "
    "Lag = time() - this.",
    ["service", "tenant_id"],
)
SYNC_LAG = Gauge(
    "keybuzz_orders_sync_lag_seconds",
    "Per tenant: seconds between now and the source's cursor of the incremental sync.",
    ["service", "tenant_id"],
)


def job_started() -> None:
    JOBS_RUNNING.labels(SERVICE).inc()


def job_stopped() -> None:
    JOBS_RUNNING.labels(SERVICE).dec()


def job_ended(outcome: str, strategy: str | None) -> None:
    JOBS_ENDED.labels(SERVICE, outcome, strategy or "none").inc()


def page_stored(source: str, counts: JobCounts) -> None:
    PAGES.labels(SERVICE, source).inc()
    for result, count in (
        ("created", counts.created),
        ("updated", counts.updated),
        ("unchanged", counts.unchanged),
        ("error", counts.errors),
    ):
        if count:
            ORDERS_IMPORTED.labels(SERVICE, result).inc(count)
    rate_limit_waits(counts.rate_limit_waits)


def rate_limit_waits(waits: int) -> None:
    if waits:
        RATE_LIMIT_WAITS.labels(SERVICE).inc(waits)


def sync_cursor(tenant_id: str, cursor: datetime) -> None:
    """The source's cursor moved: the lag is computed at each scrape, so it grows between rounds."""
    stamp = cursor.timestamp()
    SYNC_CURSOR.labels(SERVICE, tenant_id).set(stamp)
    SYNC_LAG.labels(SERVICE, tenant_id).set_function(lambda: max(time.time() - stamp, 0.0))


def sync_stopped(tenant_id: str) -> None:
    """A stopped sync has no lag to watch: its series go away."""
    for gauge in (SYNC_CURSOR, SYNC_LAG):
        try:
            gauge.remove(SERVICE, tenant_id)
        except KeyError:
            pass
