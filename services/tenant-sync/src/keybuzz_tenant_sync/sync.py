"""Tenant-sync use cases, shared by the event handlers, HTTP and NATS micro endpoints.

They work on ports (``ports.py``), return domain results (``domain.py``) and raise
domain errors (``errors.py``); ``app.py`` and ``micro.py`` give both their wire shape.

Each write is one unit of work (``ports.unit_of_work()``): the rows and the
``tenant.synced`` events they cause commit together (outbox), then the relay
publishes them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from keybuzz_shared.connectors.registry import (
    connector_serving,
    connectors,
)
from keybuzz_shared.events import (
    ConnectionConnected,
    InboundAddressInfo,
    InboundAddressReceiving,
    TenantArchived,
    TenantCreated,
)

from keybuzz_tenant_sync.domain import (
    ARCHIVED,
    MarketplaceTenant,
    SyncAllResult,
    SyncFailure,
    SyncOutcome,
    TenantStatus,
    TenantSyncResult,
    UnknownValue,
    address_countries,
    in_sync,
    new_addresses,
    synced_event,
    to_marketplace,
)
from keybuzz_tenant_sync.errors import TenantNotFound
from keybuzz_tenant_sync.ports import TenantSyncPorts, TenantSyncUnit

log = logging.getLogger(__name__)


# --- writes ------------------------------------------------------------------------


async def _complete(
    ports: TenantSyncPorts,
    uow: TenantSyncUnit,
    tenants: Sequence[MarketplaceTenant],
    countries: Sequence[str] = (),
    caused_by: str | None = None,
    connected: str | None = None,
) -> dict[str, list[InboundAddressInfo]]:
    """After the tenant rows: addresses, archive state, and one ``tenant.synced`` each.
    The addresses are those of every marketplace whose buyers write by e-mail and whose
    addresses come with the tenant, or (``connected``) that marketplace's alone."""
    for tenant in tenants if countries else ():
        for connector in connectors():  # each marketplace whose buyers write by e-mail
            made = connector.inbound_addresses
            if made is None:
                continue
            if not (connector.marketplace == connected if connected else not made.on_connection):
                continue
            candidates = new_addresses(made, tenant.id, countries, ports.inbound_domain)
            await uow.store.ensure_addresses(tenant.id, connector.marketplace, candidates)
    ids = [t.id for t in tenants]
    await uow.store.apply_archive_state(ids)
    addresses = await uow.store.addresses_by_tenant(ids)
    uow.emit_many(synced_event(t, addresses.get(t.id, []), caused_by) for t in tenants)
    return addresses


async def addresses_on_connection(ports: TenantSyncPorts, event: ConnectionConnected) -> None:
    """``connection.connected`` of a marketplace whose addresses come with its connection
    (``InboundAddresses.on_connection``): its addresses, in the countries of the tenant's
    others (the default country when it has none), and ``tenant.synced``. Idempotent: an
    address already made is kept."""
    connector = connector_serving(event.marketplace)
    made = None if connector is None else connector.inbound_addresses
    if made is None or not made.on_connection:
        return
    async with ports.unit_of_work() as uow:
        tenant = await uow.store.get_tenant(event.tenant_id)
        if tenant is None:  # not mirrored yet: its addresses are made at its next sync
            log.info("connected tenant unknown: no address yet", extra=_event_log(event))
            return
        held = (await uow.store.addresses_by_tenant([tenant.id])).get(tenant.id, [])
        countries = address_countries(a.country for a in held)
        await _complete(
            ports, uow, [tenant], countries, caused_by=event.event_id, connected=event.marketplace
        )


def _requested_countries(event: TenantCreated) -> list[str]:
    if not event.create_inbound_address:
        return []
    return address_countries([*(event.countries or []), event.country])


async def apply_tenant_event(ports: TenantSyncPorts, event: TenantCreated) -> None:
    """``tenant.created``/``tenant.updated``: upsert unless a newer event was applied.

    A stale event still gets the inbound addresses it asked for: creating an
    address overwrites nothing, and dropping the request would lose it.
    """
    tenant = to_marketplace(
        event.tenant_id, event.name, event.plan, event.status, event.occurred_at
    )
    countries = _requested_countries(event)
    async with ports.unit_of_work() as uow:
        if not await uow.store.upsert_tenants([tenant], from_event=True):
            log.info("older tenant event ignored", extra=_event_log(event))
            if not countries:
                return
            tenant = await uow.store.get_tenant(tenant.id) or tenant
        await _complete(ports, uow, [tenant], countries, caused_by=event.event_id)


