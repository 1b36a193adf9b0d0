"""What a connection that was never the tenant's brought is taken away: tenant B's poller
polled tenant A's Fnac shop through its DARTY connection (the takeover oauth now refuses,
and ends where a database still held it), and ``connection.disconnected`` with
``receivedInError`` deletes B's tickets of that marketplace, theirs only. On the real
servers: the poller against the sandbox's Fnac double over HTTP, keys in OpenBao, NATS and
PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_poller.reading.marketplace.domain import Shop
from keybuzz_poller.service import DEFINITION
from keybuzz_shared.events import ConnectionConnected, ConnectionDisconnected
from keybuzz_shared.vault import VaultClient
from mailkit import publish
from test_fnac_polling import StartService, admin, demo_shop, poll, vault  # noqa: F401 - fixtures


@pytest.fixture
async def poller(
    start_service: StartService, dovecot: MailServer, sandbox_url: str
) -> RunningService:
    return await start_service(
        DEFINITION,
        POLL_ENABLED="false",
        FNAC_API_URL=f"{sandbox_url}/fnac/api.php/",
        **dovecot.settings,
    )


async def connect_as(
    poller: RunningService, vault: VaultClient, spec: dict[str, Any], marketplace: str
) -> Shop:
    tenant_id = f"t{uuid.uuid4().hex[:10]}"
    fields = {f: spec[f] for f in ("partner_id", "shop_id", "key")}
    await vault.write(f"secret/keybuzz/tenants/{tenant_id}/{marketplace.lower()}_api", fields)
    await publish(
        poller,
        ConnectionConnected(
            tenant_id=tenant_id,
            marketplace=marketplace,
            connection_id=str(uuid.uuid4()),
            seller_id=spec["shop_id"],
            marketplace_ids=[],
            region="",
        ),
    )
    shop = Shop(tenant_id, marketplace)

    async def scheduled() -> bool:
        return bool(
            await poller.runtime.pool.fetchval(
                "SELECT true FROM poller_shops WHERE poll_key = $1", shop.key
            )
        )

    await eventually(scheduled)
    return shop


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
        return bool(
            await poller.runtime.pool.fetchval(
                "SELECT true FROM poller_shops WHERE poll_key = $1 AND connection = 'DISCONNECTED'",
                shop.key,
            )
        )

    await eventually(stopped)


async def test_a_takeover_ended_takes_its_tickets_away_and_only_the_intruders(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = await demo_shop(admin)  # a Fnac shop
    owner = await connect_as(poller, vault, spec, "FNAC")
    intruder = await connect_as(poller, vault, spec, "DARTY")  # the same shop, as Darty
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
    shop = await connect_as(poller, vault, spec, "FNAC")
    await poll(poller, shop)
    before = await held(poller, shop.tenant_id)
    assert before["tickets"] > 0
    await disconnected(poller, shop, received_in_error=False)
    assert await held(poller, shop.tenant_id) == before
