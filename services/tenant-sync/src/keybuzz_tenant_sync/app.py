"""HTTP endpoints (DESIGN.md §4, shapes of seed 004); internal: ``X-Internal-Key``."""

from __future__ import annotations

from typing import Any

from keybuzz_shared.auth import require_internal_key
from keybuzz_shared.http import BadRequest, ErrorStatuses, domain_error_handlers
from keybuzz_shared.ids import is_tenant_id
from litestar import Controller, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from keybuzz_tenant_sync import sync
from keybuzz_tenant_sync.domain import UnknownValue
from keybuzz_tenant_sync.models import StatusResponse, SyncAllResponse, SyncRequest, SyncResponse
from keybuzz_tenant_sync.sync import ProductDatabaseUnavailable, TenantNotFound, TenantSyncRuntime

# What each use-case error means, for HTTP and for the NATS micro replies (micro.py).
ERROR_STATUSES: ErrorStatuses = {
    TenantNotFound: 404,
    # The product row cannot be mapped (e.g. an unknown plan): not the caller's fault.
    UnknownValue: 422,
    ProductDatabaseUnavailable: 503,
}


def internal_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    require_internal_key(connection, connection.app.state.runtime.settings)


class TenantSyncController(Controller):
    path = "/api/v1/tenants"
    tags = ["tenants"]
    guards = [internal_only]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)

    @post(
        "/sync",
        status_code=200,
        summary="Copy one product tenant; optionally create its inbound address",
    )
    async def sync_tenant(self, data: SyncRequest, runtime: TenantSyncRuntime) -> SyncResponse:
        return await sync.sync_tenant(runtime, data)

    @post("/sync-all", status_code=200, summary="Copy every product tenant")
    async def sync_all(self, runtime: TenantSyncRuntime) -> SyncAllResponse:
        return await sync.sync_all(runtime)

    @get("/status/{tenant_id:str}", summary="Product vs marketplace view of a tenant")
    async def status(self, tenant_id: str, runtime: TenantSyncRuntime) -> StatusResponse:
        if not is_tenant_id(tenant_id):
            raise BadRequest(f"invalid tenant id {tenant_id!r}")
        return await sync.tenant_status(runtime, tenant_id)
