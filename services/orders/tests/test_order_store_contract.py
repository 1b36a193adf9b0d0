"""The orders' store, one contract for two adapters: the in-memory stores of the unit tier
(``orders_fakes.py``) and the PostgreSQL ones (``store.PostgresOrderStore``,
``notification_store.PostgresDetailStore``) answer the same: what an upsert counts and
keeps, which orders are held with a full read, how sync cursors are claimed, moved and
stopped, how the fetches of orders' details are leased and done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec
import pytest
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_connector_fnac.connector import FNAC
from keybuzz_devstack.testing import service_migrations
from keybuzz_orders.backfill.store import PostgresJobStore
from keybuzz_orders.domain import ItemRow, OrderRow, OrderStatus, new_order_row
from keybuzz_orders.notifications.notification_store import PostgresDetailStore
from keybuzz_orders.ports import DetailStore, JobStore, OrderStore
from keybuzz_orders.service import DEFINITION
from keybuzz_orders.store import PostgresOrderStore
from keybuzz_shared.app_budgets import RoundPace
from keybuzz_shared.db import create_pool
from orders_fakes import InMemoryDetailStore, InMemoryOrderStore

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TENANT, FR = "t-shop", "A13V1IB3VIYZZH"
ORDER, OTHER = "407-1111111-2222222", "407-3333333-4444444"


@dataclass
class Contract:
    store: OrderStore
    jobs: JobStore
    status_of: Callable[[str], Awaitable[OrderStatus | None]]
    line_states_of: Callable[[str, str], Awaitable[dict[str, str | None]]]  # marketplace, id
    refunds_of: Callable[[str, str], Awaitable[dict[str, Decimal | None]]]  # marketplace, id
    channel_of: Callable[[str, str], Awaitable[str | None]]  # marketplace, id


@pytest.fixture(params=["memory", "postgres"])
async def contract(
    request: pytest.FixtureRequest, make_database: Callable[..., Awaitable[str]]
) -> AsyncIterator[Contract]:
    if request.param == "memory":
        fake = InMemoryOrderStore()

        async def status_of(order_id: str) -> OrderStatus | None:
            held = fake.orders.get((TENANT, AMAZON, order_id))
            return None if held is None else held.row.order_status

        async def line_states_of(marketplace: str, order_id: str) -> dict[str, str | None]:
            held = fake.orders[(TENANT, marketplace, order_id)].row
            return {i.external_item_id: i.marketplace_state for i in held.items}

        async def refunds_of(marketplace: str, order_id: str) -> dict[str, Decimal | None]:
            held = fake.orders[(TENANT, marketplace, order_id)].row
            return {i.external_item_id: i.refunded_amount for i in held.items}

        async def channel_of(marketplace: str, order_id: str) -> str | None:
            return fake.orders[(TENANT, marketplace, order_id)].row.sales_channel

        yield Contract(fake, fake, status_of, line_states_of, refunds_of, channel_of)
        return
    pool = await create_pool(await make_database("contract", service_migrations(DEFINITION)))

    async def pg_status_of(order_id: str) -> OrderStatus | None:
        found = await pool.fetchval(
            "SELECT order_status::text FROM orders WHERE tenant_id = $1 AND external_order_id = $2",
            TENANT,
            order_id,
        )
        return None if found is None else OrderStatus(found)

    async def pg_line_states_of(marketplace: str, order_id: str) -> dict[str, str | None]:
        rows = await pool.fetch(
            "SELECT i.external_item_id, i.marketplace_state FROM order_items i"
            " JOIN orders o ON o.id = i.order_id WHERE o.tenant_id = $1 AND o.marketplace = $2"
            " AND o.external_order_id = $3",
            TENANT,
            marketplace,
            order_id,
        )
        return {r["external_item_id"]: r["marketplace_state"] for r in rows}

    async def pg_refunds_of(marketplace: str, order_id: str) -> dict[str, Decimal | None]:
        rows = await pool.fetch(
            "SELECT i.external_item_id, i.refunded_amount FROM order_items i"
            " JOIN orders o ON o.id = i.order_id WHERE o.tenant_id = $1 AND o.marketplace = $2"
            " AND o.external_order_id = $3",
            TENANT,
            marketplace,
            order_id,
        )
        return {r["external_item_id"]: r["refunded_amount"] for r in rows}

    async def pg_channel_of(marketplace: str, order_id: str) -> str | None:
        found: str | None = await pool.fetchval(
            "SELECT sales_channel FROM orders WHERE tenant_id = $1 AND marketplace = $2"
            " AND external_order_id = $3",
            TENANT,
            marketplace,
            order_id,
        )
        return found

    yield Contract(
        PostgresOrderStore(pool),
        PostgresJobStore(pool),
        pg_status_of,
        pg_line_states_of,
        pg_refunds_of,
        pg_channel_of,
    )
    await pool.close()


def order(
    status: OrderStatus, at: datetime, *, order_id: str = ORDER, name: str | None = "Ann"
) -> OrderRow:
    item = ItemRow(
        external_item_id="item-1",
        sku="SKU-1",
        asin="B0TEST",
        title="Mug",
        quantity=2,
        unit_price=None,
        currency=None,
    )
    return new_order_row(
        order_id,
        status,
        status.value,
        marketplace_id=FR,
        order_date=T0,
        marketplace_updated_at=at,
        items=[item],
        customer_name=name,
    )


async def test_an_upsert_counts_what_it_did_and_never_goes_back_in_time(
    contract: Contract,
) -> None:
    store, later = contract.store, T0 + timedelta(hours=1)
    first = await store.upsert_orders(TENANT, AMAZON, [order(OrderStatus.CONFIRMED, T0)])
    assert (first.orders, first.created, first.updated, first.unchanged, first.items) == (
        1,
        1,
        0,
        0,
        1,
    )
    again = await store.upsert_orders(TENANT, AMAZON, [order(OrderStatus.CONFIRMED, T0)])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    shipped = await store.upsert_orders(
        TENANT,
        AMAZON,
        [order(OrderStatus.SHIPPED, later), order(OrderStatus.CANCELLED, T0, order_id=OTHER)],
    )
    assert (shipped.created, shipped.updated, shipped.cancelled) == (1, 1, 1)
    older = await store.upsert_orders(TENANT, AMAZON, [order(OrderStatus.PENDING, T0)])
    assert (older.updated, older.unchanged) == (0, 1)
    assert await contract.status_of(ORDER) is OrderStatus.SHIPPED
    assert await store.upsert_orders(TENANT, AMAZON, []) == type(first)()


async def test_purging_a_marketplace_takes_the_tenants_orders_there_and_nothing_else(
    contract: Contract,
) -> None:
    store = contract.store
    await store.upsert_orders(TENANT, AMAZON, [order(OrderStatus.SHIPPED, T0)])
    await store.upsert_orders(TENANT, FNAC, [order(OrderStatus.SHIPPED, T0, order_id=OTHER)])
    await store.upsert_orders("t-other", FNAC, [order(OrderStatus.SHIPPED, T0, order_id=OTHER)])
    assert await store.purge_received(TENANT, FNAC) == 1
    assert await store.known_order_ids(TENANT, FNAC, [OTHER]) == set()
    assert await store.known_order_ids("t-other", FNAC, [OTHER]) == {OTHER}
    assert await contract.status_of(ORDER) is OrderStatus.SHIPPED  # its Amazon order stays
    assert await store.purge_received(TENANT, FNAC) == 0


async def test_a_line_s_marketplace_state_is_stored_and_follows_the_marketplace(
    contract: Contract,
) -> None:
    def fnac_order(line_state: str) -> OrderRow:
        line = ItemRow(
            external_item_id="1",
            sku="SKU-1",
            asin=None,
            title="Casque",
            quantity=1,
            unit_price=None,
            currency=None,
            marketplace_state=line_state,
        )
        return new_order_row(
            "1A2B3C4D5E6F7",
            OrderStatus.CONFIRMED,
            "ToShip",
            marketplace_id="shop-1",
            order_date=T0,
            marketplace_updated_at=T0,
            items=[line],
        )

    await contract.store.upsert_orders(TENANT, FNAC, [fnac_order("ToShip")])
    assert await contract.line_states_of(FNAC, "1A2B3C4D5E6F7") == {"1": "ToShip"}
    # The order unchanged, its line moved on: the line's state follows.
    await contract.store.upsert_orders(TENANT, FNAC, [fnac_order("Shipped")])
    assert await contract.line_states_of(FNAC, "1A2B3C4D5E6F7") == {"1": "Shipped"}
    await contract.store.upsert_orders(TENANT, AMAZON, [order(OrderStatus.SHIPPED, T0)])
    assert await contract.line_states_of(AMAZON, ORDER) == {"item-1": None}  # Amazon: none


async def test_a_line_s_refund_is_stored_and_follows_the_marketplace(contract: Contract) -> None:
    def refunded(amount: Decimal | None) -> OrderRow:
        line = ItemRow(
            external_item_id="SHOP-1-A-1",
            sku="SKU-1",
            asin=None,
            title="Tente",
            quantity=1,
            unit_price=Decimal("79.00"),
            currency="EUR",
            marketplace_state="RECEIVED",  # a partial refund leaves the line's state
            refunded_amount=amount,
        )
        return new_order_row(
            "SHOP-1-A",
            OrderStatus.DELIVERED,
            "RECEIVED",
            marketplace_id="2001",
            order_date=T0,
            marketplace_updated_at=T0,
            items=[line],
        )

    await contract.store.upsert_orders(TENANT, FNAC, [refunded(None)])
    assert await contract.refunds_of(FNAC, "SHOP-1-A") == {"SHOP-1-A-1": None}
    # The order unchanged, a refund on its line: the line's refund follows.
    await contract.store.upsert_orders(TENANT, FNAC, [refunded(Decimal("20.50"))])
    assert await contract.refunds_of(FNAC, "SHOP-1-A") == {"SHOP-1-A-1": Decimal("20.50")}


async def test_an_orders_sales_channel_is_stored_and_follows_the_marketplace(
    contract: Contract,
) -> None:
    def sold_on(channel: str | None) -> OrderRow:
        return msgspec.structs.replace(order(OrderStatus.SHIPPED, T0), sales_channel=channel)

    await contract.store.upsert_orders(TENANT, FNAC, [sold_on("Leroy Merlin France")])
    assert await contract.channel_of(FNAC, ORDER) == "Leroy Merlin France"
    # The order unchanged but for its channel: the channel follows.
    moved = await contract.store.upsert_orders(TENANT, FNAC, [sold_on("Leroy Merlin España")])
    assert moved.updated == 1
    assert await contract.channel_of(FNAC, ORDER) == "Leroy Merlin España"
    await contract.store.upsert_orders(TENANT, AMAZON, [order(OrderStatus.SHIPPED, T0)])
    assert await contract.channel_of(AMAZON, ORDER) is None  # a marketplace naming none


async def test_a_partial_row_never_erases_a_full_read(contract: Contract) -> None:
    store, later = contract.store, T0 + timedelta(hours=1)
    await store.upsert_orders(TENANT, AMAZON, [order(OrderStatus.SHIPPED, later)])
    # A report's row of the same moment changes nothing; only a strictly newer one does.
    same = await store.upsert_orders(
        TENANT, AMAZON, [order(OrderStatus.CONFIRMED, later, name=None)], partial=True
    )
    assert (same.updated, same.unchanged) == (0, 1)
    assert await contract.status_of(ORDER) is OrderStatus.SHIPPED
    newer = order(OrderStatus.DELIVERED, later + timedelta(minutes=1), name=None)
    assert (await store.upsert_orders(TENANT, AMAZON, [newer], partial=True)).updated == 1
    assert await contract.status_of(ORDER) is OrderStatus.DELIVERED
    # The order keeps its full read; a report-only order is not held with one.
    report_only = order(OrderStatus.SHIPPED, T0, order_id=OTHER, name=None)
    assert (await store.upsert_orders(TENANT, AMAZON, [report_only], partial=True)).created == 1
    known = await store.known_order_ids(TENANT, AMAZON, [ORDER, OTHER, "407-0000000-0000000"])
    assert known == {ORDER}
    assert await store.marketplace_of(TENANT, OTHER) == FR  # whatever read it
    assert await store.marketplace_of("t-other", OTHER) is None  # another tenant's: none
    # A full read replaces a report's row even at the same moment.
    full = await store.upsert_orders(
        TENANT, AMAZON, [order(OrderStatus.SHIPPED, T0, order_id=OTHER)]
    )
    assert full.updated == 1
    assert await store.known_order_ids(TENANT, AMAZON, [OTHER]) == {OTHER}


async def test_a_sync_cursor_is_claimed_when_due_moved_once_and_stopped(
    contract: Contract,
) -> None:
    store = contract.store
    await store.start_sync(TENANT, AMAZON, FR, T0)
    assert await store.claim_due_syncs(3600.0) == []  # the backfill just read everything
    (cursor,) = await store.claim_due_syncs(3600.0, TENANT)  # an operator's round: at once
    assert (cursor.tenant_id, cursor.marketplace, cursor.marketplace_id) == (TENANT, AMAZON, FR)
    assert cursor.updated_before == T0
    await asyncio.sleep(0.01)
    assert [c.tenant_id for c in await store.claim_due_syncs(0.001)] == [TENANT]
    later = T0 + timedelta(minutes=15)
    assert await store.advance_sync(cursor, later, 3) is True
    assert await store.advance_sync(cursor, later + timedelta(minutes=1), 1) is False  # moved
    (moved,) = await store.claim_due_syncs(3600.0, TENANT)
    assert moved.updated_before == later
    await store.note_sync_error(TENANT, AMAZON, "SP-API down", stop=False)  # waits, goes on
    assert len(await store.claim_due_syncs(3600.0, TENANT)) == 1
    await store.note_sync_error(TENANT, AMAZON, "credentials revoked", stop=True)
    assert await store.claim_due_syncs(3600.0, TENANT) == []
    await store.start_sync(TENANT, AMAZON, FR, later)  # the next backfill starts it again
    assert len(await store.claim_due_syncs(3600.0, TENANT)) == 1
    await store.stop_sync(TENANT, "connection.disconnected: revoked")
    assert await store.claim_due_syncs(3600.0, TENANT) == []


async def test_a_marketplace_with_an_interval_of_its_own_is_due_after_it(
    contract: Contract,
) -> None:
    """An application call budget spaces one marketplace's syncs (eBay's), the others keep
    the common interval; its active cursors are the shops sharing that budget."""
    store = contract.store
    await store.start_sync(TENANT, AMAZON, FR, T0)
    await store.start_sync(TENANT, FNAC, "shop-1", T0)
    await store.start_sync("t-other", FNAC, "shop-2", T0)
    assert (await store.syncing_shops(FNAC), await store.syncing_shops(AMAZON)) == (2, 1)
    await asyncio.sleep(0.01)
    claimed = await store.claim_due_syncs(0.001, paces={FNAC: pace(3600.0)})
    assert [c.marketplace for c in claimed] == [AMAZON]  # Fnac's own interval is not over
    claimed = await store.claim_due_syncs(3600.0, paces={FNAC: pace(3600.0)})
    assert claimed == []
    await asyncio.sleep(0.01)
    claimed = await store.claim_due_syncs(3600.0, paces={FNAC: pace(0.001)})
    assert sorted(c.tenant_id for c in claimed) == ["t-other", TENANT]
    assert {c.marketplace for c in claimed} == {FNAC}
    await store.stop_sync("t-other", "connection.disconnected: revoked")
    assert await store.syncing_shops(FNAC) == 1  # a stopped cursor shares nothing


def pace(interval: float, spread: float = 0.0) -> RoundPace:
    return RoundPace(interval=interval, spread=spread, calls_per_round=2.0)


async def test_a_round_that_spent_past_its_share_puts_off_its_shop_s_next_one_only(
    contract: Contract,
) -> None:
    """Charged what it spent against the shop's share of the budget (its spread), never
    against the marketplace's interval: ample, a flood's round keeps the interval."""
    store = contract.store
    await store.start_sync(TENANT, FNAC, "shop-1", T0)
    await store.start_sync("t-other", FNAC, "shop-2", T0)
    await store.note_round_calls(TENANT, FNAC, 200)  # a hundred rounds' share
    await store.note_round_calls("t-other", FNAC, 2)
    await asyncio.sleep(0.05)
    ample = pace(0.01, spread=0.0001)  # 200 calls: 0.01 s of the shop's share
    claimed = await store.claim_due_syncs(3600.0, paces={FNAC: ample})
    assert sorted(c.tenant_id for c in claimed) == ["t-other", TENANT]
    await asyncio.sleep(0.05)
    tight = pace(0.01, spread=0.01)  # 200 calls: 1 s of it
    claimed = await store.claim_due_syncs(3600.0, paces={FNAC: tight})
    assert [c.tenant_id for c in claimed] == ["t-other"]


async def test_a_running_backfill_holds_its_marketplace_s_sync_only(contract: Contract) -> None:
    await contract.store.start_sync(TENANT, AMAZON, FR, T0)
    await contract.store.start_sync(TENANT, FNAC, "shop-1", T0)
    job = await contract.jobs.insert_job(
        tenant_id=TENANT,
        marketplace=AMAZON,
        marketplace_id=FR,
        trigger="http",
        days=90,
        created_after="2026-08-22T08:00:00Z",
        owner="me",
        lease_seconds=120.0,
        source_event_id=None,
    )
    assert job is not None
    claimed = await contract.store.claim_due_syncs(3600.0, TENANT)
    assert [c.marketplace for c in claimed] == [FNAC]  # the Fnac sync goes on


@pytest.fixture(params=["memory", "postgres"])
async def details(
    request: pytest.FixtureRequest, make_database: Callable[..., Awaitable[str]]
) -> AsyncIterator[DetailStore]:
    if request.param == "memory":
        yield InMemoryDetailStore()
        return
    pool = await create_pool(await make_database("contract", service_migrations(DEFINITION)))
    yield PostgresDetailStore(pool)
    await pool.close()


async def test_details_are_fetched_once_per_wish_under_a_lease(details: DetailStore) -> None:
    await details.want_details(TENANT, AMAZON, ORDER)
    await details.want_details(TENANT, AMAZON, ORDER)  # two changes, one fetch
    await asyncio.sleep(0.01)
    await details.want_details(TENANT, AMAZON, OTHER)
    assert await details.pending_detail_fetches() == 2
    first = await details.claim_detail_fetches(1, 60.0)  # the oldest wish first
    assert [(f.tenant_id, f.marketplace, f.order_id) for f in first] == [(TENANT, AMAZON, ORDER)]
    (other,) = await details.claim_detail_fetches(10, 0.5)  # the first one is leased
    assert other.order_id == OTHER
    assert await details.claim_detail_fetches(10, 60.0) == []
    await details.detail_fetched(first[0])
    assert await details.pending_detail_fetches() == 1
    await asyncio.sleep(0.01)
    await details.want_details(TENANT, AMAZON, OTHER)  # changed again while fetched
    await details.detail_fetched(other)
    assert await details.pending_detail_fetches() == 1  # so it is fetched again
    await asyncio.sleep(0.6)
    (again,) = await details.claim_detail_fetches(10, 60.0)  # ...once its lease lapses
    assert again.order_id == OTHER and again.wanted_at > other.wanted_at
