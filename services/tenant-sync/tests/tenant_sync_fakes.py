"""In-memory fakes of tenant-sync's ports (``keybuzz_tenant_sync.ports``), for the unit
tier. ``test_tenant_sync_store_contract.py`` runs the same scenarios on these and on the PostgreSQL
adapters, so a fake that drifts from ``store.py`` fails there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec
from keybuzz_devstack.fakes import InMemoryUnitOfWork
from keybuzz_shared.events import InboundAddressInfo
from keybuzz_tenant_sync.domain import (
    ARCHIVED,
    CONNECTED,
    ConnectionChange,
    CredentialsRefused,
    MarketplaceConnection,
    MarketplaceTenant,
    NewAddress,
    ProductTenant,
)
from keybuzz_tenant_sync.errors import ProductDatabaseUnavailable
from keybuzz_tenant_sync.ports import TenantSyncPorts

INBOUND_DOMAIN = "inbound.keybuzz.test"


@dataclass
class _Address:
    tenant_id: str
    marketplace: str
    country: str
    email: str
    status: str = "PENDING"
    activated_at: datetime | None = None
    receiving_at: datetime | None = None


class InMemoryTenantStore:
    """``ports.TenantStore`` in dicts, with the rules of store.py's SQL."""

    def __init__(self) -> None:
        self.tenants: dict[str, MarketplaceTenant] = {}
        self.connections: dict[tuple[str, str], str] = {}  # (tenant, marketplace) -> status
        self.addresses: dict[tuple[str, str, str], _Address] = {}
        self.projection: dict[tuple[str, str], MarketplaceConnection] = {}
        self.refusals: dict[tuple[str, str], CredentialsRefused] = {}

    async def upsert_tenants(
        self, tenants: Sequence[MarketplaceTenant], *, from_event: bool = False
    ) -> dict[str, bool]:
        written: dict[str, bool] = {}
        for tenant in tenants:
            current = self.tenants.get(tenant.id)
            if current is None:
                self.tenants[tenant.id] = tenant
                written[tenant.id] = True
            elif _writes(current, tenant, from_event):
                newest = max((t for t in (current.as_of, tenant.as_of) if t), default=None)
                self.tenants[tenant.id] = msgspec.structs.replace(tenant, as_of=newest)
                written[tenant.id] = False
        return written

    async def get_tenant(self, tenant_id: str) -> MarketplaceTenant | None:
        return self.tenants.get(tenant_id)

    async def ensure_addresses(
        self, tenant_id: str, marketplace: str, candidates: Sequence[NewAddress]
    ) -> None:
        if not candidates:
            return
        self.connections.setdefault((tenant_id, marketplace), "ACTIVE")
        for country, _token, email in candidates:
            key = (tenant_id, marketplace, country)
            self.addresses.setdefault(key, _Address(tenant_id, marketplace, country, email))

    async def apply_archive_state(self, tenant_ids: Sequence[str]) -> None:
        for tenant_id in tenant_ids:
            if tenant_id not in self.tenants:
                continue
            archived = self.tenants[tenant_id].status == ARCHIVED
            for key in self.connections:
                if key[0] == tenant_id:
                    self.connections[key] = "DISABLED" if archived else "ACTIVE"
            for address in self.addresses.values():
                if address.tenant_id == tenant_id:
                    address.status = _address_status(address, archived)
                    if archived:
                        address.receiving_at = None

    async def addresses_by_tenant(
        self, tenant_ids: Sequence[str]
    ) -> dict[str, list[InboundAddressInfo]]:
        found: dict[str, list[InboundAddressInfo]] = {}
        for key in sorted(self.addresses):
            a = self.addresses[key]
            if a.tenant_id in tenant_ids:
                info = InboundAddressInfo(
                    marketplace=a.marketplace,
                    country=a.country,
                    email=a.email,
                    status=a.status,
                    receiving=a.status != "DISABLED" and a.receiving_at is not None,
                )
                found.setdefault(a.tenant_id, []).append(info)
        return found

    async def activate_address(self, tenant_id: str, email: str, at: datetime) -> bool:
        for address in self.addresses.values():
            matches = address.tenant_id == tenant_id and address.email == email.lower()
            if matches and address.activated_at is None:
                address.activated_at = at
                address.status = "ACTIVE" if address.status == "PENDING" else address.status
                return True
        return False

    async def mark_receiving(self, tenant_id: str, email: str, at: datetime) -> bool:
        for address in self.addresses.values():
            matches = address.tenant_id == tenant_id and address.email == email.lower()
            if matches and address.receiving_at is None and address.status != "DISABLED":
                address.receiving_at = at
                return True
        return False

    async def apply_connection_change(self, change: ConnectionChange) -> bool:
        key = (change.tenant_id, change.marketplace)
        current = self.projection.get(key)
        if current is not None and current.as_of >= change.as_of:
            return False
        self.projection[key] = _changed(current, change)
        return True

    async def record_refusal(self, refused: CredentialsRefused) -> bool:
        key = (refused.tenant_id, refused.marketplace)
        current = self.refusals.get(key)
        if current is not None and current.at >= refused.at:
            return False
        self.refusals[key] = refused
        return True

    async def marketplace_connections(self, tenant_id: str) -> list[MarketplaceConnection]:
        shown = []
        for (tenant, marketplace), row in sorted(self.projection.items()):
            if tenant != tenant_id:
                continue
            refused = self.refusals.get((tenant, marketplace))
            if refused is not None:
                row = msgspec.structs.replace(
                    row,
                    refused_at=refused.at,
                    refused_seller_id=refused.seller_id,
                    refused_reason=refused.reason,
                )
            shown.append(row)
        return shown


