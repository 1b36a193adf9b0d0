"""Event handlers: the poller's projection of tenants and inbound addresses.

tenant-sync publishes ``tenant.synced`` with the tenant's full set of
addresses after every change (archiving included); the product's
``tenant.archived`` is applied too, so the MX refuses an archived tenant's
mail even before tenant-sync has caught up. ``occurredAt`` orders them: an
older event (redelivered, or overtaken after a retry) never undoes a newer one.
"""

from __future__ import annotations

import logging
from typing import Any

from keybuzz_shared.events import TenantArchived, TenantSynced
from keybuzz_shared.messaging import Delivery, EventSubscription
from keybuzz_shared.service import Runtime

from keybuzz_poller import store
from keybuzz_poller.inbound import normalise

log = logging.getLogger(__name__)

ARCHIVED = "ARCHIVED"
DISABLED = "DISABLED"


def register_subscribers(runtime: Runtime[Any]) -> None:
    async def on_synced(event: TenantSynced, delivery: Delivery) -> None:
        await apply_synced(runtime, event)

    async def on_archived(event: TenantArchived, delivery: Delivery) -> None:
        await apply_archived(runtime, event)

    EventSubscription(
        runtime, event_type=TenantSynced, handler=on_synced, purpose="inbound-addresses"
    )
    EventSubscription(
        runtime, event_type=TenantArchived, handler=on_archived, purpose="tenant-archived"
    )


async def apply_synced(runtime: Runtime[Any], event: TenantSynced) -> None:
    addresses = [
        (normalise(a.email), a.marketplace, a.country.upper(), a.status != DISABLED)
        for a in event.inbound_addresses
    ]
    async with runtime.unit_of_work() as uow:
        archived = event.status == ARCHIVED
        if not await store.apply_tenant_state(
            uow.conn, event.tenant_id, archived, event.occurred_at
        ):
            log.info("older tenant.synced ignored", extra={"tenant_id": event.tenant_id})
            return
        await store.replace_addresses(uow.conn, event.tenant_id, addresses)
    log.info(
        "inbound addresses updated",
        extra={"tenant_id": event.tenant_id, "addresses": len(addresses), "archived": archived},
    )


async def apply_archived(runtime: Runtime[Any], event: TenantArchived) -> None:
    if await store.apply_tenant_state(runtime.pool, event.tenant_id, True, event.occurred_at):
        log.info("tenant archived: its mail is refused", extra={"tenant_id": event.tenant_id})
