"""One ORDER_CHANGE notification applied in one unit of work.

The message is Amazon's envelope (NotificationVersion, NotificationType,
PayloadVersion, EventTime, Payload, NotificationMetadata) around an
OrderChangeNotification (payload version 1.0). Applying it:

1. the seller's tenant (order_subscriptions; a disconnected seller's are dropped);
2. the NotificationId, once: a duplicate (SQS delivers at least once) changes nothing;
3. the summary (status, channel, purchase and ship-by dates, items' quantities),
   only if it supersedes what we hold (``domain.supersedes``: TimeOfOrderChange, else
   EventTime; at the same time the later lifecycle step wins);
4. what the summary lacks (ASIN, title, prices, totals, buyer, packages) is asked of
   getOrder afterwards, at its rate (order_details.py).
"""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec
from keybuzz_shared.connectors.amazon.ids import is_amazon_order_id
from keybuzz_shared.connectors.names import AMAZON

from keybuzz_orders.domain import (
    V0_CHANNEL,
    V0_STATUS,
    ItemRow,
    OrderRow,
    new_order_row,
)
from keybuzz_orders.ports import NotificationUnit

ORDER_CHANGE = "ORDER_CHANGE"


class MalformedNotification(ValueError):
    """Not an ORDER_CHANGE notification we can read: it goes to the dead-letter queue."""


class _Amazon(msgspec.Struct, kw_only=True):
    """Amazon's PascalCase names, unknown fields ignored (Amazon adds fields over time)."""


class Trigger(_Amazon):
    TimeOfOrderChange: datetime | None = None
    ChangeReason: str = ""


class SummaryItem(_Amazon):
    OrderItemId: str
    SellerSKU: str | None = None
    Quantity: int = msgspec.field(default=0)


class Summary(_Amazon):
    MarketplaceId: str
    OrderStatus: str
    PurchaseDate: datetime | None = None
    FulfillmentType: str | None = None
    LatestShipDate: datetime | None = None
    OrderItems: list[SummaryItem] = msgspec.field(default_factory=list)


class OrderChange(_Amazon):
    SellerId: str
    AmazonOrderId: str
    OrderChangeType: str
    OrderChangeTrigger: Trigger
    Summary: Summary


class Payload(_Amazon):
    OrderChangeNotification: OrderChange


class Metadata(_Amazon):
    NotificationId: str
    SubscriptionId: str | None = None
    PublishTime: datetime | None = None


class Notification(_Amazon):
    NotificationType: str
    PayloadVersion: str
    EventTime: datetime
    Payload: Payload
    NotificationMetadata: Metadata

    @property
    def change(self) -> OrderChange:
        return self.Payload.OrderChangeNotification

    @property
    def change_time(self) -> datetime:
        """When the order changed: TimeOfOrderChange, null "when there is no related
        timestamp" (Amazon's schema), then the notification's EventTime."""
        return self.change.OrderChangeTrigger.TimeOfOrderChange or self.EventTime


_DECODER = msgspec.json.Decoder(Notification)


def parse(body: str | bytes) -> Notification:
    try:
        notification = _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedNotification(f"not an ORDER_CHANGE notification: {exc}") from None
    if notification.NotificationType != ORDER_CHANGE:
        raise MalformedNotification(f"notification type {notification.NotificationType}")
    if notification.PayloadVersion.split(".")[0] != "1":
        raise MalformedNotification(f"payload version {notification.PayloadVersion}")
    if not is_amazon_order_id(notification.change.AmazonOrderId):
        raise MalformedNotification(f"order id {notification.change.AmazonOrderId!r}")
    if notification.change.Summary.OrderStatus not in _STATUS:
        raise MalformedNotification(f"order status {notification.change.Summary.OrderStatus!r}")
    if notification.change_time.tzinfo is None:
        raise MalformedNotification("timestamps without a time zone")
    return notification


# The summary's OrderStatus is Orders v0's vocabulary: mapped as v0 rows are (ours, and
# the 2026-01-01 word kept in amazon_status, as every source of ours stores it).
_STATUS = V0_STATUS
_CHANNEL = V0_CHANNEL


def summary_row(notification: Notification) -> OrderRow:
    change = notification.change
    summary = change.Summary
    status, amazon_status = _STATUS[summary.OrderStatus]
    return new_order_row(
        change.AmazonOrderId,
        status,
        amazon_status,
        marketplace_id=summary.MarketplaceId,
        order_date=summary.PurchaseDate or notification.change_time,
        amazon_updated_at=notification.change_time,
        items=[
            ItemRow(
                external_item_id=item.OrderItemId,
                sku=item.SellerSKU,
                asin=None,
                title=None,
                quantity=max(0, item.Quantity),
                unit_price=None,
                currency=None,
            )
            for item in summary.OrderItems
        ],
        fulfillment_channel=_CHANNEL.get(summary.FulfillmentType or ""),
        ship_by=summary.LatestShipDate,
    )


class Outcome(enum.StrEnum):
    APPLIED = "applied"  # the order was written
    STALE = "stale"  # we hold a newer state already: nothing written
    DUPLICATE = "duplicate"  # this NotificationId was handled before
    UNKNOWN_SELLER = "unknown_seller"  # seller not subscribed, or unsubscribed since: dropped


async def apply(unit: NotificationUnit, notification: Notification) -> tuple[Outcome, str | None]:
    """Apply in the unit's transaction; returns the outcome and the tenant."""
    change = notification.change
    store = unit.store
    tenant_id = await store.tenant_of_seller(change.SellerId, AMAZON)
    if tenant_id is None:
        return Outcome.UNKNOWN_SELLER, None
    notification_id = notification.NotificationMetadata.NotificationId
    claimed = await store.claim_notification(
        notification_id, tenant_id, change.AmazonOrderId, notification.change_time
    )
    if not claimed:
        return Outcome.DUPLICATE, tenant_id
    if not await store.apply_summary(tenant_id, AMAZON, summary_row(notification)):
        return Outcome.STALE, tenant_id
    await store.note_applied(notification_id)
    await store.want_details(tenant_id, AMAZON, change.AmazonOrderId)
    return Outcome.APPLIED, tenant_id
