"""Tenant-sync use cases, shared by the event handlers, HTTP and NATS micro endpoints.

They return domain results (``domain.py``) and raise domain errors
(``errors.py``); ``app.py`` and ``micro.py`` give both their wire shape.

Each write is one unit of work (``runtime.unit_of_work()``): the rows and the
``tenant.synced`` events they cause commit together (outbox), then the relay
publishes them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
from keybuzz_shared.db import create_pool
from keybuzz_shared.events import InboundAddressInfo, TenantArchived, TenantCreated
from keybuzz_shared.ids import AMAZON
from keybuzz_shared.service import Runtime
from keybuzz_shared.uow import UnitOfWork

from keybuzz_tenant_sync import store
from keybuzz_tenant_sync.domain import (
    ARCHIVED,
    MarketplaceTenant,
    ProductTenant,
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
from keybuzz_tenant_sync.errors import ProductDatabaseUnavailable, TenantNotFound
from keybuzz_tenant_sync.settings import TenantSyncSettings

log = logging.getLogger(__name__)

TenantSyncRuntime = Runtime[TenantSyncSettings]


# --- the product database -----------------------------------------------------------


class ProductDatabase:
    """The product app's database (``keybuzz``), read only, with a pool of its own."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool


async def open_product_pool(runtime: TenantSyncRuntime) -> None:
    """``on_startup`` hook: the product database is a separate database (keybuzz)."""
    pool = await create_pool(runtime.settings.product_database_url, max_size=4)
    runtime.provide(ProductDatabase(pool))


async def close_product_pool(runtime: TenantSyncRuntime) -> None:
    product = runtime.components.pop(ProductDatabase, None)
    if isinstance(product, ProductDatabase):
        await product.pool.close()


async def read_product(
    runtime: TenantSyncRuntime, tenant_id: str | None = None
) -> list[ProductTenant]:
    try:
        pool = runtime.component(ProductDatabase).pool
    except LookupError:  # not open yet, or already closed on the way out
        raise ProductDatabaseUnavailable("product database pool not open") from None
    try:
        return await store.read_product_tenants(pool, tenant_id)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise ProductDatabaseUnavailable(f"product database: {exc}") from exc


# --- writes ------------------------------------------------------------------------


async def _complete(
    runtime: TenantSyncRuntime,
    uow: UnitOfWork,
    tenants: Sequence[MarketplaceTenant],
    countries: Sequence[str] = (),
    caused_by: str | None = None,
) -> dict[str, list[InboundAddressInfo]]:
    """After the tenant rows: addresses, archive state, and one ``tenant.synced`` each."""
    for tenant in tenants if countries else ():
        candidates = new_addresses(tenant.id, countries, runtime.settings.inbound_domain)
        await store.ensure_addresses(uow.conn, tenant.id, AMAZON, candidates)
    ids = [t.id for t in tenants]
    await store.apply_archive_state(uow.conn, ids)
    addresses = await store.addresses_by_tenant(uow.conn, ids)
    uow.emit_many(synced_event(t, addresses.get(t.id, []), caused_by) for t in tenants)
    return addresses


def _requested_countries(event: TenantCreated) -> list[str]:
    if not event.create_inbound_address:
        return []
    return address_countries([*(event.countries or []), event.country])


async def apply_tenant_event(runtime: TenantSyncRuntime, event: TenantCreated) -> None:
    """``tenant.created``/``tenant.updated``: upsert unless a newer event was applied.

    A stale event still gets the inbound addresses it asked for: creating an
    address overwrites nothing, and dropping the request would lose it.
    """
    tenant = to_marketplace(
        event.tenant_id, event.name, event.plan, event.status, event.occurred_at
    )
    countries = _requested_countries(event)
    async with runtime.unit_of_work() as uow:
        if not await store.upsert_tenants(uow.conn, [tenant], from_event=True):
            log.info("older tenant event ignored", extra=_event_log(event))
            if not countries:
                return
            tenant = await store.get_tenant(uow.conn, tenant.id) or tenant
        await _complete(runtime, uow, [tenant], countries, caused_by=event.event_id)


async def archive_tenant(runtime: TenantSyncRuntime, event: TenantArchived) -> None:
    """``tenant.archived``: status ARCHIVED, addresses and inbound connection DISABLED."""
    current = await store.get_tenant(runtime.pool, event.tenant_id)
    if current is None:
        # Archived before we saw it created (out of order): the product row has the rest.
        product = await read_product(runtime, event.tenant_id)
        if not product:
            log.info("archived tenant is unknown; nothing to archive", extra=_event_log(event))
            return
        current = product[0].to_marketplace()
    archived = msgspec.structs.replace(current, status=ARCHIVED, as_of=event.occurred_at)
    async with runtime.unit_of_work() as uow:
        if not await store.upsert_tenants(uow.conn, [archived], from_event=True):
            log.info("older tenant event ignored", extra=_event_log(event))
            return
        await _complete(runtime, uow, [archived], caused_by=event.event_id)


def _event_log(event: TenantCreated | TenantArchived) -> dict[str, Any]:
    return {"tenant_id": event.tenant_id, "event_id": event.event_id, "event_type": event.type}


async def sync_tenant(
    runtime: TenantSyncRuntime,
    tenant_id: str,
    *,
    create_inbound_address: bool = False,
    country: str | None = None,
) -> TenantSyncResult:
    """Copy one product tenant (the product database is the source of truth).

    ``country``: of the address to create; the product tenant's country when None.
    """
    found = await read_product(runtime, tenant_id)
    if not found:
        raise TenantNotFound(f"tenant {tenant_id!r} does not exist in the product database")
    product = found[0]
    tenant = product.to_marketplace()
    countries = address_countries([country or product.country]) if create_inbound_address else []
    async with runtime.unit_of_work() as uow:
        written = await store.upsert_tenants(uow.conn, [tenant])
        addresses = (await _complete(runtime, uow, [tenant], countries)).get(tenant.id, [])
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


async def sync_all(runtime: TenantSyncRuntime) -> SyncAllResult:
    """Every product tenant in a few statements: one read, one upsert, one event batch."""
    products = await read_product(runtime)
    valid: list[MarketplaceTenant] = []
    errors: list[SyncFailure] = []
    for product in products:
        try:
            valid.append(product.to_marketplace())
        except UnknownValue as exc:
            errors.append(SyncFailure(tenant_id=product.id, error=str(exc)))
    async with runtime.unit_of_work() as uow:
        written = await store.upsert_tenants(uow.conn, valid)
        await _complete(runtime, uow, [t for t in valid if t.id in written])
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
    runtime: TenantSyncRuntime, tenant_id: str, email: str, at: datetime
) -> None:
    """The first buyer mail reached ``email``: PENDING → ACTIVE."""
    if await store.activate_address(runtime.pool, tenant_id, email, at):
        log.info("inbound address activated", extra={"tenant_id": tenant_id})


# --- reads -------------------------------------------------------------------------


async def tenant_status(runtime: TenantSyncRuntime, tenant_id: str) -> TenantStatus:
    found = await read_product(runtime, tenant_id)
    product = found[0] if found else None
    marketplace = await store.get_tenant(runtime.pool, tenant_id)
    addresses = await store.addresses_by_tenant(runtime.pool, [tenant_id])
    connections = await store.marketplace_connections(runtime.pool, tenant_id)
    return TenantStatus(
        tenant_id=tenant_id,
        product=product,
        marketplace=marketplace,
        in_sync=in_sync(product, marketplace),
        addresses=addresses.get(tenant_id, []),
        connections=[c.as_shown() for c in connections],
    )
