"""For tests of a shop API connector's orders through the orders service run in-process
(``testing.start_service``): the shop connected as oauth connects it, its backfill job
awaited, its orders read over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from keybuzz_shared.auth import issue_token
from keybuzz_shared.settings import DEV_JWT_SECRET, DEV_VAULT_TOKEN
from keybuzz_shared.vault import VaultClient

from keybuzz_devstack import infra
from keybuzz_devstack.testing import RunningService, eventually


async def start_orders_alone(
    start_service: Callable[..., Awaitable[RunningService]],
    orders: Any,
    own_nats: infra.RunningServer,
    **settings: str,
) -> RunningService:
    """The orders service (``orders``: its definition) on a NATS of the test's own
    (``private_nats``): the session's carries other tests' connections, which it would
    backfill too. Its sync runs when the test says."""
    return await start_service(
        orders,
        NATS_URL=own_nats.spec.url,
        ORDERS_SYNC_INTERVAL_SECONDS="3600",
        **settings,
    )


async def orders_api(
    orders: RunningService, tenant: str, path: str, **params: str
) -> dict[str, Any]:
    """``GET /api/v1/orders<path>`` as an agent of ``tenant``; asserts a 200."""
    token = issue_token(DEV_JWT_SECRET, "agent-1", tenants=[tenant])
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}
    async with orders.client() as http:
        answer = await http.get(f"/api/v1/orders{path}", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def connect_shop(
    orders: RunningService,
    vault_addr: str,
    marketplace: str,
    tenant: str,
    fields: Mapping[str, str],
    seller_id: str,
) -> None:
    """As oauth does it (``RunningService.connect_shop``), with a Vault client of its own."""
    vault = VaultClient(vault_addr, token=DEV_VAULT_TOKEN)
    try:
        await orders.connect_shop(vault, marketplace, dict(fields), seller_id, tenant)
    finally:
        await vault.aclose()


async def finished_backfill(orders: RunningService, tenant: str) -> dict[str, Any]:
    """The tenant's backfill job over HTTP once it has left RUNNING (90 s at most)."""

    async def probe() -> dict[str, Any] | None:
        job_id = await orders.runtime.pool.fetchval(
            "SELECT id::text FROM order_backfill_jobs WHERE tenant_id = $1", tenant
        )
        if job_id is None:
            return None
        job = await orders_api(orders, tenant, f"/backfill/{job_id}")
        return job if job["status"] != "RUNNING" else None

    job: dict[str, Any] = await eventually(probe, 90)
    return job
