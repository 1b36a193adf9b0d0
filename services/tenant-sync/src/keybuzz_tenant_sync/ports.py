"""What tenant-sync's use cases need, as ports: its own tables, the product's tenants,
a unit of work. ``bootstrap.py`` assembles the PostgreSQL adapters (``store.py``); the
unit tests give in-memory fakes, held to the adapters by a shared contract test
(``tests/test_tenant_sync_store_contract.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from keybuzz_shared.events import InboundAddressInfo
from keybuzz_shared.uow import StoreUnit

from keybuzz_tenant_sync.domain import (
    ConnectionChange,
    CredentialsRefused,
    MarketplaceConnection,
    MarketplaceTenant,
    NewAddress,
    ProductTenant,
)


class TenantStore(Protocol):
    """tenant-sync's tables: marketplace tenants, inbound addresses, connection projection."""

    async def upsert_tenants(
        self, tenants: Sequence[MarketplaceTenant], *, from_event: bool = False
    ) -> dict[str, bool]:
        """Writes each tenant that differs (a sync) or is not older (an event, by ``as_of``);
        ``{id: created}`` for the rows written."""
        ...

    async def get_tenant(self, tenant_id: str) -> MarketplaceTenant | None: ...

    async def ensure_addresses(
        self, tenant_id: str, marketplace: str, candidates: Sequence[NewAddress]
    ) -> None:
        """Creates the missing addresses; an existing one keeps its token."""
        ...

    async def apply_archive_state(self, tenant_ids: Sequence[str]) -> None:
        """Archived tenants' connections and addresses DISABLED; others back to ACTIVE/PENDING."""
        ...

    async def addresses_by_tenant(
        self, tenant_ids: Sequence[str]
    ) -> dict[str, list[InboundAddressInfo]]: ...

    async def activate_address(self, tenant_id: str, email: str, at: datetime) -> bool:
        """The first buyer mail: PENDING → ACTIVE; False when nothing changed."""
        ...

    async def mark_receiving(self, tenant_id: str, email: str, at: datetime) -> bool:
        """The poller's MX accepts the address's mail (not for a DISABLED address, and
        the first time kept); True when this changed it."""
        ...

    async def apply_connection_change(self, change: ConnectionChange) -> bool:
        """False when a change at least as new was applied already."""
        ...

    async def record_refusal(self, refused: CredentialsRefused) -> bool:
        """False when a refusal at least as new was recorded already."""
        ...

    async def marketplace_connections(self, tenant_id: str) -> list[MarketplaceConnection]: ...


class ProductTenants(Protocol):
    """The product app's tenants (its database, read only)."""

    async def read(self, tenant_id: str | None = None) -> list[ProductTenant]:
        """Every product tenant, or the one asked for; ``ProductDatabaseUnavailable`` when
        the product database cannot answer."""
        ...


TenantSyncUnit = StoreUnit[TenantStore]


@dataclass(frozen=True)
class TenantSyncPorts:
    """Everything a use case touches; made once per process (``bootstrap.py``)."""

    tenants: TenantStore  # reads and single-statement writes, outside a unit of work
    unit_of_work: Callable[[], AbstractAsyncContextManager[TenantSyncUnit]]
    product: ProductTenants
    inbound_domain: str
