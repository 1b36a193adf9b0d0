"""Orders a connection that was never the tenant's brought are taken away: tenant B's
DARTY connection to tenant A's Fnac shop (the takeover oauth now refuses, and ends where a
database still held it) imported A's orders into B; ``connection.disconnected`` with
``receivedInError`` deletes them, B's only, while a seller's own disconnect keeps its
orders. Real PostgreSQL, NATS, OpenBao and the sandbox's Fnac double over HTTP."""

from __future__ import annotations

from typing import Any

from keybuzz_devstack.oauth_testing import new_tenant
from keybuzz_devstack.orders_testing import OrdersKit
from keybuzz_devstack.testing import eventually
from keybuzz_shared.events import ConnectionDisconnected
from test_orders_from_fnac import DEMO_FNAC, FnacAdmin, _connect, _jobs, _publish, fnac, kit

__all__ = ["fnac", "kit"]  # fixtures


async def _orders(kit: OrdersKit, tenant: str) -> int:
    counted: int = await kit.pool.fetchval(
        "SELECT count(*) FROM orders WHERE tenant_id = $1", tenant
    )
    return counted


async def _backfilled(kit: OrdersKit, stack: Any, shop: dict[str, Any], tenant: str) -> int:
    await _connect(kit, stack, shop, tenant)
    [job] = await _jobs(kit, tenant, 1)
    assert job["status"] == "COMPLETED", job
    return await _orders(kit, tenant)


async def test_orders_received_through_a_takeover_are_deleted_and_only_those(
    kit: OrdersKit, fnac: FnacAdmin, stack: Any
) -> None:
    shop = await fnac.shop(DEMO_FNAC)
    owner, intruder = new_tenant(), new_tenant()
    owned = await _backfilled(kit, stack, shop, owner)
    taken = await _backfilled(kit, stack, {**shop, "marketplace": "DARTY"}, intruder)
    assert owned > 0 and taken == owned
    await _publish(
        kit.nats_url,
        ConnectionDisconnected(
            tenant_id=intruder, marketplace="DARTY", reason="taken", received_in_error=True
        ),
    )

    async def gone() -> bool:
        return await _orders(kit, intruder) == 0

    await eventually(gone)
    assert await _orders(kit, owner) == owned
    items = await kit.pool.fetchval(
        "SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id"
        " WHERE o.tenant_id = $1",
        owner,
    )
    assert items > 0

    # The owner's own disconnect keeps its orders (its history).
    await _publish(
        kit.nats_url, ConnectionDisconnected(tenant_id=owner, marketplace="FNAC", reason="user")
    )

    async def stopped() -> bool:
        status = await kit.pool.fetchval(
            "SELECT status FROM order_sync_cursors WHERE tenant_id = $1 AND marketplace = 'FNAC'",
            owner,
        )
        return bool(status == "STOPPED")

    await eventually(stopped)
    assert await _orders(kit, owner) == owned
