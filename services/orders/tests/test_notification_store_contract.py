"""One contract, two adapters: every scenario runs on the in-memory store the unit tier
uses (``orders_fakes.py``) and on the PostgreSQL adapter (``notification_store.py``), so
a fake that answers differently from the SQL fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_devstack.testing import service_migrations
from keybuzz_orders.domain import ItemRow, OrderRow, OrderStatus, new_order_row
from keybuzz_orders.notifications.notification_store import PostgresNotificationStore
from keybuzz_orders.ports import HeldSubscription, NotificationStore, SubscriptionStore
from keybuzz_orders.service import DEFINITION
from keybuzz_shared.db import create_pool
from orders_fakes import InMemoryNotificationStore

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TENANT, ORDER = "t-shop", "407-1111111-2222222"


@dataclass
class Contract:
    store: NotificationStore
    subscribe: Callable[[str, str], Awaitable[None]]  # (tenant, seller)
    unsubscribe: Callable[[str], Awaitable[None]]
    held: Callable[[], Awaitable[tuple[OrderStatus, datetime, str | None, int] | None]]
    subscriptions: SubscriptionStore


@pytest.fixture(params=["memory", "postgres"])
async def contract(
    request: pytest.FixtureRequest, make_database: Callable[..., Awaitable[str]]
) -> AsyncIterator[Contract]:
    if request.param == "memory":
        fake = InMemoryNotificationStore()

        async def subscribe(tenant_id: str, seller_id: str) -> None:
            fake.subscribe(tenant_id, seller_id, AMAZON)

        async def unsubscribe(tenant_id: str) -> None:
            await fake.end_subscription(tenant_id, AMAZON)

        async def held() -> tuple[OrderStatus, datetime, str | None, int] | None:
            order = fake.orders.get((TENANT, AMAZON, ORDER))
            if order is None:
                return None
            row = order.row
            quantity = sum(i.quantity for i in order.items.values())
            return row.order_status, row.marketplace_updated_at, row.fulfillment_channel, quantity

        yield Contract(fake, subscribe, unsubscribe, held, fake)
        return
    pool = await create_pool(await make_database("contract", service_migrations(DEFINITION)))

    pg = PostgresNotificationStore(pool)

    async def pg_subscribe(tenant_id: str, seller_id: str) -> None:
        await pg.save_subscription(tenant_id, AMAZON, seller_id, "eu", "s-1", "d-1")

    async def pg_unsubscribe(tenant_id: str) -> None:
        await pg.end_subscription(tenant_id, AMAZON)

    async def pg_held() -> tuple[OrderStatus, datetime, str | None, int] | None:
        row = await pool.fetchrow(
            "SELECT o.order_status::text, o.marketplace_updated_at, o.fulfillment_channel,"
            " (SELECT coalesce(sum(quantity), 0) FROM order_items i WHERE i.order_id = o.id)"
            " AS quantity FROM orders o WHERE tenant_id = $1 AND external_order_id = $2",
            TENANT,
            ORDER,
        )
        if row is None:
            return None
        return OrderStatus(row[0]), row[1], row[2], int(row[3])

    yield Contract(pg, pg_subscribe, pg_unsubscribe, pg_held, pg)
    await pool.close()


def summary(
    status: OrderStatus, at: datetime, *, channel: str | None = None, quantity: int = 1
) -> OrderRow:
    item = ItemRow(
        external_item_id="item-1",
        sku="SKU-1",
        asin=None,
        title=None,
        quantity=quantity,
        unit_price=None,
        currency=None,
    )
    return new_order_row(
        ORDER,
        status,
        status.value,
        marketplace_id="A13V1IB3VIYZZH",
        order_date=T0,
        marketplace_updated_at=at,
        items=[item],
        fulfillment_channel=channel,
    )


async def test_only_an_active_subscription_names_the_seller_s_tenant(contract: Contract) -> None:
    assert await contract.store.tenant_of_seller("A1SELLER", AMAZON) is None
    await contract.subscribe(TENANT, "A1SELLER")
    assert await contract.store.tenant_of_seller("A1SELLER", AMAZON) == TENANT
    await contract.unsubscribe(TENANT)
    assert await contract.store.tenant_of_seller("A1SELLER", AMAZON) is None


async def test_a_notification_id_is_claimed_once(contract: Contract) -> None:
    assert await contract.store.claim_notification("n1", TENANT, ORDER, T0) is True
    assert await contract.store.claim_notification("n1", TENANT, ORDER, T0) is False
    assert await contract.store.claim_notification("n2", TENANT, ORDER, T0) is True


async def test_a_summary_writes_only_when_it_supersedes_the_order_held(
    contract: Contract,
) -> None:
    store = contract.store
    later = T0 + timedelta(minutes=5)
    assert await store.apply_summary(TENANT, AMAZON, summary(OrderStatus.CONFIRMED, T0))
    assert await store.apply_summary(TENANT, AMAZON, summary(OrderStatus.SHIPPED, later))
    # Older, the same change again, and at the same time an earlier step: stale.
    assert not await store.apply_summary(TENANT, AMAZON, summary(OrderStatus.SHIPPED, later))
    assert not await store.apply_summary(TENANT, AMAZON, summary(OrderStatus.CONFIRMED, T0))
    assert not await store.apply_summary(TENANT, AMAZON, summary(OrderStatus.PENDING, later))
    assert await contract.held() == (OrderStatus.SHIPPED, later, None, 1)
    # At the same time, a later step wins; a summary without a channel keeps the known one.
    cancel = summary(OrderStatus.CANCELLED, later, channel="MERCHANT", quantity=0)
    assert await store.apply_summary(TENANT, AMAZON, cancel)
    again = summary(OrderStatus.RETURNED, later + timedelta(seconds=1), quantity=0)
    assert await store.apply_summary(TENANT, AMAZON, again)
    assert await contract.held() == (
        OrderStatus.RETURNED,
        later + timedelta(seconds=1),
        "MERCHANT",
        0,
    )


async def test_details_are_wanted_once_per_order(contract: Contract) -> None:
    # The fake's set and the table's key say the same: one fetch per order.
    await contract.store.want_details(TENANT, AMAZON, ORDER)
    await contract.store.want_details(TENANT, AMAZON, ORDER)
    if isinstance(contract.store, InMemoryNotificationStore):
        assert contract.store.wanted == {(TENANT, AMAZON, ORDER)}
    else:
        assert isinstance(contract.store, PostgresNotificationStore)
        assert await contract.store.conn.fetchval("SELECT count(*) FROM order_detail_fetches") == 1


async def test_a_subscription_is_saved_read_and_ended(contract: Contract) -> None:
    store = contract.subscriptions
    assert await store.subscription(TENANT, AMAZON) is None
    await store.save_subscription(TENANT, AMAZON, "A1SELLER", "eu", "sub-1", "dest-eu")
    assert await store.subscription(TENANT, AMAZON) == HeldSubscription("ACTIVE", "eu", "sub-1")
    assert await contract.store.tenant_of_seller("A1SELLER", AMAZON) == TENANT
    await store.end_subscription(TENANT, AMAZON)
    assert await store.subscription(TENANT, AMAZON) == HeldSubscription("DELETED", "eu", None)
    assert await contract.store.tenant_of_seller("A1SELLER", AMAZON) is None
    await store.save_subscription(TENANT, AMAZON, "A1SELLER", "eu", "sub-2", "dest-eu")
    assert await store.subscription(TENANT, AMAZON) == HeldSubscription("ACTIVE", "eu", "sub-2")
