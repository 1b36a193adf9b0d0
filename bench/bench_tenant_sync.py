"""tenant-sync ``POST /api/v1/tenants/sync-all`` over 10,000 product tenants.

The service runs in-process on the real stack; the figure is the HTTP call's
wall time: read the product tenants (one query), upsert them (one statement),
write 10,000 ``tenant.synced`` outbox rows (one pipelined batch). A second call
with nothing changed shows the cost of a routine re-sync (no writes).
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
from keybuzz_devstack import bootstrap
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_devstack.testing import RunningService, run_in_process
from keybuzz_shared.settings import DEV_INTERNAL_API_KEY
from keybuzz_tenant_sync.service import DEFINITION

from bench.harness import BenchContext, Figure, postgres_batched_insert_rate

TENANTS = 10_000
PLANS = ("free", "starter", "pro", "enterprise")
STATUSES = ("active", "trial", "suspended", "archived")
# The durables of tenant-sync's connection projection: tenant-sync-connection-<kind>.
CONNECTION_EVENTS = ("connected", "disconnected", "reauth-required")


async def run(ctx: BenchContext) -> list[Figure]:
    product = await ctx.make_database("bench_product")
    backend = await ctx.make_database("bench_tenant_sync")
    await _seed_product(product, TENANTS)
    insert_seconds = TENANTS / await postgres_batched_insert_rate(backend, TENANTS)
    service = await run_in_process(
        DEFINITION,
        {
            "NATS_URL": ctx.nats_url,
            "DATABASE_URL": backend,
            "PRODUCT_DATABASE_URL": product,
            "VAULT_ADDR": ctx.vault_addr,
            "VAULT_TOKEN": DEV_VAULT_ROOT_TOKEN,
            "LOG_LEVEL": "WARNING",
        },
    )
    try:
        await _consumers_idle(service)
        cold, created = await _sync_all(service)
        warm, skipped = await _sync_all(service)
    finally:
        await service.stop()
    assert created == TENANTS and skipped == TENANTS, (created, skipped)
    note = f"{TENANTS} product tenants; baseline: executemany INSERT of {TENANTS} rows"
    return [
        {
            "name": "tenant-sync sync-all 10k",
            "value": cold,
            "unit": "s",
            "baseline": insert_seconds,
            "note": f"{note}; all created, 10k tenant.synced in the outbox",
        },
        {
            "name": "tenant-sync sync-all 10k, unchanged",
            "value": warm,
            "unit": "s",
            "baseline": insert_seconds,
            "note": f"{note}; all skipped, nothing written",
        },
    ]


async def _seed_product(url: str, count: int) -> None:
    await bootstrap.seed_product_database(url, with_tenants=False)
    conn = await asyncpg.connect(url)
    try:
        rows = [
            (f"bench-{i:05d}", f"Bench Shop {i}", PLANS[i % 4], STATUSES[i % 4], "FR")
            for i in range(count)
        ]
        await conn.copy_records_to_table(
            "tenants", records=rows, columns=["id", "name", "plan", "status", "country"]
        )
    finally:
        await conn.close()


async def _consumers_idle(service: RunningService) -> None:
    """A new durable consumer first replays the stream's history (other benchmarks
    publish thousands of tenant.archived, and connection events): let it finish so
    that it is not timed."""
    js = service.runtime.js
    durables = [
        *(("TENANTS", f"tenant-sync-tenant-{k}") for k in ("created", "updated", "archived")),
        *(("CONNECTIONS", f"tenant-sync-connection-{k}") for k in CONNECTION_EVENTS),
    ]
    while True:
        infos = [await js.consumer_info(stream, durable) for stream, durable in durables]
        if all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos):
            return
        await asyncio.sleep(0.1)


async def _sync_all(service: RunningService) -> tuple[float, int]:
    """Seconds of one sync-all call, and how many tenants it created or skipped."""
    headers = {"X-Internal-Key": DEV_INTERNAL_API_KEY}
    async with httpx.AsyncClient(base_url=service.url, timeout=120, headers=headers) as http:
        start = time.perf_counter()
        response = await http.post("/api/v1/tenants/sync-all")
        seconds = time.perf_counter() - start
    response.raise_for_status()
    results = response.json()["results"]
    return seconds, len(results["created"]) or len(results["skipped"])
