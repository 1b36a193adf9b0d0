"""Applying ORDER_CHANGE notifications on in-memory ports: no server, milliseconds.

The fake is held to the PostgreSQL adapter by ``test_notification_store_contract.py``; the
queue, the subscriptions and the details stay in ``test_order_notifications.py``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_orders.domain import OrderStatus
from keybuzz_orders.notifications import order_changes
from keybuzz_orders.notifications.order_changes import MalformedNotification, Outcome
from orders_fakes import FakeOrders, fake_orders

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SELLER, TENANT, ORDER = "A1SELLER", "t-shop", "407-1111111-2222222"


def notification(
    notification_id: str,
    status: str,
    *,
    changed_at: datetime | None,
    event_time: datetime = T0,
    seller: str = SELLER,
    quantity: int = 1,
) -> order_changes.Notification:
    """Amazon's envelope as the queue carries it, read by the same parser as the consumer."""
    body: dict[str, Any] = {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": event_time.isoformat(),
        "NotificationMetadata": {"NotificationId": notification_id},
        "Payload": {
            "OrderChangeNotification": {
                "SellerId": seller,
                "AmazonOrderId": ORDER,
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": changed_at.isoformat() if changed_at else None,
                    "ChangeReason": "",
                },
                "Summary": {
                    "MarketplaceId": "A13V1IB3VIYZZH",
                    "OrderStatus": status,
                    "PurchaseDate": T0.isoformat(),
                    "OrderItems": [
                        {"OrderItemId": "item-1", "SellerSKU": "SKU-1", "Quantity": quantity}
                    ],
                },
            }
        },
    }
    return order_changes.parse(json.dumps(body))


@pytest.fixture
def orders() -> FakeOrders:
    fake = fake_orders()
    fake.notifications.subscribe(TENANT, SELLER, AMAZON)
    return fake


async def apply(orders: FakeOrders, change: order_changes.Notification) -> Outcome:
    async with orders.ports.notification_units() as unit:
        outcome, _ = await order_changes.apply(unit, change)
    return outcome


def held(orders: FakeOrders) -> OrderStatus:
    return orders.notifications.orders[(TENANT, AMAZON, ORDER)].row.order_status


async def test_a_change_older_than_the_one_held_is_stale_and_writes_nothing(
    orders: FakeOrders,
) -> None:
    first = notification("n2", "Shipped", changed_at=T0 + timedelta(minutes=5))
    assert await apply(orders, first) is Outcome.APPLIED
    outcome = await apply(orders, notification("n1", "Unshipped", changed_at=T0))
    assert outcome is Outcome.STALE
    assert held(orders) is OrderStatus.SHIPPED
    assert orders.notifications.notifications == {"n2": "APPLIED", "n1": "STALE"}


async def test_at_the_same_time_the_later_lifecycle_step_wins(orders: FakeOrders) -> None:
    assert await apply(orders, notification("n1", "Shipped", changed_at=T0)) is Outcome.APPLIED
    assert await apply(orders, notification("n2", "Unshipped", changed_at=T0)) is Outcome.STALE
    assert await apply(orders, notification("n3", "Canceled", changed_at=T0)) is Outcome.APPLIED
    assert held(orders) is OrderStatus.CANCELLED


async def test_time_of_order_change_orders_the_changes_not_the_publication_time(
    orders: FakeOrders,
) -> None:
    # Amazon publishes the older change last: its EventTime is the later one.
    newer = notification("n1", "Shipped", changed_at=T0 + timedelta(minutes=5), event_time=T0)
    older = notification("n2", "Unshipped", changed_at=T0, event_time=T0 + timedelta(minutes=10))
    assert await apply(orders, newer) is Outcome.APPLIED
    assert await apply(orders, older) is Outcome.STALE
    assert held(orders) is OrderStatus.SHIPPED


async def test_without_time_of_order_change_the_event_time_orders_them(orders: FakeOrders) -> None:
    first = notification("n1", "Unshipped", changed_at=None, event_time=T0)
    second = notification("n2", "Shipped", changed_at=None, event_time=T0 + timedelta(seconds=1))
    assert await apply(orders, second) is Outcome.APPLIED
    assert await apply(orders, first) is Outcome.STALE


async def test_a_duplicate_notification_changes_nothing(orders: FakeOrders) -> None:
    change = notification("n1", "Unshipped", changed_at=T0, quantity=2)
    assert await apply(orders, change) is Outcome.APPLIED
    orders.notifications.wanted.clear()  # the details were asked once
    assert await apply(orders, change) is Outcome.DUPLICATE
    assert orders.notifications.wanted == set()  # not asked again
    assert orders.notifications.notifications == {"n1": "APPLIED"}


async def test_an_applied_change_asks_for_the_order_s_details_once(orders: FakeOrders) -> None:
    await apply(orders, notification("n1", "Unshipped", changed_at=T0))
    await apply(orders, notification("n2", "Shipped", changed_at=T0 + timedelta(minutes=1)))
    assert orders.notifications.wanted == {(TENANT, AMAZON, ORDER)}


async def test_a_seller_not_subscribed_is_dropped_without_a_trace(orders: FakeOrders) -> None:
    change = notification("n1", "Unshipped", changed_at=T0, seller="A9OTHER")
    assert await apply(orders, change) is Outcome.UNKNOWN_SELLER
    assert orders.notifications.orders == {} and orders.notifications.notifications == {}


async def test_a_change_without_a_zone_is_refused_before_it_is_applied() -> None:
    with pytest.raises(MalformedNotification):
        notification("n1", "Unshipped", changed_at=datetime(2026, 11, 23, 8, 0))
