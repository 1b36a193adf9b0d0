"""Starting jobs, one contract for two adapters: the in-memory job store of the unit tier
(``orders_fakes.py``) and the PostgreSQL one (``backfill/store.py``) answer the same."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_connector_fnac.connector import FNAC
from keybuzz_devstack.testing import service_migrations
from keybuzz_orders.backfill.jobs import (
    REPORT,
    SEARCH,
    JobCounts,
    PageProgress,
    ReportState,
    ReportWindow,
)
from keybuzz_orders.backfill.store import PostgresJobStore
from keybuzz_orders.ports import JobStore
from keybuzz_orders.service import DEFINITION
from keybuzz_shared.db import create_pool
from orders_fakes import InMemoryJobStore

TENANT = "t-shop"


@dataclass
class Contract:
    jobs: JobStore
    end: Callable[[str, str], Awaitable[None]]  # (job id, status)


@pytest.fixture(params=["memory", "postgres"])
async def contract(
    request: pytest.FixtureRequest, make_database: Callable[..., Awaitable[str]]
) -> AsyncIterator[Contract]:
    if request.param == "memory":
        fake = InMemoryJobStore()

        async def end(job_id: str, status: str) -> None:
            fake.end(job_id, status)

        yield Contract(fake, end)
        return
    pool = await create_pool(await make_database("contract", service_migrations(DEFINITION)))

    store = PostgresJobStore(pool)

    async def pg_end(job_id: str, status: str) -> None:
        await store.end_job(job_id, status, "ended by the test", owner=None)

    yield Contract(store, pg_end)
    await pool.close()


async def insert(
    jobs: JobStore,
    tenant_id: str = TENANT,
    event_id: str | None = None,
    marketplace: str = AMAZON,
) -> str | None:
    job = await jobs.insert_job(
        tenant_id=tenant_id,
        marketplace=marketplace,
        marketplace_id="A13V1IB3VIYZZH",
        trigger="http",
        days=90,
        created_after="2026-08-25T09:00:00Z",
        owner="me",
        lease_seconds=120.0,
        source_event_id=event_id,
    )
    return None if job is None else job.job_id


async def test_one_running_job_per_tenant_and_marketplace(contract: Contract) -> None:
    first = await insert(contract.jobs)
    assert first is not None
    running = await contract.jobs.running_job(TENANT, AMAZON)
    assert running is not None and running.job_id == first and running.status == "RUNNING"
    assert running.created_after == "2026-08-25T09:00:00Z" and running.days == 90
    assert await insert(contract.jobs) is None  # the tenant's job runs
    assert await insert(contract.jobs, tenant_id="t-other") is not None  # another tenant's may
    fnac = await insert(contract.jobs, marketplace=FNAC)  # the tenant's Fnac import may
    assert fnac is not None
    assert await insert(contract.jobs, marketplace=FNAC) is None
    found = await contract.jobs.running_job(TENANT, FNAC)
    assert found is not None and found.job_id == fnac and found.marketplace == FNAC
    assert sorted(await contract.jobs.running_jobs_of(TENANT)) == sorted([first, fnac])
    await contract.end(first, "COMPLETED")
    assert await contract.jobs.running_job(TENANT, AMAZON) is None
    assert await insert(contract.jobs) not in (None, first)  # once it ended, a new one


async def test_one_job_per_event_even_once_it_ended(contract: Contract) -> None:
    assert await contract.jobs.job_for_event("ev-1") is None
    first = await insert(contract.jobs, event_id="ev-1")
    assert first is not None
    await contract.end(first, "FAILED")
    assert await insert(contract.jobs, event_id="ev-1") is None
    found = await contract.jobs.job_for_event("ev-1")
    assert found is not None and found.job_id == first and found.status == "FAILED"


async def test_a_job_runs_under_its_owner_s_lease_page_by_page_to_its_end(
    contract: Contract,
) -> None:
    jobs = contract.jobs
    job_id = await insert(jobs)
    assert job_id is not None
    newest = datetime(2026, 11, 1, tzinfo=UTC)
    page = PageProgress(JobCounts(pages=1, orders=2, created=2), "tok-2", None, newest)
    saved = await jobs.checkpoint_job(job_id, "me", page, 120.0, (SEARCH, "one page"))
    assert saved is not None and saved.status == "RUNNING" and saved.pagination_token == "tok-2"
    assert (saved.strategy, saved.counts.orders, saved.newest_order_at) == (SEARCH, 2, newest)
    assert await jobs.checkpoint_job(job_id, "someone-else", page, 120.0) is None  # not theirs
    await jobs.note_error(job_id, "me", "SP-API down", 1)
    await jobs.restart_window(job_id, "me")  # the token expired: the window again
    again = await jobs.get_job(job_id)
    assert again is not None and again.pagination_token is None
    assert (again.last_error, again.counts.rate_limit_waits) == ("SP-API down", 1)
    end = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    last = PageProgress(JobCounts(pages=1, orders=1, updated=1), None, end, None)
    done = await jobs.checkpoint_job(job_id, "me", last, 120.0)
    assert done is not None and done.status == "COMPLETED" and done.owner is None
    assert (done.created_before, done.counts.orders, done.counts.pages) == (end, 3, 2)
    assert done.finished_at is not None and done.last_error is None and done.strategy == SEARCH
    assert await jobs.checkpoint_job(job_id, "me", last, 120.0) is None  # ended


async def test_a_report_job_checkpoints_each_window_on_its_own(contract: Contract) -> None:
    jobs = contract.jobs
    job_id = await insert(jobs)
    assert job_id is not None
    windows = [
        ReportWindow(start="2026-08-25T09:00:00Z", end="2026-09-24T09:00:00Z"),
        ReportWindow(start="2026-09-24T09:00:00Z", end="2026-10-24T09:00:00Z"),
    ]
    plan = ReportState(windows=windows, phase="REPORTS", tail_after="x", strategy_reason="big")
    saved = await jobs.advance_job(job_id, "me", PageProgress(JobCounts()), plan, 120.0)
    assert saved is not None and (saved.strategy, saved.phase) == (REPORT, "REPORTS")
    one = ReportWindow(start=windows[1].start, end=windows[1].end, report_id="r-2", imported=500)
    step = PageProgress(JobCounts(orders=500, created=500))
    saved = await jobs.advance_job(job_id, "me", step, ReportState(window=(1, one)), 120.0)
    assert saved is not None and saved.report_windows is not None
    assert [(w.report_id, w.imported) for w in saved.report_windows] == [(None, 0), ("r-2", 500)]
    assert (saved.tail_after, saved.strategy_reason, saved.counts.orders) == ("x", "big", 500)
    assert saved.status == "RUNNING"  # a report step never completes the job
    await jobs.switch_to_orders_v0(job_id, "me", "refused")
    switched = await jobs.get_job(job_id)
    assert switched is not None and switched.strategy == "ORDERS_V0"


async def test_a_released_job_is_claimed_by_the_next_owner_a_cancelled_one_never(
    contract: Contract,
) -> None:
    jobs = contract.jobs
    first, second = await insert(jobs), await insert(jobs, tenant_id="t-other")
    assert first is not None and second is not None
    await jobs.renew_leases("me", 120.0)
    assert await jobs.claim_orphans("next", 120.0) == []  # leased
    await jobs.release_jobs("me")
    assert sorted(await jobs.claim_orphans("next", 120.0)) == sorted([first, second])
    assert await jobs.running_jobs_of(TENANT) == [first]
    ended = await jobs.end_job(first, "CANCELLED", "connection.disconnected", owner=None)
    assert ended is not None and (ended.status, ended.reason) == (
        "CANCELLED",
        "connection.disconnected",
    )
    assert await jobs.end_job(first, "FAILED", "again", owner=None) is None
    assert await jobs.running_jobs_of(TENANT) == []
    await jobs.release_jobs("next")
    assert await jobs.claim_orphans("third", 120.0) == [second]
