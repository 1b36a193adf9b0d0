"""The report strategy (issue 12, point 3) against the sandbox's order reports.

The seeded FR seller (94 orders in 90 days) becomes a "large" seller by setting:
pages of 20 and a threshold of 50 orders, so its first page predicts ~94 orders and
the job switches to three 30-day order reports plus a searchOrders tail. The
sandbox serves the reports as Amazon does: gzipped (documents over 4 KiB; here
with and without ``compressionAlgorithm``), Windows-1252, extra columns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from keybuzz_orders.service import DEFINITION as ORDERS
from orders_testkit import (
    OrdersKit,
    Sandbox,
    eventually,
    fast_sandbox,
    find_events,
    new_tenant,
)

LARGE = {
    "BACKFILL_PAGE_SIZE": "20",
    "BACKFILL_REPORT_THRESHOLD": "50",
    "BACKFILL_REPORT_POLL_SECONDS": "0.2",
}


@pytest.fixture(scope="module")
async def sandbox_url() -> AsyncIterator[str]:
    """This module's sandbox, its clock ``FAST_TIME_SCALE`` times: a report is done 1.5 s
    after it is asked for."""
    async with fast_sandbox() as url:
        yield url


async def _report_failures(sandbox: Sandbox, **failures: int) -> None:
    response = await sandbox.http.put("/_sandbox/reports/failures", json=failures)
    assert response.status_code == 200, response.text


async def _counts(pool: Any, tenant: str) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT count(*) AS orders, count(DISTINCT external_order_id) AS distinct_orders,"
        " count(*) FILTER (WHERE order_status = 'CANCELLED') AS cancelled,"
        " count(*) FILTER (WHERE source = 'REPORT') AS from_report,"
        " (SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id"
        "  WHERE o.tenant_id = $1) AS items"
        " FROM orders WHERE tenant_id = $1",
        tenant,
    )


async def test_a_large_seller_is_backfilled_by_report(
    make_orders: Callable[..., Awaitable[OrdersKit]], sandbox: Sandbox
) -> None:
    orders = await make_orders(**LARGE)
    tenant = new_tenant()
    await orders.connect(tenant)

    job = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"], within=60)

    assert job["status"] == "COMPLETED", job
    assert job["strategy"] == "REPORT" and "> 50" in job["strategyReason"], job
    assert [w["state"] for w in job["reportWindows"]] == ["DONE"] * 3, job["reportWindows"]
    assert all(w["reportId"] for w in job["reportWindows"])
    assert job["errors"] == 0
    counts = await _counts(orders.pool, tenant)
    assert counts["orders"] == counts["distinct_orders"] == job["created"] >= 94
    assert counts["cancelled"] == 6
    assert counts["from_report"] > 0  # the old orders came from the reports
    # The tail (last 24 h + 1 h of overlap) came from searchOrders: full data.
    assert job["createdBefore"] is not None  # Amazon's cursor, handed to the sync
    cursor = await orders.pool.fetchval(
        "SELECT last_updated_before FROM order_sync_cursors WHERE tenant_id = $1", tenant
    )
    assert cursor is not None
    # Report rows: items keyed by their line, prices exact, no buyer data invented.
    row = await orders.pool.fetchrow(
        "SELECT o.customer_name, o.total_amount, o.currency, o.shipping_address::text AS a,"
        " (SELECT sum(i.unit_price * i.quantity) FROM order_items i WHERE i.order_id = o.id)"
        "   AS items_total"
        " FROM orders o WHERE o.tenant_id = $1 AND o.source = 'REPORT'"
        "   AND o.order_status = 'SHIPPED' LIMIT 1",
        tenant,
    )
    assert row["customer_name"] is None and row["currency"] == "EUR"
    assert row["total_amount"] >= row["items_total"] > 0
    assert '"countryCode"' in row["a"]
    completed = await find_events(
        orders.nats_url, "order.backfill.completed", tenant, stream="ORDERS"
    )
    assert completed[0]["counts"]["errors"] == 0


async def test_non_ascii_names_survive_the_cp1252_report(
    make_orders: Callable[..., Awaitable[OrdersKit]], sandbox: Sandbox
) -> None:
    orders = await make_orders(**LARGE)
    tenant = new_tenant()
    await orders.connect(tenant)
    job = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"], within=60)
    assert job["status"] == "COMPLETED", job

    # Titles read from the Windows-1252 file equal what searchOrders (JSON, UTF-8)
    # returns for the same products: read both ways, compare by SKU.
    report_titles = dict(
        await orders.pool.fetch(
            "SELECT DISTINCT i.sku, i.title FROM order_items i JOIN orders o ON o.id = i.order_id"
            " WHERE o.tenant_id = $1 AND o.source = 'REPORT'",
            tenant,
        )
    )
    api_titles = dict(
        await orders.pool.fetch(
            "SELECT DISTINCT i.sku, i.title FROM order_items i JOIN orders o ON o.id = i.order_id"
            " WHERE o.tenant_id = $1 AND o.source = 'API'",
            tenant,
        )
    )
    shared = set(report_titles) & set(api_titles)
    accented = [sku for sku in shared if any(ord(c) > 127 for c in api_titles[sku])]
    assert accented, f"no non-ASCII title among {sorted(api_titles.values())[:5]}"
    for sku in shared:
        assert report_titles[sku] == api_titles[sku]
    assert not any("\ufffd" in (t or "") for t in report_titles.values())


@pytest.mark.parametrize("ending", ["fatalNext", "cancelNext"])
async def test_a_failed_report_falls_back_to_search_orders(
    make_orders: Callable[..., Awaitable[OrdersKit]], sandbox: Sandbox, ending: str
) -> None:
    await _report_failures(sandbox, **{ending: 1})  # the first window's report fails
    orders = await make_orders(**LARGE)
    tenant = new_tenant()
    try:
        await orders.connect(tenant)
        job = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"], within=60)
    finally:
        await _report_failures(sandbox)

    assert job["status"] == "COMPLETED", job
    windows = job["reportWindows"]
    assert windows[0]["note"] in ("report FATAL", "report CANCELLED"), windows
    assert all(w["state"] == "DONE" for w in windows)
    assert job["errors"] == 0
    counts = await _counts(orders.pool, tenant)
    assert counts["orders"] == job["created"] >= 94 and counts["cancelled"] == 6


async def test_a_report_stuck_in_progress_falls_back_at_its_deadline(
    make_orders: Callable[..., Awaitable[OrdersKit]], sandbox: Sandbox
) -> None:
    # The first window's report never finishes; the others take 90 Amazon seconds
    # (1.5 s at this module's time scale), well within the 4 s deadline.
    await _report_failures(sandbox, stallNext=1)
    orders = await make_orders(**LARGE, BACKFILL_REPORT_DEADLINE_SECONDS="4")
    tenant = new_tenant()
    try:
        await orders.connect(tenant)
        job = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"], within=60)
    finally:
        await _report_failures(sandbox)

    assert job["status"] == "COMPLETED", job
    windows = job["reportWindows"]
    assert windows[0]["note"] == "report still IN_PROGRESS after 4 s", windows
    assert [w["note"] for w in windows[1:]] == [None, None], windows  # theirs were DONE
    assert all(w["state"] == "DONE" for w in windows)
    assert job["errors"] == 0
    counts = await _counts(orders.pool, tenant)
    assert counts["orders"] == counts["distinct_orders"] == job["created"] >= 94
    assert counts["cancelled"] == 6


async def test_a_crash_mid_report_resumes_without_duplicates_or_gaps(
    make_orders: Callable[..., Awaitable[OrdersKit]],
    start_service: Callable[..., Awaitable[Any]],
    sandbox: Sandbox,
) -> None:
    # The first window's report stays IN_PROGRESS until its deadline: the stop below falls
    # while the job runs, however fast the other windows' reports are done.
    await _report_failures(sandbox, stallNext=1)
    try:
        orders = await make_orders(**LARGE, BACKFILL_REPORT_DEADLINE_SECONDS="8")
        tenant = new_tenant()
        await orders.connect(tenant)
        job_id = (await orders.job_of(tenant))["jobId"]

        async def one_window_done() -> bool:
            windows = (await orders.job(tenant, job_id))["reportWindows"] or []
            return any(w["state"] == "DONE" for w in windows)

        await eventually(one_window_done)
        await orders.service.stop()  # a deploy while the other reports are pending
    finally:
        await _report_failures(sandbox)
    db = await asyncpg.connect(orders.env["DATABASE_URL"])
    try:
        stopped = await db.fetchrow(
            "SELECT status, phase, report_windows::text AS w FROM order_backfill_jobs"
            " WHERE id = $1::uuid",
            job_id,
        )
    finally:
        await db.close()
    assert stopped["status"] == "RUNNING", stopped

    again = await start_service(ORDERS, **orders.env)
    resumed = OrdersKit(orders.oauth, again, orders.nats_url, orders.env)
    job = await resumed.finished(tenant, job_id, within=60)

    assert job["status"] == "COMPLETED", job
    counts = await _counts(resumed.pool, tenant)
    assert counts["orders"] == counts["distinct_orders"] == job["created"] >= 94
    assert counts["cancelled"] == 6 and job["errors"] == 0
    # Each window imported once: what the windows say they stored adds up to the
    # orders the reports hold, however the stop fell.
    imported = sum(w["imported"] for w in job["reportWindows"])
    report_rows = await resumed.pool.fetchval(
        "SELECT count(*) FROM orders WHERE tenant_id = $1 AND source = 'REPORT'", tenant
    )
    assert imported >= report_rows > 0
