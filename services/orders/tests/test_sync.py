"""Incremental sync after a backfill: Amazon's lastUpdatedBefore is the cursor.

A sandbox of its own (time scale 60: the 2-minute listing lag is 2 seconds) so that
advancing the seller's timeline does not change the session sandbox other tests count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import nats
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.testing import running_sandbox
from orders_testkit import SELLER, OrdersKit, connect_directly, eventually

APP_SOURCE = "orders-sync-tests"


async def _sync(nats_url: str, tenant: str) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    try:
        reply = await nc.request(
            "keybuzz.orders.sync", msgspec.json.encode({"tenantId": tenant}), 20
        )
    finally:
        await nc.close()
    assert not (reply.headers or {}).get("Nats-Service-Error-Code"), reply.headers
    return dict(msgspec.json.decode(reply.data))


async def test_changes_after_the_backfill_arrive_with_amazons_cursor(
    stack: Any, orders_nats: str, start_service: Callable[..., Awaitable[Any]]
) -> None:
    async with running_sandbox(SandboxConfig(time_scale=60)) as sandbox:
        tenant = await connect_directly(stack, sandbox, APP_SOURCE)
        env = {
            "NATS_URL": orders_nats,
            "LWA_ENDPOINT": f"{sandbox}/auth/o2/token",
            "SPAPI_ENDPOINT": sandbox,
            "AMAZON_APP_SOURCE": APP_SOURCE,
            "SPAPI_BACKOFF_SECONDS": "0.05",
            "ORDERS_SYNC_INTERVAL_SECONDS": "3600",  # rounds by hand here
        }
        service = await start_service(ORDERS, **env)
        orders = OrdersKit(None, service, orders_nats, env)  # type: ignore[arg-type]
        started = await orders.api("POST", "/backfill", tenant, json={"days": 90})
        job = await orders.finished(tenant, started.json()["jobId"])
        assert job["status"] == "COMPLETED"
        pool = orders.pool
        cursor = await pool.fetchrow(
            "SELECT * FROM order_sync_cursors WHERE tenant_id = $1", tenant
        )
        assert cursor["status"] == "ACTIVE"
        assert (
            cursor["last_updated_before"].isoformat()
            == datetime.fromisoformat(job["createdBefore"]).isoformat()
        )  # the backfill's Amazon cursor, handed over

        async with httpx.AsyncClient(base_url=sandbox) as http:
            played = await http.post(
                f"/_sandbox/sellers/{SELLER}/advance", json={"seconds": 3 * 86400}
            )
        assert played.status_code in (200, 201), played.text
        new_ids = played.json()["newOrderIds"]
        changed_ids = played.json()["updatedOrderIds"]
        assert new_ids or changed_ids
        before = dict(
            await pool.fetch(
                "SELECT external_order_id, marketplace_status FROM orders WHERE tenant_id = $1",
                tenant,
            )
        )

        async def all_seen() -> dict[str, Any] | None:
            result = await _sync(orders_nats, tenant)
            rows = dict(
                await pool.fetch(
                    "SELECT external_order_id, marketplace_status FROM orders WHERE tenant_id = $1",
                    tenant,
                )
            )
            return (
                result
                if all(i in rows for i in new_ids)
                and all(rows.get(i) != before.get(i) or i in new_ids for i in changed_ids)
                else None
            )

        # Right away Amazon does not list them yet (lag): a cursor taken from our clock
        # would now be past them, and they would never come.
        early = await _sync(orders_nats, tenant)
        assert early["created"] == 0

        # Changes show in listings after the lag (2 s here); each round is one call of
        # searchOrders' burst of 20, so a round a second, not a tight loop (up to the test's
        # limit: a busy machine stretches the lag's rounds, six of them missed it).
        async def seen_a_second_on() -> dict[str, Any] | None:
            await asyncio.sleep(1.0)
            return await all_seen()

        await eventually(seen_a_second_on, within=None)
        moved = await pool.fetchrow("SELECT * FROM order_sync_cursors WHERE tenant_id = $1", tenant)
        assert cursor["last_updated_before"] < moved["last_updated_before"] < datetime.now(UTC)
        assert moved["runs"] >= 1 and moved["last_error"] is None

        quiet = await _sync(orders_nats, tenant)  # nothing changed since: nothing written
        assert quiet["created"] == 0 and quiet["updated"] == 0
        await service.stop()
