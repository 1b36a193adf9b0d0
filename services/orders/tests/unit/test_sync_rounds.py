"""The incremental sync's decisions on in-memory ports: which tenants get a round, where
the cursor goes (the source's answer, never our clock), what stops a sync and what only
waits. The rounds against the sandbox stay in ``test_sync.py``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_orders.domain import OrderRow
from keybuzz_orders.order_source import SourceRefused, SourceUnavailable
from keybuzz_orders.sync import NoSyncCursor, OrderSync
from orders_fakes import FR, NOW, FakeOrders, fake_orders, item, shipped_order

TENANT = "t-shop"
CURSOR = NOW - timedelta(hours=1)


def order(n: int, updated_minutes_ago: int) -> OrderRow:
    at = NOW - timedelta(minutes=updated_minutes_ago)
    return shipped_order(
        f"407-0000000-{n:07d}",
        placed=at - timedelta(days=3),
        updated=at,
        items=[item(f"i-{n}", asin=None, title=None)],
    )


@pytest.fixture
async def fake() -> FakeOrders:
    fake = fake_orders()
    await fake.orders.start_sync(TENANT, AMAZON, FR, CURSOR)
    return fake


def sync(fake: FakeOrders, page_size: int = 100) -> OrderSync:
    return OrderSync(replace(fake.ports.sync, page_size=page_size))


async def test_a_round_reads_every_page_since_the_cursor_and_moves_it_to_the_source_s(
    fake: FakeOrders,
) -> None:
    fake.source.add(TENANT, order(1, 200), *(order(n, 50 - n) for n in range(2, 7)))
    result = await sync(fake, page_size=2).sync_now(TENANT)
    # Only what changed since the cursor (the order changed 200 minutes ago is not read).
    assert (result.orders, result.created, result.pages) == (5, 5, 3)
    assert result.last_updated_before == fake.source.now  # the source's cursor, not a clock
    held = fake.orders.cursors[(TENANT, AMAZON)]
    assert held.updated_before == fake.source.now and held.seen == 5
    windows = fake.source.windows
    assert all(w.updated_after == CURSOR and w.marketplace_id == FR for w in windows)
    assert [w.page_token for w in windows] == [None, "2", "4"]
    again = await sync(fake).sync_now(TENANT)  # nothing changed since: nothing written
    assert (again.orders, again.created) == (0, 0)


async def test_revoked_credentials_stop_the_sync_an_outage_only_waits(fake: FakeOrders) -> None:
    fake.source.add(TENANT, order(1, 10))
    fake.source.failures.append(SourceUnavailable("SP-API searchOrders answered 503"))
    assert (await sync(fake).sync_now(TENANT)).errors == 1
    held = fake.orders.cursors[(TENANT, AMAZON)]
    assert held.status == "ACTIVE" and held.updated_before == CURSOR
    assert held.last_error == "SP-API searchOrders answered 503"
    fake.source.failures.append(SourceRefused("the seller revoked the application"))
    assert (await sync(fake).sync_now(TENANT)).errors == 1
    assert held.status == "STOPPED" and held.updated_before == CURSOR
    with pytest.raises(NoSyncCursor):
        await sync(fake).sync_now(TENANT)


async def test_a_cursor_stays_when_the_source_says_nothing_of_where_it_ended(
    fake: FakeOrders,
) -> None:
    fake.source.add(TENANT, order(1, 10))
    fake.source.gives_cursor = False
    result = await sync(fake).sync_now(TENANT)
    assert result.orders == 1 and result.last_updated_before is None
    assert fake.orders.cursors[(TENANT, AMAZON)].updated_before == CURSOR


async def test_due_rounds_skip_tenants_whose_backfill_runs_and_those_stopped(
    fake: FakeOrders,
) -> None:
    fake.orders.now = lambda: NOW + timedelta(hours=1)  # every cursor is due
    for tenant in ("t-backfilling", "t-gone"):
        fake.source.add(tenant)
        await fake.orders.start_sync(tenant, AMAZON, FR, CURSOR)
    fake.orders.cursors[("t-backfilling", AMAZON)].last_run_at = None
    fake.orders.cursors[("t-gone", AMAZON)].last_run_at = None
    fake.orders.cursors[(TENANT, AMAZON)].last_run_at = None
    await fake.jobs.insert_job(
        tenant_id="t-backfilling",
        marketplace=AMAZON,
        marketplace_id=FR,
        trigger="http",
        days=90,
        created_after="2026-08-25T09:00:00Z",
        owner="me",
        lease_seconds=120.0,
        source_event_id=None,
    )
    await sync(fake).stop("t-gone", "connection.disconnected: revoked")
    fake.source.add(TENANT, order(1, 10))
    results = await sync(fake).sync_due()
    assert [r.tenant_id for r in results] == [TENANT]
    assert await sync(fake).sync_due() == []  # claimed: the next round is an interval away


async def test_forgetting_what_a_connection_brought_takes_only_its_marketplaces_orders(
    fake: FakeOrders,
) -> None:
    await fake.orders.upsert_orders(TENANT, AMAZON, [order(1, 10), order(2, 20)])
    await fake.orders.upsert_orders(TENANT, "DARTY", [order(3, 10)])
    await fake.orders.upsert_orders("t-other", "DARTY", [order(4, 10)])
    assert await sync(fake).forget_received(TENANT, "DARTY") == 1
    assert sorted(key for key in fake.orders.orders) == [
        ("t-other", "DARTY", order(4, 10).external_order_id),
        (TENANT, AMAZON, order(1, 10).external_order_id),
        (TENANT, AMAZON, order(2, 20).external_order_id),
    ]
    assert await sync(fake).forget_received(TENANT, "DARTY") == 0
