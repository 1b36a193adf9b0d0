"""A Mirakl operator's shop's orders end to end: connection.connected (BOULANGER) → the
orders service's backfill of the shop's 90 days by OR11 over the connector seam on the
sandbox's Mirakl double (OR11's once-a-minute first pages obeyed), the orders served over
HTTP with their states mapped, and the update-date sync picking up what changed: new
orders, states moved on, an incident and a refund shown on the order's lines. Real
PostgreSQL, NATS, OpenBao; the double over HTTP."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
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
from keybuzz_double_mirakl import service_env
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_orders.sync import OrderSync
from mirakl_connector_helpers import ADMIN, serve_double

StartService = Callable[..., Awaitable[RunningService]]
OPERATOR = "BOULANGER"
# Mirakl's minute (OR11's frequency, which the backfill's first pages wait out) lasts half
# a second of the test: the pace is still the operator's, its seconds shorter.
TIME_SCALE = 120.0
MAPPED = {
    "WAITING_ACCEPTANCE": "PENDING",
    "SHIPPING": "CONFIRMED",
    "SHIPPED": "SHIPPED",
    "RECEIVED": "DELIVERED",
    "CLOSED": "DELIVERED",
    "REFUSED": "CANCELLED",
}


@pytest.fixture
async def double() -> AsyncIterator[str]:
    async for url in serve_double(time_scale=TIME_SCALE):
        yield url


@pytest.fixture
async def admin(double: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{double}{ADMIN}", timeout=30) as http:
        yield http


@pytest.fixture
async def orders(
    start_service: StartService, double: str, private_nats: infra.RunningServer
) -> RunningService:
    # The double's operators, OR11 paced at its minute (half a real second) and a half: on a
    # loaded machine one request may reach the double late and the next on time.
    catalogue = json.loads(service_env(double)["MIRAKL_CATALOGUE"])
    for entry in catalogue:
        entry["frequencies"] = {**entry["frequencies"], "OR11": 60 / TIME_SCALE * 1.5}
    return await start_orders_alone(
        start_service, ORDERS, private_nats, MIRAKL_CATALOGUE=json.dumps(catalogue)
    )


async def connect(orders: RunningService, stack: Infra, shop: dict[str, Any], tenant: str) -> None:
    fields = {"api_key": shop["apiKey"], "shop_id": str(shop["shopId"])}
    await connect_shop(orders, stack.vault_addr, OPERATOR, tenant, fields, str(shop["shopId"]))


async def listed(double: str, shop: dict[str, Any]) -> list[dict[str, Any]]:
    """Every order of the shop, by OR11 itself (the test's call: outside the frequency
    the service's calls obey)."""
    url = f"{double}/mirakl/{OPERATOR}/api/orders"
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": shop["apiKey"]}) as http:
        await http.post(f"{double}{ADMIN}/limits/reset")
        body = (await http.get(url, params={"max": 100})).json()
    assert body["total_count"] == len(body["orders"])
    found: list[dict[str, Any]] = body["orders"]
    return found


async def shop_orders(double: str, shop: dict[str, Any]) -> dict[str, str]:
    """Order id → state of every order of the shop."""
    return {o["order_id"]: o["order_state"] for o in await listed(double, shop)}


async def test_a_mirakl_shop_is_backfilled_served_and_kept_fresh(
    orders: RunningService,
    admin: httpx.AsyncClient,
    double: str,
    stack: Infra,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="keybuzz_connector_mirakl.connector")
    operator = next(o for o in (await admin.get("/operators")).json() if o["code"] == OPERATOR)
    shop = operator["shops"][0]
    every = await listed(double, shop)
    expected = {o["order_id"]: o["order_state"] for o in every}
    await admin.post("/limits/reset")
    # Ours: the state's, or RETURNED for an order whose every line was refunded.
    status = {
        o["order_id"]: "RETURNED" if o["fully_refunded"] else MAPPED[o["order_state"]]
        for o in every
    }
    tenant = f"mk-{uuid.uuid4().hex[:10]}"
    await connect(orders, stack, shop, tenant)
    job = await finished_backfill(orders, tenant)
    assert job["status"] == "COMPLETED" and job["errors"] == 0, job
    assert job["marketplace"] == OPERATOR
    rows = await orders.runtime.pool.fetch(
        "SELECT external_order_id, marketplace_id, order_status::text AS status,"
        " marketplace_status FROM orders WHERE tenant_id = $1",
        tenant,
    )
    # Every order of the shop's 90 days, each once, its state mapped.
    assert {r["external_order_id"]: r["marketplace_status"] for r in rows} == expected
    assert len(rows) == job["orders"] == job["created"] >= 30
    assert {r["marketplace_id"] for r in rows} == {str(shop["shopId"])}
    assert {r["external_order_id"]: r["status"] for r in rows} == status
    assert {r["status"] for r in rows} >= {"DELIVERED", "SHIPPED"}
    # OR11's first pages (a date window each) paced at the operator's frequency: never a
    # 429 (the client says each one it waits out), none inside a Retry-After.
    assert not [r for r in caplog.records if "throttled" in r.getMessage()]
    assert (await admin.get("/retry-after-violations")).json()["count"] == 0

    # Served over HTTP, as the view beside a Mirakl ticket asks for one.
    delivered = next(r["external_order_id"] for r in rows if r["marketplace_status"] == "CLOSED")
    one = await orders_api(orders, tenant, f"/{delivered}", marketplace=OPERATOR)
    assert one["externalOrderId"] == delivered and one["marketplace"] == OPERATOR
    assert one["items"] and {i["marketplaceState"] for i in one["items"]} == {"CLOSED"}
    # Its channel, as the operator names it (OR11's channel label).
    sold_on = next(o["channel"]["label"] for o in every if o["order_id"] == delivered)
    assert one["salesChannel"] == sold_on == "Boulanger.com"

    # The update-date sync: the shop's next days (new orders, states moved on), an
    # incident and a refund on the delivered order's lines.
    advanced = (
        await admin.post(
            f"/operators/{OPERATOR}/shops/{shop['shopId']}/advance", json={"seconds": 3 * 86400}
        )
    ).json()
    where = f"/operators/{OPERATOR}/shops/{shop['shopId']}/orders/{delivered}"
    incident = (await admin.post(f"{where}/incident")).json()
    refund = (await admin.post(f"{where}/refund")).json()
    result = await orders.runtime.component(OrderSync).sync_now(tenant)
    assert result.errors == 0, result
    after = await orders.runtime.pool.fetch(
        "SELECT external_order_id, marketplace_status FROM orders WHERE tenant_id = $1", tenant
    )
    now = {r["external_order_id"]: r["marketplace_status"] for r in after}
    assert now == await shop_orders(double, shop) and len(now) == len(expected) + advanced["orders"]
    assert any(now[o] != state for o, state in expected.items())
    shown = await orders_api(orders, tenant, f"/{delivered}", marketplace=OPERATOR)
    states = {i["externalItemId"]: i["marketplaceState"] for i in shown["items"]}
    assert states[refund["orderLineId"]] == "REFUNDED"
    refunds = {i["externalItemId"]: i["refundedAmount"] for i in shown["items"]}
    line = next(i for i in shown["items"] if i["externalItemId"] == refund["orderLineId"])
    assert refunds[refund["orderLineId"]] == str(Decimal(line["unitPrice"]) * line["quantity"])
    assert {a for k, a in refunds.items() if k != refund["orderLineId"]} <= {None}
    assert states[incident["orderLineId"]] in ("INCIDENT_OPEN", "REFUNDED")  # one line: both
    assert "INCIDENT_OPEN" in states.values() or incident["orderLineId"] == refund["orderLineId"]
