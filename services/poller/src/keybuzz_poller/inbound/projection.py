"""The poller's projection of tenants and their inbound addresses: which mail the MX takes.

tenant-sync publishes ``tenant.synced`` with the tenant's full set of addresses after every
change (archiving included); the product's ``tenant.archived`` is applied too, so the MX
refuses an archived tenant's mail even before tenant-sync has caught up. ``occurredAt``
orders them: an older event (redelivered, or overtaken after a retry) never undoes a newer
one.

An inbound address belongs to the tenant it was created for (its local part names that
tenant, and the projection keeps the first tenant it was given for): a ``tenant.synced``
giving it to another tenant is refused with the reason and nothing of it is applied.
Otherwise one forged event would move a tenant's mail into another tenant's tickets.
"""

from __future__ import annotations

import logging

from keybuzz_shared.events import InboundAddressReceiving, TenantArchived, TenantSynced

from keybuzz_poller.inbound.addresses import ProjectedAddress, normalise, parse_address
from keybuzz_poller.inbound.ports import InboundPorts

log = logging.getLogger(__name__)

ARCHIVED = "ARCHIVED"
DISABLED = "DISABLED"


class AddressOfAnotherTenant(Exception):
    """A ``tenant.synced`` names an address that is another tenant's: it will never apply
    (the reason names the tenant and a count, never an address: its token lets mail in)."""


async def apply_synced(ports: InboundPorts, event: TenantSynced) -> None:
    addresses = [
        ProjectedAddress(normalise(a.email), a.marketplace, a.country.upper(), a.status != DISABLED)
        for a in event.inbound_addresses
    ]
    _refuse_addresses_named_for_others(event.tenant_id, [a.email for a in addresses])
    archived = event.status == ARCHIVED
    async with ports.unit_of_work() as uow:
        writes = uow.store
        if not await writes.projection.apply_tenant_state(
            event.tenant_id, archived, event.occurred_at
        ):
            log.info("older tenant.synced ignored", extra={"tenant_id": event.tenant_id})
            return
        taken = await writes.projection.replace_addresses(event.tenant_id, addresses)
        if taken:
            # Raised inside the unit of work: it rolls back, nothing of the event stays.
            raise AddressOfAnotherTenant(
                f"tenant.synced for tenant {event.tenant_id} names {len(taken)} inbound "
                "address(es) that belong to another tenant; nothing applied"
            )
        # Polled from now on, the first poll at a random point of the interval.
        if any(a.enabled for a in addresses):
            await writes.schedule.ensure_scheduled(event.tenant_id, ports.poll_interval)
        if not archived:
            uow.emit_many(_receiving(event.tenant_id, addresses))
    log.info(
        "inbound addresses updated",
        extra={"tenant_id": event.tenant_id, "addresses": len(addresses), "archived": archived},
    )


def _receiving(tenant_id: str, addresses: list[ProjectedAddress]) -> list[InboundAddressReceiving]:
    """Each enabled address, told as receiving: published once the unit of work commits,
    when the MX (which reads the projection at each RCPT) accepts its mail. Told again on
    every ``tenant.synced``: tenant-sync's record of it is idempotent."""
    return [
        InboundAddressReceiving(
            tenant_id=tenant_id, email=a.email, marketplace=a.marketplace, country=a.country
        )
        for a in addresses
        if a.enabled
    ]


def _refuse_addresses_named_for_others(tenant_id: str, emails: list[str]) -> None:
    """An address whose local part names another tenant can never be this tenant's."""
    foreign = [e for e in emails if (p := parse_address(e)) and p.tenant_id != tenant_id.lower()]
    if foreign:
        raise AddressOfAnotherTenant(
            f"tenant.synced for tenant {tenant_id} names {len(foreign)} inbound address(es) "
            "made for another tenant; nothing applied"
        )


async def apply_archived(ports: InboundPorts, event: TenantArchived) -> None:
    if await ports.projection.apply_tenant_state(event.tenant_id, True, event.occurred_at):
        log.info("tenant archived: its mail is refused", extra={"tenant_id": event.tenant_id})
