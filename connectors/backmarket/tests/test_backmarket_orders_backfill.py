"""Back Market orders end to end: connection.connected (BACKMARKET) → the orders
service's backfill of the shop's 90 days over the connector seam on the sandbox's Back
Market double, the orders served over HTTP with their states mapped. Real PostgreSQL,
NATS, OpenBao; the double over HTTP."""

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
from keybuzz_double_backmarket import service_env
from keybuzz_orders.service import DEFINITION as ORDERS

StartService = Callable[..., Awaitable[RunningService]]
MILANO = 4


@pytest.fixture
async def orders(
    start_service: StartService, sandbox_url: str, private_nats: infra.RunningServer
) -> RunningService:
    return await start_orders_alone(start_service, ORDERS, private_nats, **service_env(sandbox_url))


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/backmarket", timeout=30) as http:
        await http.delete("/faults")
        yield http


async def connect(orders: RunningService, stack: Infra, shop: dict[str, Any], tenant: str) -> None:
    fields = {"token": shop["token"], "merchant_id": str(shop["merchantId"]), "country": "it-it"}
    await connect_shop(
        orders, stack.vault_addr, "BACKMARKET", tenant, fields, fields["merchant_id"]
    )


async def test_a_back_market_shop_is_backfilled_and_its_orders_served(
    orders: RunningService, admin: httpx.AsyncClient, stack: Infra
) -> None:
    shop = next(s for s in (await admin.get("/shops")).json() if s["number"] == MILANO)
    tenant = f"bm-{uuid.uuid4().hex[:10]}"
    await connect(orders, stack, shop, tenant)
    job = await finished_backfill(orders, tenant)
    assert job["status"] == "COMPLETED" and job["errors"] == 0, job
    assert job["marketplace"] == "BACKMARKET"
    rows = await orders.runtime.pool.fetch(
        "SELECT external_order_id, marketplace_id, order_status::text AS status,"
        " marketplace_status FROM orders WHERE tenant_id = $1",
        tenant,
    )
    # The shop's 4 seeded folders have 4 orders each, in the 60 days before the sandbox
    # started (docs/SANDBOX.md): all read once.
    assert 16 <= len(rows) == job["orders"] == job["created"]
    assert len({r["external_order_id"] for r in rows}) == len(rows)
    assert {r["marketplace_id"] for r in rows} == {str(shop["merchantId"])}
    # The double's orders are 1 (validated), 3 (to ship) or 9 (sent): docs/BACKMARKET.md.
    mapped = {"VALIDATED": "PENDING", "TO_SHIP": "CONFIRMED", "SENT": "SHIPPED"}
    assert all(mapped[r["marketplace_status"]] == r["status"] for r in rows), rows
    assert "SHIPPED" in {r["status"] for r in rows}
    some = rows[0]["external_order_id"]
    one = await orders_api(orders, tenant, f"/{some}", marketplace="BACKMARKET")
    assert one["externalOrderId"] == some and one["marketplace"] == "BACKMARKET"
    assert one["items"], one
