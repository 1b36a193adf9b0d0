"""Cdiscount orders end to end: connection.connected (CDISCOUNT) → the orders service's
backfill of the shop's 90 days over the connector seam on the sandbox's Octopia double,
the orders served over HTTP with their statuses mapped, and the updatedAt sync picking up
what changed. Real PostgreSQL, NATS, OpenBao; the double over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import pytest
from keybuzz_devstack import infra
from keybuzz_devstack.testing import Infra, RunningService, eventually
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_orders.sync import OrderSync
from keybuzz_sandbox.cdiscount import service_env
from keybuzz_shared.auth import issue_token
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.events import ConnectionConnected
from keybuzz_shared.settings import DEV_JWT_SECRET, DEV_VAULT_TOKEN
from keybuzz_shared.vault import VaultClient

StartService = Callable[..., Awaitable[RunningService]]
SHOP = "KeyBuzz Démo Cdiscount"


@pytest.fixture
async def orders(
    start_service: StartService, sandbox_url: str, private_nats: infra.RunningServer
) -> RunningService:
    # NATS of its own: the session's carries other tests' connections, which orders would
    # backfill too.
    return await start_service(
        ORDERS,
        NATS_URL=private_nats.spec.url,
        ORDERS_SYNC_INTERVAL_SECONDS="3600",  # syncs when the test says
        **service_env(sandbox_url),
    )


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/cdiscount", timeout=30) as http:
        await http.delete("/faults")
        await http.post("/ratelimits/reset")
        yield http


async def api(orders: RunningService, tenant: str, path: str, **params: str) -> dict[str, Any]:
    token = issue_token(DEV_JWT_SECRET, "agent-1", tenants=[tenant])
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}
    async with orders.client() as http:
        answer = await http.get(f"/api/v1/orders{path}", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def connect(orders: RunningService, stack: Infra, shop: dict[str, Any], tenant: str) -> None:
    """As oauth does it: the shop's credentials in Vault, then connection.connected."""
    fields = {
        "client_id": shop["clientId"],
        "client_secret": shop["clientSecret"],
        "seller_id": shop["sellerId"],
    }
    vault = VaultClient(stack.vault_addr, token=DEV_VAULT_TOKEN)
    try:
        await vault.write(connector_for("CDISCOUNT").credentials_path(tenant), fields)
    finally:
        await vault.aclose()
    event = ConnectionConnected(
        tenant_id=tenant,
        marketplace="CDISCOUNT",
        connection_id=str(uuid.uuid4()),
        seller_id=shop["sellerId"],
        marketplace_ids=[],
        region="eu",
    )
    js = (await orders.operator()).jetstream()
    await js.publish(event.SUBJECT, msgspec.json.encode(event))


async def finished_job(orders: RunningService, tenant: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        job_id = await orders.runtime.pool.fetchval(
            "SELECT id::text FROM order_backfill_jobs WHERE tenant_id = $1", tenant
        )
        if job_id is None:
            return None
        job = await api(orders, tenant, f"/backfill/{job_id}")
        return job if job["status"] != "RUNNING" else None

    job: dict[str, Any] = await eventually(probe, 90)
    return job


async def test_a_cdiscount_shop_is_backfilled_served_and_kept_fresh(
    orders: RunningService, admin: httpx.AsyncClient, stack: Infra
) -> None:
    shop = next(s for s in (await admin.get("/shops")).json() if s["name"] == SHOP)
    tenant = f"cd-{uuid.uuid4().hex[:10]}"
    await connect(orders, stack, shop, tenant)
    job = await finished_job(orders, tenant)
    assert job["status"] == "COMPLETED" and job["errors"] == 0, job
    assert job["marketplace"] == "CDISCOUNT"
    rows = await orders.runtime.pool.fetch(
        "SELECT external_order_id, marketplace_id, order_status::text AS status,"
        " marketplace_status, created_at FROM orders WHERE tenant_id = $1",
        tenant,
    )
    # The demo shop places about 60 orders in 90 days (docs/SANDBOX.md), all read once.
    assert 40 <= len(rows) == job["orders"] == job["created"]
    assert len({r["external_order_id"] for r in rows}) == len(rows)
    assert {r["marketplace_id"] for r in rows} == {shop["sellerId"]}
    mapped = {"Processing": "PENDING", "WaitingAcceptance": "PENDING", "Accepted": "CONFIRMED",
              "InPreparation": "CONFIRMED", "Shipped": "SHIPPED", "Delivered": "DELIVERED",
              "Cancelled": "CANCELLED", "Refused": "CANCELLED"}  # fmt: skip
    assert all(mapped[r["marketplace_status"]] == r["status"] for r in rows), rows
    assert {r["status"] for r in rows} >= {"DELIVERED", "SHIPPED"}

    # Served over HTTP, as the view beside a Cdiscount ticket asks for one.
    some = rows[0]["external_order_id"]
    one = await api(orders, tenant, f"/{some}", marketplace="CDISCOUNT")
    assert one["externalOrderId"] == some and one["marketplace"] == "CDISCOUNT"
    assert one["items"], one
    listed = await api(orders, tenant, "", limit="5")
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
