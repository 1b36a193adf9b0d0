"""HTTP endpoints (docs/CONTRACTS.md, "HTTP endpoints", shapes of seed 004); internal: ``X-Internal-Key``.

The only module that knows HTTP: results become bodies through ``schemas.py``,
errors statuses through ``errors.ERROR_STATUSES``.
"""

from __future__ import annotations

from typing import Any

from keybuzz_shared.auth import require_internal_key
from keybuzz_shared.http import BadRequest, domain_error_handlers
from keybuzz_shared.ids import is_tenant_id
from litestar import Controller, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from keybuzz_tenant_sync import sync
from keybuzz_tenant_sync.errors import ERROR_STATUSES
from keybuzz_tenant_sync.ports import TenantSyncPorts
from keybuzz_tenant_sync.schemas import (
    StatusResponse,
    SyncAllResponse,
    SyncRequest,
    SyncResponse,
    status_body,
    sync_all_body,
    sync_body,
)


def internal_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    require_internal_key(connection, connection.app.state.runtime.settings)


class TenantSyncController(Controller):
    path = "/api/v1/tenants"
    tags = ["tenants"]
    guards = [internal_only]
    exception_handlers = domain_error_handlers(ERROR_STATUSES)

    @post(
        "/sync",
        operation_id="syncTenant",
        status_code=200,
        summary="Copy one product tenant; optionally create its inbound address",
    )
    async def sync_tenant(self, data: SyncRequest, ports: TenantSyncPorts) -> SyncResponse:
        result = await sync.sync_tenant(
            ports,
            data.tenant_id,
            create_inbound_address=data.create_inbound_address,
            country=data.country,
        )
        return sync_body(result)

    @post(
        "/sync-all",
        operation_id="syncAllTenants",
        status_code=200,
        summary="Copy every product tenant",
    )
    async def sync_all(self, ports: TenantSyncPorts) -> SyncAllResponse:
        return sync_all_body(await sync.sync_all(ports))

    @get(
        "/status/{tenant_id:str}",
        operation_id="getTenantStatus",
        summary="Product vs marketplace view of a tenant",
    )
    async def status(self, tenant_id: str, ports: TenantSyncPorts) -> StatusResponse:
        if not is_tenant_id(tenant_id):
            raise BadRequest(f"invalid tenant id {tenant_id!r}")
        return status_body(await sync.tenant_status(ports, tenant_id))
