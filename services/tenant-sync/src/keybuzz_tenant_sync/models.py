"""Request and response bodies of the HTTP and NATS micro endpoints (seed 004 shapes),
and the one mapping from the use cases' results to them, shared by both transports."""

from __future__ import annotations

from datetime import datetime

import msgspec
from keybuzz_shared.events import CountryCode, InboundAddressInfo, TenantId

from keybuzz_tenant_sync.domain import (
    MarketplaceConnection,
    MarketplaceTenant,
    ProductTenant,
    SyncAllResult,
    SyncOutcome,
    TenantStatus,
    TenantSyncResult,
)


class Body(msgspec.Struct, kw_only=True, rename="camel"):
    """camelCase on the wire, as the first version and the events."""


class SyncRequest(Body):
    tenant_id: TenantId
    create_inbound_address: bool = False
    # The product tenant's country when absent, else FR.
    country: CountryCode | None = None


class TenantSummary(Body):
    id: str
    name: str
    plan: str
    status: str


class SyncResponse(Body, kw_only=True):
    success: bool
    tenant: TenantSummary
    # The address of the requested country when createInboundAddress was true.
    inbound_address: str | None = None
    result: SyncOutcome
    inbound_addresses: list[InboundAddressInfo] = []


class SyncError(Body):
    tenant_id: str
    error: str


class SyncAllResults(Body):
    created: list[str] = []
    updated: list[str] = []
    skipped: list[str] = []
    errors: list[SyncError] = []


class SyncAllResponse(Body):
    success: bool
    total: int
    results: SyncAllResults


class TenantView(Body):
    exists: bool
    name: str | None = None
    plan: str | None = None
    status: str | None = None


class StatusRequest(Body):
    tenant_id: TenantId


class ConnectionView(Body):
    """A marketplace connection as the oauth service's ``connection.*`` events told it."""

    marketplace: str
    status: str  # CONNECTED | DISCONNECTED | REAUTH_REQUIRED
    connection_id: str | None
    seller_id: str | None
    marketplace_ids: list[str]
    region: str | None
    connected_at: datetime | None
    # Why it was disconnected or needs a new consent.
    reason: str | None
    # When the newest event applied happened (its occurredAt).
    as_of: datetime


class StatusResponse(Body):
    tenant_id: str
    product: TenantView
    marketplace: TenantView
    in_sync: bool
    inbound_addresses: list[InboundAddressInfo]
    marketplace_connections: list[ConnectionView]


# --- results → bodies ------------------------------------------------------------------


def sync_body(result: TenantSyncResult) -> SyncResponse:
    tenant = result.tenant
    return SyncResponse(
        success=True,
        tenant=TenantSummary(
            id=tenant.id, name=tenant.name, plan=tenant.plan, status=tenant.status
        ),
        inbound_address=result.requested_address,
        result=result.outcome,
        inbound_addresses=result.addresses,
    )


def sync_all_body(result: SyncAllResult) -> SyncAllResponse:
    errors = [SyncError(tenant_id=e.tenant_id, error=e.error) for e in result.errors]
    results = SyncAllResults(
        created=result.created, updated=result.updated, skipped=result.skipped, errors=errors
    )
    return SyncAllResponse(success=not errors, total=result.total, results=results)


def status_body(status: TenantStatus) -> StatusResponse:
    return StatusResponse(
        tenant_id=status.tenant_id,
        product=_tenant_view(status.product),
        marketplace=_tenant_view(status.marketplace),
        in_sync=status.in_sync,
        inbound_addresses=status.addresses,
        marketplace_connections=[_connection_view(c) for c in status.connections],
    )


def _tenant_view(tenant: ProductTenant | MarketplaceTenant | None) -> TenantView:
    if tenant is None:
        return TenantView(exists=False)
    return TenantView(exists=True, name=tenant.name, plan=tenant.plan, status=tenant.status)


def _connection_view(connection: MarketplaceConnection) -> ConnectionView:
    return ConnectionView(
        marketplace=connection.marketplace,
        status=connection.status,
        connection_id=connection.connection_id,
        seller_id=connection.seller_id,
        marketplace_ids=connection.marketplace_ids,
        region=connection.region,
        connected_at=connection.connected_at,
        reason=connection.reason,
        as_of=connection.as_of,
    )
