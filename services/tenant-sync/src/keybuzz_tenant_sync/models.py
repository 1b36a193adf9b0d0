"""Request and response bodies of the HTTP and NATS micro endpoints (seed 004 shapes)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from keybuzz_shared.events import CountryCode, InboundAddressInfo, TenantId


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


SyncOutcome = Literal["created", "updated", "skipped"]


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
    # Rows of the oauth service's marketplace_connections table, as it defines them.
    marketplace_connections: list[dict[str, Any]]