async def archive_tenant(ports: TenantSyncPorts, event: TenantArchived) -> None:
    """``tenant.archived``: status ARCHIVED, addresses and inbound connection DISABLED."""
    current = await ports.tenants.get_tenant(event.tenant_id)
    if current is None:
        # Archived before we saw it created (out of order): the product row has the rest.
        product = await ports.product.read(event.tenant_id)
        if not product:
            log.info("archived tenant is unknown; nothing to archive", extra=_event_log(event))
            return
        current = product[0].to_marketplace()
    archived = msgspec.structs.replace(current, status=ARCHIVED, as_of=event.occurred_at)
    async with ports.unit_of_work() as uow:
        if not await uow.store.upsert_tenants([archived], from_event=True):
            log.info("older tenant event ignored", extra=_event_log(event))
            return
        await _complete(ports, uow, [archived], caused_by=event.event_id)


def _event_log(event: TenantCreated | TenantArchived | ConnectionConnected) -> dict[str, Any]:
    return {"tenant_id": event.tenant_id, "event_id": event.event_id, "event_type": event.type}


async def sync_tenant(
    ports: TenantSyncPorts,
    tenant_id: str,
    *,
    create_inbound_address: bool = False,
    country: str | None = None,
) -> TenantSyncResult:
    """Copy one product tenant (the product database is the source of truth).

    ``country``: of the address to create; the product tenant's country when None.
    """
    found = await ports.product.read(tenant_id)
    if not found:
        raise TenantNotFound(f"tenant {tenant_id!r} does not exist in the product database")
    product = found[0]
    tenant = product.to_marketplace()
    countries = address_countries([country or product.country]) if create_inbound_address else []
    async with ports.unit_of_work() as uow:
        written = await uow.store.upsert_tenants([tenant])
        addresses = (await _complete(ports, uow, [tenant], countries)).get(tenant.id, [])
    requested = next((a.email for a in addresses if countries and a.country == countries[0]), None)
    return TenantSyncResult(
        tenant=tenant,
        outcome=_outcome(written, tenant.id),
        addresses=addresses,
        requested_address=requested,
    )


def _outcome(written: dict[str, bool], tenant_id: str) -> SyncOutcome:
    if tenant_id not in written:
        return "skipped"
    return "created" if written[tenant_id] else "updated"


async def sync_all(ports: TenantSyncPorts) -> SyncAllResult:
    """Every product tenant in a few statements: one read, one upsert, one event batch."""
    products = await ports.product.read()
    valid: list[MarketplaceTenant] = []
    errors: list[SyncFailure] = []
    for product in products:
        try:
            valid.append(product.to_marketplace())
        except UnknownValue as exc:
            errors.append(SyncFailure(tenant_id=product.id, error=str(exc)))
    async with ports.unit_of_work() as uow:
        written = await uow.store.upsert_tenants(valid)
        await _complete(ports, uow, [t for t in valid if t.id in written])
    outcomes: dict[SyncOutcome, list[str]] = {"created": [], "updated": [], "skipped": []}
    for tenant in valid:
        outcomes[_outcome(written, tenant.id)].append(tenant.id)
    return SyncAllResult(
        total=len(products),
        created=outcomes["created"],
        updated=outcomes["updated"],
        skipped=outcomes["skipped"],
        errors=errors,
    )


async def activate_address(
    ports: TenantSyncPorts, tenant_id: str, email: str, at: datetime
) -> None:
    """The first buyer mail reached ``email``: PENDING → ACTIVE."""
    if await ports.tenants.activate_address(tenant_id, email, at):
        log.info("inbound address activated", extra={"tenant_id": tenant_id})


async def mark_receiving(ports: TenantSyncPorts, event: InboundAddressReceiving) -> None:
    """The poller's MX accepts ``email``: from now on the address is shown ready."""
    if await ports.tenants.mark_receiving(event.tenant_id, event.email, event.occurred_at):
        log.info("inbound address receiving", extra={"tenant_id": event.tenant_id})


# --- reads -------------------------------------------------------------------------


async def tenant_status(ports: TenantSyncPorts, tenant_id: str) -> TenantStatus:
    found = await ports.product.read(tenant_id)
    product = found[0] if found else None
    marketplace = await ports.tenants.get_tenant(tenant_id)
    addresses = await ports.tenants.addresses_by_tenant([tenant_id])
    connections = await ports.tenants.marketplace_connections(tenant_id)
    return TenantStatus(
        tenant_id=tenant_id,
        product=product,
        marketplace=marketplace,
        in_sync=in_sync(product, marketplace),
        addresses=addresses.get(tenant_id, []),
        connections=[c.as_shown() for c in connections],
    )