def _writes(current: MarketplaceTenant, new: MarketplaceTenant, from_event: bool) -> bool:
    if from_event:
        # As SQL compares: an unknown time of the new state never wins over a known one.
        return current.as_of is None or (new.as_of is not None and current.as_of <= new.as_of)
    return (current.name, current.plan, current.status) != (new.name, new.plan, new.status)


def _address_status(address: _Address, archived: bool) -> str:
    if archived:
        return "DISABLED"
    return "ACTIVE" if address.activated_at is not None else "PENDING"


def _changed(
    current: MarketplaceConnection | None, change: ConnectionChange
) -> MarketplaceConnection:
    connected_at = change.as_of if change.status == CONNECTED else None
    return MarketplaceConnection(
        marketplace=change.marketplace,
        status=change.status,
        connection_id=change.connection_id or (current.connection_id if current else None),
        seller_id=change.seller_id or (current.seller_id if current else None),
        marketplace_ids=(
            change.marketplace_ids
            if change.marketplace_ids is not None
            else (current.marketplace_ids if current else [])
        ),
        region=change.region or (current.region if current else None),
        connected_at=connected_at or (current.connected_at if current else None),
        reason=change.reason,
        as_of=change.as_of,
    )


class InMemoryProductTenants:
    """``ports.ProductTenants``: the product's rows, and an outage switch."""

    def __init__(self, tenants: Sequence[ProductTenant] = ()) -> None:
        self.rows = {t.id: t for t in tenants}
        self.down = False

    async def read(self, tenant_id: str | None = None) -> list[ProductTenant]:
        if self.down:
            raise ProductDatabaseUnavailable("product database: connection refused")
        return [t for i, t in sorted(self.rows.items()) if tenant_id in (None, i)]


@dataclass
class FakeTenantSync:
    """The ports wired to fakes, with the fakes at hand for the test's assertions."""

    store: InMemoryTenantStore
    product: InMemoryProductTenants
    units: InMemoryUnitOfWork[InMemoryTenantStore]
    ports: TenantSyncPorts


def fake_tenant_sync(products: Sequence[ProductTenant] = ()) -> FakeTenantSync:
    store = InMemoryTenantStore()
    product = InMemoryProductTenants(products)
    units = InMemoryUnitOfWork(store)
    ports = TenantSyncPorts(
        tenants=store, unit_of_work=units, product=product, inbound_domain=INBOUND_DOMAIN
    )
    return FakeTenantSync(store, product, units, ports)
