"""Backfills under Amazon's failures: throttling, 5xx, a stop mid-way, revocation, disconnect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from keybuzz_devstack.oauth_testing import OauthKit, read_secret, revoke_in_sandbox, tenant_path
from keybuzz_orders.service import DEFINITION as ORDERS
from orders_testkit import (
    OrdersKit,
    Sandbox,
    eventually,
    find_events,
    new_tenant,
)


@pytest.mark.parametrize(("status", "count"), [(429, 3), (500, 2), (503, 2)])
async def test_throttling_and_server_errors_are_retried_without_loss(
    make_orders: Callable[..., Awaitable[OrdersKit]], sandbox: Sandbox, status: int, count: int
) -> None:
    # Pages of 20: five calls, each with a paginationToken holding + / = (URL-encoded).
    orders = await make_orders(BACKFILL_PAGE_SIZE="20")
    tenant = new_tenant()
    await sandbox.fail_next(count, status, "searchOrders")
    await orders.connect(tenant)

    job = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"])

    assert await sandbox.faults_left() == 0  # every injected failure was met and retried
    assert job["status"] == "COMPLETED", job
    assert job["errors"] == 0 and job["cancelled"] == 6
    assert job["pages"] == -(-job["orders"] // 20)  # each page read once
    assert job["orders"] >= 94
    if status == 429:
        assert job["rateLimitWaits"] >= count
    rows = await orders.pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant)
    assert rows == job["orders"]


async def test_a_backfill_stopped_mid_way_resumes_from_its_checkpoint(
    make_orders: Callable[..., Awaitable[OrdersKit]],
    start_service: Callable[..., Awaitable[Any]],
    sandbox: Sandbox,
) -> None:
    orders = await make_orders(BACKFILL_PAGE_SIZE="10")
    await sandbox.set_faults(latencyMs=300, operations=["searchOrders"])  # ~10 slow pages
    tenant = new_tenant()
    await orders.connect(tenant)
    job_id = (await orders.job_of(tenant))["jobId"]

    async def some_pages_done() -> bool:
        return (await orders.job(tenant, job_id))["pages"] >= 3

    await eventually(some_pages_done)
    await orders.service.stop()  # a deploy, mid-backfill
    db = await asyncpg.connect(orders.env["DATABASE_URL"])
    try:
        stopped = await db.fetchrow(
            "SELECT status, owner, pagination_token, pages FROM order_backfill_jobs"
            " WHERE id = $1::uuid",
            job_id,
        )
        imported = await db.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant)
    finally:
        await db.close()
    # Still running, handed over at the stop, with where to go on.
    assert stopped["status"] == "RUNNING" and stopped["owner"] is None
    assert stopped["pagination_token"] and 3 <= stopped["pages"] < 10
    assert imported == 10 * stopped["pages"]  # the checkpoint committed with its page
    await sandbox.set_faults(latencyMs=0)

    again = await start_service(ORDERS, **orders.env)  # same database, a new process
    resumed = OrdersKit(orders.oauth, again, orders.nats_url, orders.env)
    job = await resumed.finished(tenant, job_id)

    assert job["status"] == "COMPLETED", job
    assert job["pages"] == -(-job["orders"] // 10)  # no page read twice, none skipped
    assert job["created"] == job["orders"] and job["unchanged"] == 0
    assert job["errors"] == 0 and job["cancelled"] == 6
    rows = await resumed.pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant)
    assert rows == job["orders"]
    distinct = await resumed.pool.fetchval(
        "SELECT count(DISTINCT external_order_id) FROM orders WHERE tenant_id = $1", tenant
    )
    assert distinct == rows


async def test_a_revoked_refresh_token_fails_the_job_and_asks_for_reauthorization(
    orders_oauth: OauthKit,
    start_service: Callable[..., Awaitable[Any]],
    orders_nats: str,
    sandbox_url: str,
    sandbox: Sandbox,
    stack: Any,
) -> None:
    oauth = orders_oauth
    tenant = new_tenant()
    answer = await oauth.connect(tenant)
    assert answer.status_code == 303, answer.text
    credentials = read_secret(stack, tenant_path(tenant))
    assert credentials is not None
    await revoke_in_sandbox(sandbox_url, credentials["refresh_token"])  # the seller removed us

    env = {
        "NATS_URL": orders_nats,
        "LWA_ENDPOINT": f"{sandbox_url}/auth/o2/token",
        "SPAPI_ENDPOINT": sandbox_url,
        "AMAZON_APP_SOURCE": oauth.app_source,
    }
    service = await start_service(ORDERS, **env)  # takes the pending connection.connected
    orders = OrdersKit(oauth, service, orders_nats, env)
    job = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"])

    assert job["status"] == "FAILED", job
    assert "refresh token" in job["reason"] and "authorize" in job["reason"]
    assert "Atzr|" not in job["reason"]
    [failed] = await find_events(orders_nats, "order.backfill.failed", tenant, stream="ORDERS")
    assert failed["jobId"] == job["jobId"] and failed["reason"] == job["reason"]
    [reauth] = await find_events(
        orders_nats, "connection.reauth_required", tenant, stream="CONNECTIONS"
    )
    assert reauth["sellerId"] == credentials["seller_id"]

    async def marked() -> bool:  # oauth, the owner of the connection, took note
        return (await oauth.status(tenant))["status"] == "REAUTH_REQUIRED"

    await eventually(marked)


async def test_disconnecting_cancels_the_running_backfill(
    make_orders: Callable[..., Awaitable[OrdersKit]], sandbox: Sandbox
) -> None:
    orders = await make_orders(BACKFILL_PAGE_SIZE="10")
    await sandbox.set_faults(latencyMs=400, operations=["searchOrders"])
    tenant = new_tenant()
    await orders.connect(tenant)
    job_id = (await orders.job_of(tenant))["jobId"]

    response = await orders.oauth.api("DELETE", "/connection", tenant)
    assert response.status_code == 200, response.text
    job = await orders.finished(tenant, job_id)

    assert job["status"] == "CANCELLED", job
    assert "connection.disconnected" in job["reason"]
    assert job["pages"] < 10
    [failed] = await find_events(orders.nats_url, "order.backfill.failed", tenant, stream="ORDERS")
    assert failed["jobId"] == job_id
    pages = job["pages"]
    await sandbox.set_faults(latencyMs=0)
    again = await orders.job(tenant, job_id)
    assert again["status"] == "CANCELLED" and again["pages"] == pages  # nothing ran on
