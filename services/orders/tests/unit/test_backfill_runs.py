"""Running backfill jobs on in-memory ports: how a job goes page by page to its end, how
it chooses reports, falls back, waits, restarts its window or fails, and what it says
(``order.backfill.*``). The same flows against the sandbox, with restarts and two
instances, stay in ``test_backfill*.py``."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import msgspec
import pytest
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_orders.backfill.backfill import Backfills
from keybuzz_orders.backfill.jobs import ORDERS_V0, REPORT, SEARCH, JobView, WindowState
from keybuzz_orders.backfill.starting import JobRequest, start_job
from keybuzz_orders.domain import OrderRow
from keybuzz_orders.order_source import (
    AccessDenied,
    QueryRefused,
    ReportStage,
    SourceRefused,
    SourceUnavailable,
)
from keybuzz_shared.events import OrderBackfillCompleted, OrderBackfillFailed
from orders_fakes import FR, NOW, FakeOrders, fake_orders, item, shipped_order

TENANT = "t-shop"


def order(n: int, days_ago: float) -> OrderRow:
    at = NOW - timedelta(days=days_ago)
    return shipped_order(
        f"407-0000000-{n:07d}",
        placed=at,
        updated=at + timedelta(hours=1),
        items=[item(f"i-{n}")],
        customer_name="Ann",
    )


def backfills(fake: FakeOrders, **settings: object) -> Backfills:
    tuned = msgspec.structs.replace(fake.ports.backfill.settings, **settings)
    return Backfills(dataclasses.replace(fake.ports.backfill, settings=tuned))


async def run_job(fake: FakeOrders, runner: Backfills, days: int = 90) -> JobView:
    fake.marketplaces.connected[TENANT] = FR
    started = await start_job(runner.ports, JobRequest(TENANT, days, "http"), runner.owner)
    await runner.run(started.job.job_id)
    job = await fake.jobs.get_job(started.job.job_id)
    assert job is not None
    return job


@pytest.fixture
def fake() -> FakeOrders:
    fake = fake_orders()
    # 30 orders over the last 60 days, one every two days; one older than the window.
    fake.source.add(TENANT, order(999, 120), *(order(n, 60 - 2 * n) for n in range(30)))
    return fake


async def test_a_search_job_reads_page_by_page_and_hands_over_to_the_sync(
    fake: FakeOrders,
) -> None:
    job = await run_job(fake, backfills(fake, backfill_page_size=8))
    assert (job.status, job.strategy, job.owner) == ("COMPLETED", SEARCH, None)
    assert (job.counts.orders, job.counts.created, job.counts.pages) == (30, 30, 4)
    assert job.created_before == fake.source.now  # the source's end of the window
    assert [w.page_token for w in fake.source.windows] == [None, "8", "16", "24"]
    assert len(fake.orders.orders) == 30  # the order older than the window is not read
    cursor = fake.orders.cursors[(TENANT, AMAZON)]
    assert (cursor.updated_before, cursor.status) == (fake.source.now, "ACTIVE")
    (completed,) = fake.backfill_units.published
    assert isinstance(completed, OrderBackfillCompleted)
    assert (completed.job_id, completed.counts.fetched, completed.counts.created) == (
        job.job_id,
        30,
        30,
    )


async def test_a_large_window_goes_through_reports_then_a_tail(fake: FakeOrders) -> None:
    fake.reports.unreadable = {order(3, 0).external_order_id}
    runner = backfills(fake, backfill_page_size=2, backfill_report_threshold=4)
    job = await run_job(fake, runner)
    assert (job.status, job.strategy, job.phase) == ("COMPLETED", REPORT, "TAIL")
    assert job.report_windows is not None and len(job.report_windows) == 3  # 30-day windows
    assert all(w.state is WindowState.DONE for w in job.report_windows)
    assert len(fake.reports.reports) == 3 and job.counts.errors == 1  # the unreadable line
    assert len(fake.orders.orders) == 29 and job.created_before == fake.source.now
    # The tail starts an hour before the reports' end, one day before the window's.
    tail = fake.source.windows[-1]
    assert tail.created_after == NOW - timedelta(hours=25)
    assert [type(e) for e in fake.backfill_units.published] == [OrderBackfillCompleted]


async def test_a_failed_report_s_window_is_read_page_by_page(fake: FakeOrders) -> None:
    fake.reports.outcome = ReportStage.FAILED
    runner = backfills(fake, backfill_page_size=2, backfill_report_threshold=4)
    job = await run_job(fake, runner)
    assert job.status == "COMPLETED" and job.report_windows is not None
    assert [w.note for w in job.report_windows] == ["report FATAL"] * 3
    windowed = [w for w in fake.source.windows if w.created_before is not None]
    assert windowed and all(
        w.created_before - w.created_after <= timedelta(days=30)
        for w in windowed
        if w.created_after
    )
    assert len(fake.orders.orders) == 30


async def test_a_listing_refused_to_us_falls_back_to_orders_v0(fake: FakeOrders) -> None:
    fake.fallback.add(TENANT, *fake.source.sellers[TENANT].values())
    fake.source.failures.append(AccessDenied("SP-API searchOrders answered 403", "HTTP 403 X"))
    job = await run_job(fake, backfills(fake, backfill_page_size=10))
    assert (job.status, job.strategy) == ("COMPLETED", ORDERS_V0)
    assert job.strategy_reason is not None and "refused (HTTP 403 X)" in job.strategy_reason
    assert len(fake.orders.orders) == 30
    # Orders v0's rows lack the buyer: none counts as read in full.
    assert await fake.orders.known_order_ids(TENANT, AMAZON, ["407-0000000-0000001"]) == set()


async def test_an_expired_page_token_reads_the_window_again(fake: FakeOrders) -> None:
    runner = backfills(fake, backfill_page_size=8)
    fake.marketplaces.connected[TENANT] = FR
    started = await start_job(runner.ports, JobRequest(TENANT, 90, "http"), runner.owner)
    real = fake.source.orders_in_window
    calls = 0

    async def expiring(tenant_id, window):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:  # the second page's token expired meanwhile
            raise QueryRefused("SP-API searchOrders answered 400 InvalidInput")
        return await real(tenant_id, window)

    fake.source.orders_in_window = expiring  # type: ignore[method-assign]
    await runner.run(started.job.job_id)
    job = await fake.jobs.get_job(started.job.job_id)
    assert job is not None and job.status == "COMPLETED"
    assert (job.counts.orders, job.counts.created, job.counts.unchanged) == (38, 30, 8)


async def test_refusals_fail_the_job_and_say_why(fake: FakeOrders) -> None:
    fake.source.failures.append(SourceRefused("credentials of tenant t-shop are missing"))
    job = await run_job(fake, backfills(fake))
    assert (job.status, job.reason) == ("FAILED", "credentials of tenant t-shop are missing")
    (failed,) = fake.backfill_units.published
    assert isinstance(failed, OrderBackfillFailed) and failed.reason == job.reason
    assert fake.orders.orders == {}


async def test_a_bad_first_query_fails_instead_of_looping(fake: FakeOrders) -> None:
    fake.source.failures.append(QueryRefused("SP-API searchOrders answered 400 InvalidInput"))
    job = await run_job(fake, backfills(fake))
    assert job.status == "FAILED" and job.reason is not None and "400" in job.reason


async def test_an_outage_waits_and_the_job_goes_on(fake: FakeOrders) -> None:
    fake.source.failures.append(SourceUnavailable("SP-API searchOrders answered 503"))
    job = await run_job(fake, backfills(fake))
    assert job.status == "COMPLETED" and job.counts.orders == 30
    assert job.last_error is None  # noted while it waited, cleared by the next page


async def test_a_disconnected_tenant_s_job_is_cancelled_and_says_so(fake: FakeOrders) -> None:
    runner = backfills(fake)
    fake.marketplaces.connected[TENANT] = FR
    started = await start_job(runner.ports, JobRequest(TENANT, 90, "http"), runner.owner)
    assert await runner.stop_tenant(TENANT, "connection.disconnected: revoked") == [
        started.job.job_id
    ]
    await runner.run(started.job.job_id)  # nothing left to run
    job = await fake.jobs.get_job(started.job.job_id)
    assert job is not None and (job.status, job.reason) == (
        "CANCELLED",
        "connection.disconnected: revoked",
    )
    assert fake.source.windows == [] and fake.orders.orders == {}
    (cancelled,) = fake.backfill_units.published
    assert isinstance(cancelled, OrderBackfillFailed)
    assert await runner.stop_tenant(TENANT, "again") == []
