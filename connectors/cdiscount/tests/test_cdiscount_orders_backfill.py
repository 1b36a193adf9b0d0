"""Cdiscount orders end to end: connection.connected (CDISCOUNT) → the orders service's
backfill of the shop's 90 days over the connector seam on the sandbox's Octopia double,
the orders served over HTTP with their statuses mapped, and the updatedAt sync picking up
what changed. Real PostgreSQL, NATS, OpenBao; the double over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

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
from keybuzz_double_cdiscount import service_env
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_orders.sync import OrderSync

StartService = Callable[..., Awaitable[RunningService]]
SHOP = "KeyBuzz Démo Cdiscount"


@pytest.fixture
async def orders(
    start_service: StartService, sandbox_url: str, private_nats: infra.RunningServer
) -> RunningService:
    return await start_orders_alone(start_service, ORDERS, private_nats, **service_env(sandbox_url))


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/cdiscount", timeout=30) as http:
        await http.delete("/faults")
        await http.post("/ratelimits/reset")
        yield http


async def connect(orders: RunningService, stack: Infra, shop: dict[str, Any], tenant: str) -> None:
    fields = {
        "client_id": shop["clientId"],
        "client_secret": shop["clientSecret"],
        "seller_id": shop["sellerId"],
    }
    await connect_shop(orders, stack.vault_addr, "CDISCOUNT", tenant, fields, shop["sellerId"])


async def test_a_cdiscount_shop_is_backfilled_served_and_kept_fresh(
    orders: RunningService, admin: httpx.AsyncClient, stack: Infra
) -> None:
    shop = next(s for s in (await admin.get("/shops")).json() if s["name"] == SHOP)
    tenant = f"cd-{uuid.uuid4().hex[:10]}"
    await connect(orders, stack, shop, tenant)
    job = await finished_backfill(orders, tenant)
    assert job["status"] == "COMPLETED" and job["errors"] == 0, job
    assert job["marketplace"] == "CDISCOUNT"
    rows = await orders.runtime.pool.fetch(
        "SELECT external_order_id, marketplace_id, order_status::text AS status,"
        " marketplace_status, sales_channel, created_at FROM orders WHERE tenant_id = $1",
        tenant,
    )
    # The demo shop places about 60 orders in 90 days (docs/SANDBOX.md), all read once.
    assert 40 <= len(rows) == job["orders"] == job["created"]
    assert len({r["external_order_id"] for r in rows}) == len(rows)
    assert {r["marketplace_id"] for r in rows} == {shop["sellerId"]}
    mapped = {
        "Processing": "PENDING",
        "WaitingAcceptance": "PENDING",
        "Accepted": "CONFIRMED",
        "InPreparation": "CONFIRMED",
        "Shipped": "SHIPPED",
        "Delivered": "DELIVERED",
        "Cancelled": "CANCELLED",
        "Refused": "CANCELLED",
    }
    assert all(mapped[r["marketplace_status"]] == r["status"] for r in rows), rows
    assert {r["status"] for r in rows} >= {"DELIVERED", "SHIPPED"}

    # Served over HTTP, as the view beside a Cdiscount ticket asks for one.
    some = rows[0]["external_order_id"]
    one = await orders_api(orders, tenant, f"/{some}", marketplace="CDISCOUNT")
    assert one["externalOrderId"] == some and one["marketplace"] == "CDISCOUNT"
    assert one["items"], one
    # Its sales channel, as a ticket's "Canal de vente" shows it (the double draws mostly
    # CDISFR: some of 40 orders are).
    assert one["salesChannel"] == rows[0]["sales_channel"]
    channels = {r["sales_channel"] for r in rows}
    assert "Cdiscount France" in channels
    assert channels <= {"Cdiscount France", "CDISBE", "CDISES"}
    listed = await orders_api(orders, tenant, "", limit="5")
    assert {o["marketplace"] for o in listed["orders"]} == {"CDISCOUNT"}

    # The updatedAt sync picks up what changed at Octopia: new orders, and statuses moved on.
    before = {r["external_order_id"]: r["status"] for r in rows}
    advanced = (
        await admin.post(f"/shops/{shop['sellerId']}/advance", json={"seconds": 3 * 86400})
    ).json()
    result = await orders.runtime.component(OrderSync).sync_now(tenant)
    assert result.errors == 0, result
    after = await orders.runtime.pool.fetch(
        "SELECT external_order_id, order_status::text AS status FROM orders WHERE tenant_id = $1",
        tenant,
    )
    now = {r["external_order_id"]: r["status"] for r in after}
    assert set(advanced["newOrderIds"]) <= set(now) and advanced["newOrderIds"]
    assert len(now) == len(before) + len(advanced["newOrderIds"])
    assert any(now[o] != status for o, status in before.items())
