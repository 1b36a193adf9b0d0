"""The whole hop in-process: tenant-sync makes the address, mail arrives, the poller's
``message.received`` makes tenant-sync turn the address ACTIVE."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

from keybuzz_devstack import bootstrap
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC
from mailkit import poll_now, received_events, relay_mail, send

StartService = Callable[..., Awaitable[RunningService]]


async def test_message_received_activates_the_inbound_address_at_tenant_sync(
    start_service: StartService,
    make_database: Callable[[str], Awaitable[str]],
    dovecot: MailServer,
) -> None:
    product = await make_database("product")
    await bootstrap.seed_product_database(product)
    tenant_sync = await start_service(TENANT_SYNC, PRODUCT_DATABASE_URL=product)
    poller = await start_service(POLLER, POLL_ENABLED="false", **dovecot.settings)
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    created = {"tenantId": tenant, "name": "Shop", "plan": "pro", "status": "active"}
    await (
        (await poller.operator())
        .jetstream()
        .publish(
            "tenant.created",
            json.dumps({**created, "country": "FR", "createInboundAddress": True}).encode(),
        )
    )

    async def known_address() -> str | None:  # tenant.synced reached the poller's projection
        email: str | None = await poller.runtime.pool.fetchval(
            "SELECT email FROM poller_inbound_addresses WHERE tenant_id = $1", tenant
        )
        return email

    address = await eventually(known_address)

    async def status_at_tenant_sync() -> str:
        status: str = await tenant_sync.runtime.pool.fetchval(
            "SELECT status FROM inbound_addresses WHERE email = $1", address
        )
        return status

    assert await status_at_tenant_sync() == "PENDING"
    await send(poller, relay_mail(address, "first buyer mail"), address)
    assert (await poll_now(poller, tenant))["stored"] == 1

    async def active() -> bool:
        return await status_at_tenant_sync() == "ACTIVE"

    await eventually(active)
    [event] = await received_events(poller, tenant)
    assert event["inboundAddress"] == address
