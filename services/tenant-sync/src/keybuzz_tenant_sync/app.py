"""HTTP endpoints (DESIGN.md §4, shapes of seed 004); internal: ``X-Internal-Key``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from keybuzz_shared.auth import require_internal_key
from keybuzz_shared.http import BadRequest, ErrorBody, NotFound, http_error_response
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import ClientException, HTTPException, ServiceUnavailableException
from litestar.handlers.base import BaseRouteHandler

from keybuzz_tenant_sync import sync
from keybuzz_tenant_sync.domain import UnknownValue
from keybuzz_tenant_sync.models import StatusResponse, SyncAllResponse, SyncRequest, SyncResponse
from keybuzz_tenant_sync.sync import ProductDatabaseUnavailable, TenantNotFound, TenantSyncRuntime

_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class Unprocessable(ClientException):
    """The product row cannot be mapped (e.g. an unknown plan): not the caller's fault."""

    status_code = 422


def internal_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    require_internal_key(connection, connection.app.state.runtime.settings)


def _answer_with(
    http_error: type[HTTPException],
) -> Callable[[Request[Any, Any, Any], Exception], Response[ErrorBody]]:
    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
        return http_error_response(request, http_error(str(exc)))

    return handle


class TenantSyncController(Controller):
    path = "/api/v1/tenants"
    tags = ["tenants"]
    guards = [internal_only]
    exception_handlers = {
        TenantNotFound: _answer_with(NotFound),
        UnknownValue: _answer_with(Unprocessable),
        ProductDatabaseUnavailable: _answer_with(ServiceUnavailableException),
    }

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
        if not _TENANT_ID.match(tenant_id):
            raise BadRequest(f"invalid tenant id {tenant_id!r}")
        return await sync.tenant_status(runtime, tenant_id)
