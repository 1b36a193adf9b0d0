"""Orders v0 as the fallback of a backfill (issue 12, point 3).

The sandbox refuses Orders 2026-01-01 ``searchOrders`` for good (``failStatus`` 403
with a count no test exhausts, only for that operation): the job goes on with
Orders v0 (``getOrders`` + one ``getOrderItems`` per order) and imports the same
orders with the same counts.

The client's buckets pace at Amazon's documented rates; the module's sandbox runs
its clock ``FAST_TIME_SCALE`` times faster (its buckets too), so the test paces
the two v0 operations on the sandbox's clock, as bench/bench_orders.py does.
Otherwise 94 ``getOrderItems`` at 0.5/s after a burst of 30 take two minutes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from keybuzz_connector_amazon.spapi import (
    DEFAULT_RATE_LIMITS,
    RateLimit,
    RateLimiter,
    SpApiClient,
)
from orders_testkit import (
    FAST_TIME_SCALE,
    OrdersKit,
    Sandbox,
    fast_sandbox,
    find_events,
    new_tenant,
)

REFUSED_FOR_GOOD = 1_000_000


@pytest.fixture(scope="module")
async def sandbox_url() -> AsyncIterator[str]:
    """This module's sandbox, its clock ``FAST_TIME_SCALE`` times: the 64 ``getOrderItems``
    past the burst take 2 s of its buckets, not 6."""
    async with fast_sandbox() as url:
        yield url


def _pace_on_the_sandbox_clock(orders: OrdersKit) -> None:
    scale = FAST_TIME_SCALE
    limits = dict(DEFAULT_RATE_LIMITS)
    for operation in ("getOrders", "getOrderItems"):
        documented = DEFAULT_RATE_LIMITS[operation]
        limits[operation] = RateLimit(rate=documented.rate * scale, burst=documented.burst)
    orders.runtime.component(SpApiClient).limiter = RateLimiter(limits)


async def _refuse(sandbox: Sandbox, *operations: str) -> None:
    await sandbox.set_faults(failNext=REFUSED_FOR_GOOD, failStatus=403, operations=list(operations))


async def test_a_refused_search_orders_falls_back_to_orders_v0(
    orders: OrdersKit, sandbox: Sandbox
) -> None:
    _pace_on_the_sandbox_clock(orders)
    await _refuse(sandbox, "searchOrders")
    tenant = new_tenant()
    await orders.connect(tenant)

    job = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"], within=90)

    assert job["status"] == "COMPLETED", job
    assert job["strategy"] == "ORDERS_V0", job
    assert "searchOrders refused (HTTP 403" in job["strategyReason"], job
    assert job["orders"] >= 94  # 94 at start-up; the sped-up sandbox may have added one
    assert job["cancelled"] == 6
    assert job["errors"] == 0
    assert job["created"] == job["orders"]
    assert job["createdBefore"] is not None  # Amazon's cursor (v0's CreatedBefore)
    pool = orders.pool
    counts = await pool.fetchrow(
        "SELECT count(*) AS orders, count(DISTINCT external_order_id) AS distinct_orders,"
        " count(*) FILTER (WHERE order_status = 'CANCELLED') AS cancelled,"
        " count(*) FILTER (WHERE customer_name IS NOT NULL) AS with_buyer,"
        " (SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id"
        "  WHERE o.tenant_id = $1) AS items"
        " FROM orders WHERE tenant_id = $1",
        tenant,
    )
    assert counts["orders"] == counts["distinct_orders"] == job["orders"]
    assert counts["cancelled"] == 6
    assert counts["with_buyer"] == 0  # v0 buyer data needs an RDT: absent, not invented
    assert counts["items"] == job["items"] >= 94  # getOrderItems for every order
    cancelled = await pool.fetch(
        "SELECT o.total_amount, i.quantity, i.unit_price FROM orders o"
        " JOIN order_items i ON i.order_id = o.id"
        " WHERE o.tenant_id = $1 AND o.order_status = 'CANCELLED'",
        tenant,
    )
    assert cancelled and all(r["quantity"] == 0 and r["unit_price"] is None for r in cancelled)
    assert all(r["total_amount"] is None for r in cancelled)
    shipped = await pool.fetchrow(
        "SELECT o.currency, o.total_amount, o.shipping_address->>'countryCode' AS country,"
        " (SELECT sum(i.unit_price * i.quantity) FROM order_items i WHERE i.order_id = o.id)"
        "   AS items_total"
        " FROM orders o WHERE o.tenant_id = $1 AND o.order_status = 'SHIPPED' LIMIT 1",
        tenant,
    )
    assert shipped["currency"] == "EUR" and shipped["total_amount"] >= shipped["items_total"] > 0
    assert shipped["country"] == "FR"
    [event] = await find_events(
        orders.nats_url, "order.backfill.completed", tenant, stream="ORDERS"
    )
    assert event["counts"]["fetched"] == job["orders"] and event["counts"]["errors"] == 0

    # Rerun through v0: every order read again; only what Amazon changed meanwhile is
    # rewritten (the sped-up sandbox moves an order along its lifecycle now and then).
    rows = (
        "SELECT o.id, o.updated_at, o.marketplace_updated_at, o.external_order_id,"
        " array_agg(i.updated_at ORDER BY i.id) AS items"
        " FROM orders o LEFT JOIN order_items i ON i.order_id = o.id"
        " WHERE o.tenant_id = $1 GROUP BY o.id"
    )
    before = {r["id"]: r for r in await pool.fetch(rows, tenant)}
    response = await orders.api("POST", "/backfill", tenant, json={"days": 90})
    assert response.status_code == 202, response.text
    rerun = await orders.finished(tenant, response.json()["jobId"], within=90)
    assert rerun["status"] == "COMPLETED" and rerun["strategy"] == "ORDERS_V0", rerun
    after = {r["id"]: r for r in await pool.fetch(rows, tenant)}
    created = after.keys() - before.keys()
    moved = {
        id_
        for id_ in before.keys() & after.keys()
        if after[id_]["marketplace_updated_at"] != before[id_]["marketplace_updated_at"]
    }
    assert rerun["created"] == len(created) and rerun["updated"] == len(moved), (rerun, moved)
    assert len(created) + len(moved) <= 5, (created, moved)  # a minute of sandbox life
    assert rerun["unchanged"] == rerun["orders"] - len(created) - len(moved) >= 89
    for id_ in before.keys() - moved:
        assert after[id_] == before[id_], after[id_]["external_order_id"]


async def test_orders_v0_refused_too_fails_the_job_with_the_reason(
    orders: OrdersKit, sandbox: Sandbox
) -> None:
    await _refuse(sandbox, "searchOrders", "getOrders")
    tenant = new_tenant()
    await orders.connect(tenant)

    job = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"])

    assert job["status"] == "FAILED", job
    assert job["strategy"] == "ORDERS_V0"
    assert "getOrders" in job["reason"] and "403" in job["reason"], job
    assert (
        await orders.pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant) == 0
    )
    [event] = await find_events(orders.nats_url, "order.backfill.failed", tenant, stream="ORDERS")
    assert "getOrders" in event["reason"]
