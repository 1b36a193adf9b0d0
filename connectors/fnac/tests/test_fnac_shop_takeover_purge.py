"""What a connection that was never the tenant's brought is taken away: tenant B's poller
polled tenant A's Fnac shop through its DARTY connection (the takeover oauth now refuses,
and ends where a database still held it), and ``connection.disconnected`` with
``receivedInError`` deletes B's tickets of that marketplace, theirs only. On the real
servers: the poller against the sandbox's Fnac double over HTTP, keys in OpenBao, NATS and
PostgreSQL."""

from __future__ import annotations

import httpx
from keybuzz_devstack.shop_api_testing import publish
from keybuzz_devstack.testing import RunningService, eventually
from keybuzz_poller.shops.domain import Shop
from keybuzz_shared.events import ConnectionDisconnected
from keybuzz_shared.vault import VaultClient
from test_fnac_polling import admin, connect, demo_shop, module_poller, poll, poller, status

__all__ = ["admin", "module_poller", "poller"]  # fixtures


HELD = {
    "tickets": "SELECT count(*) FROM poller_tickets WHERE tenant_id = $1",
    "messages": "SELECT count(*) FROM poller_external_messages WHERE tenant_id = $1",
    "ticket_messages": "SELECT count(*) FROM poller_ticket_messages WHERE tenant_id = $1",
    "incidents": "SELECT count(*) FROM poller_incidents WHERE tenant_id = $1",
}


async def held(poller: RunningService, tenant_id: str) -> dict[str, int]:
    pool = poller.runtime.pool
    return {name: await pool.fetchval(sql, tenant_id) for name, sql in HELD.items()}


async def disconnected(poller: RunningService, shop: Shop, *, received_in_error: bool) -> None:
    await publish(
        poller,
        ConnectionDisconnected(
            tenant_id=shop.tenant_id,
            marketplace=shop.marketplace,
            reason="test",
            received_in_error=received_in_error,
        ),
    )

    async def stopped() -> bool:
        return (await status(poller, shop))["connection"] == "DISCONNECTED"

    await eventually(stopped)


async def test_a_takeover_ended_takes_its_tickets_away_and_only_the_intruders(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = await demo_shop(admin)  # a Fnac shop
    owner = await connect(poller, vault, spec)
    intruder = await connect(poller, vault, spec, marketplace="DARTY")  # the same shop, as Darty
    for shop in (owner, intruder):
        await poll(poller, shop)
    owners = await held(poller, owner.tenant_id)
    taken = await held(poller, intruder.tenant_id)
    assert owners["tickets"] > 0 and taken["tickets"] == owners["tickets"], (owners, taken)

    await disconnected(poller, intruder, received_in_error=True)
    assert await held(poller, intruder.tenant_id) == dict.fromkeys(HELD, 0)
    assert await held(poller, owner.tenant_id) == owners


async def test_a_sellers_own_disconnect_keeps_its_history(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = await demo_shop(admin)
    shop = await connect(poller, vault, spec)
    await poll(poller, shop)
    before = await held(poller, shop.tenant_id)
    assert before["tickets"] > 0
    await disconnected(poller, shop, received_in_error=False)
    assert await held(poller, shop.tenant_id) == before
