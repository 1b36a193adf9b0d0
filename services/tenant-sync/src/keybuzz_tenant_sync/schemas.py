"""Request and response bodies of the HTTP and NATS micro endpoints (seed 004 shapes),
and the one mapping from the use cases' results to them, shared by both transports."""

from __future__ import annotations

import msgspec
from keybuzz_shared.events import InboundAddressInfo
from keybuzz_shared.ids import CountryCode, TenantId

from keybuzz_tenant_sync.domain import (
    ConnectionState,
    MarketplaceTenant,
    ProductTenant,
    SyncAllResult,
    SyncOutcome,
    TenantStatus,
    TenantSyncResult,
)


class Body(msgspec.Struct, kw_only=True, rename="camel"):
    """camelCase on the wire, as the first version and the events."""


class SyncRequest(Body, forbid_unknown_fields=True):
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


class StatusResponse(Body):
    tenant_id: str
    product: TenantView
    marketplace: TenantView
    in_sync: bool
    inbound_addresses: list[InboundAddressInfo]
    # tenant-sync's projection of the oauth service's connection.* events.
    marketplace_connections: list[ConnectionState]


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
        marketplace_connections=status.connections,
    )


def _tenant_view(tenant: ProductTenant | MarketplaceTenant | None) -> TenantView:
    if tenant is None:
        return TenantView(exists=False)
    return TenantView(exists=True, name=tenant.name, plan=tenant.plan, status=tenant.status)
