"""Back Market orders end to end: connection.connected (BACKMARKET) → the orders
service's backfill of the shop's 90 days over the connector seam on the sandbox's Back
Market double, the orders served over HTTP with their states mapped. Real PostgreSQL,
NATS, OpenBao; the double over HTTP."""

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
from keybuzz_sandbox.backmarket import service_env
from keybuzz_shared.auth import issue_token
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.events import ConnectionConnected
from keybuzz_shared.settings import DEV_JWT_SECRET, DEV_VAULT_TOKEN
from keybuzz_shared.vault import VaultClient

StartService = Callable[..., Awaitable[RunningService]]
MILANO = 4


@pytest.fixture
async def orders(
    start_service: StartService, sandbox_url: str, private_nats: infra.RunningServer
) -> RunningService:
    # NATS of its own: the session's carries other tests' connections, which orders would
    # backfill too.
    return await start_service(
        ORDERS,
        NATS_URL=private_nats.spec.url,
        ORDERS_SYNC_INTERVAL_SECONDS="3600",
        **service_env(sandbox_url),
    )


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/backmarket", timeout=30) as http:
        await http.delete("/faults")
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
    """As oauth does it: the shop's fields in Vault, then connection.connected."""
    fields = {"token": shop["token"], "merchant_id": str(shop["merchantId"]), "country": "it-it"}
    vault = VaultClient(stack.vault_addr, token=DEV_VAULT_TOKEN)
    try:
        await vault.write(connector_for("BACKMARKET").credentials_path(tenant), fields)
    finally:
        await vault.aclose()
    event = ConnectionConnected(
        tenant_id=tenant,
        marketplace="BACKMARKET",
        connection_id=str(uuid.uuid4()),
        seller_id=fields["merchant_id"],
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


async def test_a_back_market_shop_is_backfilled_and_its_orders_served(
    orders: RunningService, admin: httpx.AsyncClient, stack: Infra
) -> None:
    shop = next(s for s in (await admin.get("/shops")).json() if s["number"] == MILANO)
    tenant = f"bm-{uuid.uuid4().hex[:10]}"
    await connect(orders, stack, shop, tenant)
    job = await finished_job(orders, tenant)
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
    one = await api(orders, tenant, f"/{some}", marketplace="BACKMARKET")
    assert one["externalOrderId"] == some and one["marketplace"] == "BACKMARKET"
    assert one["items"], one
