"""Starting jobs, one contract for two adapters: the in-memory job store of the unit tier
(``orders_fakes.py``) and the PostgreSQL one (``backfill/store.py``) answer the same."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from keybuzz_orders.backfill import store as job_store
from keybuzz_orders.backfill.store import PostgresJobStore
from keybuzz_orders.ports import JobStore
from keybuzz_orders.service import DEFINITION
from keybuzz_shared.db import apply_migrations, create_pool
from keybuzz_shared.ids import AMAZON
from orders_fakes import InMemoryJobStore

TENANT = "t-shop"


@dataclass
class Contract:
    jobs: JobStore
    end: Callable[[str, str], Awaitable[None]]  # (job id, status)


@pytest.fixture(params=["memory", "postgres"])
async def contract(
    request: pytest.FixtureRequest, make_database: Callable[[str], Awaitable[str]]
) -> AsyncIterator[Contract]:
    if request.param == "memory":
        fake = InMemoryJobStore()

        async def end(job_id: str, status: str) -> None:
            fake.end(job_id, status)

        yield Contract(fake, end)
        return
    pool = await create_pool(await make_database("contract"))
    assert DEFINITION.migrations is not None
    await apply_migrations(pool, DEFINITION.name, DEFINITION.migrations)

    async def pg_end(job_id: str, status: str) -> None:
        async with pool.acquire() as conn:
            await job_store.end_job(conn, job_id, status, "ended by the test", owner=None)

    yield Contract(PostgresJobStore(pool), pg_end)
    await pool.close()


async def insert(
    jobs: JobStore, tenant_id: str = TENANT, event_id: str | None = None
) -> str | None:
    job = await jobs.insert_job(
        tenant_id=tenant_id, marketplace=AMAZON, marketplace_id="A13V1IB3VIYZZH",
        trigger="http", days=90, created_after="2026-08-25T09:00:00Z", owner="me",
        lease_seconds=120.0, source_event_id=event_id,
    )  # fmt: skip
    return None if job is None else job.job_id


async def test_one_running_job_per_tenant(contract: Contract) -> None:
    first = await insert(contract.jobs)
    assert first is not None
    running = await contract.jobs.running_job(TENANT)
    assert running is not None and running.job_id == first and running.status == "RUNNING"
    assert running.created_after == "2026-08-25T09:00:00Z" and running.days == 90
    assert await insert(contract.jobs) is None  # the tenant's job runs
    assert await insert(contract.jobs, tenant_id="t-other") is not None  # another tenant's may
    await contract.end(first, "COMPLETED")
    assert await contract.jobs.running_job(TENANT) is None
    assert await insert(contract.jobs) not in (None, first)  # once it ended, a new one


async def test_one_job_per_event_even_once_it_ended(contract: Contract) -> None:
    assert await contract.jobs.job_for_event("ev-1") is None
    first = await insert(contract.jobs, event_id="ev-1")
    assert first is not None
    await contract.end(first, "FAILED")
    assert await insert(contract.jobs, event_id="ev-1") is None
    found = await contract.jobs.job_for_event("ev-1")
    assert found is not None and found.job_id == first and found.status == "FAILED"
