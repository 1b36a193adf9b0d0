"""Event handlers: the poller's projection of tenants and inbound addresses, and connections.

``connection.connected`` makes the tenant due at once (durable ``poller-connected-poll``).

tenant-sync publishes ``tenant.synced`` with the tenant's full set of
addresses after every change (archiving included); the product's
``tenant.archived`` is applied too, so the MX refuses an archived tenant's
mail even before tenant-sync has caught up. ``occurredAt`` orders them: an
older event (redelivered, or overtaken after a retry) never undoes a newer one.

An inbound address belongs to the tenant it was created for (its local part names that
tenant, and the projection keeps the first tenant it was given for): a ``tenant.synced``
giving it to another tenant is dead-lettered with the reason and nothing of it is applied.
Otherwise one forged event would move a tenant's mail into another tenant's tickets.
"""

from __future__ import annotations

import logging
from typing import Any

from keybuzz_shared.events import ConnectionConnected, TenantArchived, TenantSynced
from keybuzz_shared.messaging import Delivery, EventSubscription, PermanentEventError
from keybuzz_shared.service import Runtime

from keybuzz_poller.inbound import store as inbound_store
from keybuzz_poller.inbound.addresses import normalise, parse_address
from keybuzz_poller.polling import store as polling_store
from keybuzz_poller.polling.scheduler import Scheduler

log = logging.getLogger(__name__)

ARCHIVED = "ARCHIVED"
DISABLED = "DISABLED"


def register_subscribers(runtime: Runtime[Any]) -> None:
    async def on_synced(event: TenantSynced, delivery: Delivery) -> None:
        await apply_synced(runtime, event)

    async def on_archived(event: TenantArchived, delivery: Delivery) -> None:
        await apply_archived(runtime, event)

    async def on_connected(event: ConnectionConnected, delivery: Delivery) -> None:
        await poll_at_once(runtime, event.tenant_id)

    EventSubscription(
        runtime, event_type=TenantSynced, handler=on_synced, purpose="inbound-addresses"
    )
    EventSubscription(
        runtime, event_type=TenantArchived, handler=on_archived, purpose="tenant-archived"
    )
    EventSubscription(
        runtime, event_type=ConnectionConnected, handler=on_connected, purpose="connected-poll"
    )


async def apply_synced(runtime: Runtime[Any], event: TenantSynced) -> None:
    addresses = [
        (normalise(a.email), a.marketplace, a.country.upper(), a.status != DISABLED)
        for a in event.inbound_addresses
    ]
    _refuse_addresses_named_for_others(event.tenant_id, [a[0] for a in addresses])
    async with runtime.unit_of_work() as uow:
        archived = event.status == ARCHIVED
        if not await inbound_store.apply_tenant_state(
            uow.conn, event.tenant_id, archived, event.occurred_at
        ):
            log.info("older tenant.synced ignored", extra={"tenant_id": event.tenant_id})
            return
        taken = await inbound_store.replace_addresses(uow.conn, event.tenant_id, addresses)
        if taken:
            # Raised inside the unit of work: it rolls back, nothing of the event stays.
            raise PermanentEventError(
                f"tenant.synced for tenant {event.tenant_id} names {len(taken)} inbound "
                "address(es) that belong to another tenant; nothing applied"
            )
        # Polled from now on, the first poll at a random point of the interval.
        if any(enabled for *_, enabled in addresses):
            await polling_store.ensure_scheduled(
                uow.conn, event.tenant_id, runtime.settings.poll_interval_seconds
            )
    log.info(
        "inbound addresses updated",
        extra={"tenant_id": event.tenant_id, "addresses": len(addresses), "archived": archived},
    )


def _refuse_addresses_named_for_others(tenant_id: str, emails: list[str]) -> None:
    """An address whose local part names another tenant can never be this tenant's."""
    foreign = [e for e in emails if (p := parse_address(e)) and p.tenant_id != tenant_id.lower()]
    if foreign:
        raise PermanentEventError(
            f"tenant.synced for tenant {tenant_id} names {len(foreign)} inbound address(es) "
            "made for another tenant; nothing applied"
        )


async def apply_archived(runtime: Runtime[Any], event: TenantArchived) -> None:
    if await inbound_store.apply_tenant_state(
        runtime.pool, event.tenant_id, True, event.occurred_at
    ):
        log.info("tenant archived: its mail is refused", extra={"tenant_id": event.tenant_id})


async def poll_at_once(runtime: Runtime[Any], tenant_id: str) -> None:
    """``connection.connected``: the tenant is due now, whichever instance takes it."""
    await polling_store.poll_soon(runtime.pool, tenant_id)
    scheduler = runtime.components.get(Scheduler)
    if isinstance(scheduler, Scheduler):
        scheduler.wake.set()
    log.info("connected: poll due now", extra={"tenant_id": tenant_id})
