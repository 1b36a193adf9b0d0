"""Rakuten orders end to end: connection.connected (RAKUTEN) → the orders service's
backfill of the seller's 90 days of sales over the connector seam on the sandbox's Rakuten
double (getcurrentsales, page after page), the sales served over HTTP with their items'
states mapped, a sale older than 90 days left out. Real PostgreSQL, NATS, OpenBao; the
double over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from keybuzz_devstack import infra
from keybuzz_devstack.shop_orders_testing import (
    connect_shop,
    finished_backfill,
    orders_api,
    start_orders_alone,
)
from keybuzz_devstack.testing import Infra, RunningService
from keybuzz_double_rakuten import service_env
from keybuzz_orders.service import DEFINITION as ORDERS

StartService = Callable[..., Awaitable[RunningService]]


@pytest.fixture
async def orders(
    start_service: StartService, sandbox_url: str, private_nats: infra.RunningServer
) -> RunningService:
    return await start_orders_alone(start_service, ORDERS, private_nats, **service_env(sandbox_url))


async def test_a_rakuten_seller_is_backfilled_and_its_sales_served(
    orders: RunningService, admin: httpx.AsyncClient, stack: Infra
) -> None:
    [*_, shop] = (await admin.get("/rakuten/shops")).json()
    sold = {}
    for status, days in [("ACCEPTED", 3)] * 9 + [("SHIPPED", 40), ("RECEIVED", 80), ("CLOSED", 95)]:
        body = {"body": "Bonjour", "status": status, "orderedDaysAgo": days}
        opened = await admin.post(f"/rakuten/shops/{shop['login']}/threads", json=body)
        sold[opened.json()["orderId"]] = status
    tenant = f"rk-{uuid.uuid4().hex[:10]}"
    fields = {"login": shop["login"], "token": shop["token"]}
    await connect_shop(orders, stack.vault_addr, "RAKUTEN", tenant, fields, shop["login"])
    job = await finished_backfill(orders, tenant)
    assert job["status"] == "COMPLETED" and job["errors"] == 0, job
    rows = await orders.runtime.pool.fetch(
        "SELECT external_order_id, order_status::text AS status, marketplace_status"
        " FROM orders WHERE tenant_id = $1",
        tenant,
    )
    found = {r["external_order_id"]: (r["marketplace_status"], r["status"]) for r in rows}
    mapped = {"ACCEPTED": "CONFIRMED", "SHIPPED": "SHIPPED", "RECEIVED": "DELIVERED"}
    within = {o: (s, mapped[s]) for o, s in sold.items() if s != "CLOSED"}
    assert {o: found[o] for o in within} == within  # more than a page of sales, each once
    assert not set(found) & {o for o, s in sold.items() if s == "CLOSED"}  # 95 days ago
    some = next(iter(within))
    one = await orders_api(orders, tenant, f"/{some}", marketplace="RAKUTEN")
    assert one["externalOrderId"] == some and one["items"], one
