"""Starting a backfill job on in-memory ports: no server. The PostgreSQL adapter is held
to the same answers by ``test_job_store_contract.py``; jobs running, pages stored and
resumed stay in ``test_backfill*.py``."""

from __future__ import annotations

import pytest
from keybuzz_connector_amazon import CredentialsMissing
from keybuzz_orders.backfill.jobs import InvalidDays
from keybuzz_orders.backfill.starting import JobRequest, start_job
from orders_fakes import FR, FakeOrders, fake_orders

TENANT = "t-shop"


@pytest.fixture
def orders() -> FakeOrders:
    fake = fake_orders()
    fake.marketplaces.connected[TENANT] = FR
    return fake


async def test_a_new_job_covers_the_days_asked_from_now_on_the_seller_s_marketplace(
    orders: FakeOrders,
) -> None:
    started = await start_job(orders.ports.backfill, JobRequest(TENANT, 90, "http"), "me")
    assert started.created
    assert started.job.created_after == "2026-08-25T09:00:00Z"  # 90 days before NOW
    assert started.job.status == "RUNNING" and started.job.days == 90


async def test_a_redelivered_event_gets_the_job_its_first_delivery_started(
    orders: FakeOrders,
) -> None:
    request = JobRequest(TENANT, 90, "connection.connected", source_event_id="ev-1")
    first = await start_job(orders.ports.backfill, request, "me")
    orders.jobs.end(first.job.job_id, "COMPLETED")  # finished before the redelivery,
    del orders.marketplaces.connected[TENANT]  # and the seller disconnected meanwhile
    again = await start_job(orders.ports.backfill, request, "me")
    assert not again.created and again.job.job_id == first.job.job_id
    assert len(orders.jobs.jobs) == 1


async def test_a_start_while_the_tenant_s_job_runs_gets_that_job(orders: FakeOrders) -> None:
    running = await start_job(orders.ports.backfill, JobRequest(TENANT, 90, "http"), "me")
    second = await start_job(orders.ports.backfill, JobRequest(TENANT, 30, "nats"), "other")
    assert not second.created and second.job.job_id == running.job.job_id
    orders.jobs.end(running.job.job_id, "FAILED")
    third = await start_job(orders.ports.backfill, JobRequest(TENANT, 30, "nats"), "other")
    assert third.created and third.job.days == 30  # once it ended, a new one


async def test_a_tenant_without_credentials_is_refused_before_a_job_exists(
    orders: FakeOrders,
) -> None:
    with pytest.raises(CredentialsMissing):
        await start_job(orders.ports.backfill, JobRequest("t-gone", 90, "http"), "me")
    assert orders.jobs.jobs == {}


async def test_days_outside_amazon_s_two_years_are_refused_before_anything(
    orders: FakeOrders,
) -> None:
    with pytest.raises(InvalidDays):
        await start_job(orders.ports.backfill, JobRequest("t-gone", 731, "http"), "me")
    assert orders.jobs.jobs == {}
