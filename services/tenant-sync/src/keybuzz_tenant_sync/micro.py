"""Operator actions over NATS: ``nats req keybuzz.tenant-sync.<action> '<json>'``.

The same use cases, bodies (``schemas.py``) and error codes (``errors.py``) as HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import msgspec
from keybuzz_shared.http import status_for
from keybuzz_shared.micro import MicroEndpoint, OperatorError

from keybuzz_tenant_sync import sync
from keybuzz_tenant_sync.bootstrap import TenantSyncRuntime, ports_of
from keybuzz_tenant_sync.errors import ERROR_STATUSES
from keybuzz_tenant_sync.schemas import (
    StatusRequest,
    SyncRequest,
    status_body,
    sync_all_body,
    sync_body,
)

T = TypeVar("T")


async def _refusing(work: Awaitable[T]) -> T:
    """Use-case errors answer with the same codes as over HTTP (errors.ERROR_STATUSES)."""
    try:
        return await work
    except tuple(ERROR_STATUSES) as exc:
        raise OperatorError(str(exc), str(status_for(exc, ERROR_STATUSES))) from exc


def micro_endpoints(runtime: TenantSyncRuntime) -> list[MicroEndpoint]:
    async def sync_tenant(data: bytes) -> object:
        request = msgspec.json.decode(data, type=SyncRequest)
        work = sync.sync_tenant(
            ports_of(runtime),
            request.tenant_id,
            create_inbound_address=request.create_inbound_address,
            country=request.country,
        )
        return sync_body(await _refusing(work))

    async def sync_all(_: bytes) -> object:
        return sync_all_body(await _refusing(sync.sync_all(ports_of(runtime))))

    async def status(data: bytes) -> object:
        request = msgspec.json.decode(data, type=StatusRequest)
        return status_body(
            await _refusing(sync.tenant_status(ports_of(runtime), request.tenant_id))
        )

    return [
        MicroEndpoint(
            "sync-tenant",
            sync_tenant,
            "copy one product tenant: {tenantId, createInboundAddress, country}",
        ),
        MicroEndpoint("sync-all", sync_all, "copy every product tenant: {}"),
        MicroEndpoint("status", status, "product vs marketplace view of a tenant: {tenantId}"),
    ]
