"""Amazon's ORDER_CHANGE notifications read: the envelope (NotificationVersion,
NotificationType, PayloadVersion, EventTime, Payload, NotificationMetadata) around an
OrderChangeNotification (payload version 1.0), checked, and its summary as our row
(status, channel, purchase and ship-by dates, items' quantities; what it lacks comes
from getOrder afterwards).
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from keybuzz_shared.connectors.orders import (
    ItemRow,
    MalformedNotification,
    OrderRow,
    new_order_row,
)
from keybuzz_shared.connectors.orders import (
    OrderChange as SeamOrderChange,
)

from keybuzz_connector_amazon.ids import is_amazon_order_id
from keybuzz_connector_amazon.order_rows import V0_CHANNEL, V0_STATUS

ORDER_CHANGE = "ORDER_CHANGE"


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
    """The envelope read and checked; ``MalformedNotification`` says what is wrong."""
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
# the 2026-01-01 word kept in marketplace_status, as every source of ours stores it).
_STATUS = V0_STATUS
_CHANNEL = V0_CHANNEL


def summary_row(notification: Notification) -> OrderRow:
    change = notification.change
    summary = change.Summary
    status, word = _STATUS[summary.OrderStatus]
    return new_order_row(
        change.AmazonOrderId,
        status,
        word,
        marketplace_id=summary.MarketplaceId,
        order_date=summary.PurchaseDate or notification.change_time,
        marketplace_updated_at=notification.change_time,
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


def order_change(body: str | bytes) -> SeamOrderChange:
    """The seam's ``OrderChange`` of a queue message's body."""
    notification = parse(body)
    change = notification.change
    return SeamOrderChange(
        notification_id=notification.NotificationMetadata.NotificationId,
        seller_id=change.SellerId,
        order_id=change.AmazonOrderId,
        published_at=notification.EventTime,
        changed_at=notification.change_time,
        row=summary_row(notification),
    )
