"""Operator actions over NATS: ``nats req keybuzz.orders.<action> '<json>'``."""

from __future__ import annotations

from typing import Any

import msgspec
from keybuzz_shared.app_budgets import app_budget_body
from keybuzz_shared.micro import MicroEndpoint
from keybuzz_shared.service import Runtime

from keybuzz_orders import schemas
from keybuzz_orders.backfill.backfill import Backfills
from keybuzz_orders.errors import ERROR_STATUSES, operator_error
from keybuzz_orders.schemas import OperatorBackfillRequest, OperatorSyncRequest
from keybuzz_orders.sync import OrderSync


def micro_endpoints(runtime: Runtime[Any]) -> list[MicroEndpoint]:
    async def backfill(data: bytes) -> object:
        request = msgspec.json.decode(data or b"{}", type=OperatorBackfillRequest)
        days = request.days or runtime.settings.backfill_days
        try:
            started = await runtime.component(Backfills).start(
                request.tenant_id, days, "nats", marketplace=request.marketplace.value
            )
        except tuple(ERROR_STATUSES) as exc:
            raise operator_error(exc) from exc
        return schemas.backfill_job(started.job, already_running=not started.created)

    async def sync(data: bytes) -> object:
        request = msgspec.json.decode(data or b"{}", type=OperatorSyncRequest)
        try:
            return await runtime.component(OrderSync).sync_now(request.tenant_id)
        except tuple(ERROR_STATUSES) as exc:
            raise operator_error(exc) from exc

    async def budgets(_: bytes) -> object:
        found = await runtime.component(OrderSync).budgeted(fresh=True)
        return [app_budget_body(b) for b in found]

    return [
        MicroEndpoint(
            "backfill",
            backfill,
            "import a tenant's orders: {tenantId, days?, marketplace?}; returns the job"
            " (or the one running on that marketplace)",
        ),
        MicroEndpoint(
            "sync",
            sync,
            "fetch a tenant's order changes since the last sync now: {tenantId}",
        ),
        MicroEndpoint(
            "budgets",
            budgets,
            "each marketplace whose order API has an application call budget: its shops "
            "syncing now and the interval between a shop's syncs the budget gives: {}",
        ),
    ]
