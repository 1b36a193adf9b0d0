"""ORDER_CHANGE notifications on the destinations' SQS queues (docs/SANDBOX.md, "Order
notifications"); the operations are notifications.py's."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from keybuzz_sandbox.clock import Clock, iso
from keybuzz_sandbox.double_kit.api import iso_millis
from keybuzz_sandbox.double_kit.model_structs import model_structs
from keybuzz_sandbox.double_kit.sqs import SqsOutbox

from .env import AmazonDoubleSettings
from .errors import SpApiError
from .listing import windows
from .models import model_document
from .order_book import OrderBook, OrderState

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
ORDER_CHANGE = "ORDER_CHANGE"
PAYLOAD_VERSION = "1.0"  # ORDER_CHANGE's only payload version
NOTIFICATION_VERSION = "1.0"
KEEP_DELIVERED = 10_000  # delivered notifications listed by the admin endpoint


def conflict(message: str) -> SpApiError:
    return SpApiError(409, "Conflict", message)


# The answers' structs are the model's own definitions (every field it names, none other).
Destination, Subscription = model_structs(
    model_document("notifications")["definitions"], "Destination", "Subscription"
)


def queue_of(destination: Any) -> str:
    """The ARN of the one SQS queue a destination here delivers to."""
    return str(destination.resource["sqs"]["arn"])


class Delivered(msgspec.Struct, kw_only=True, rename="camel"):
    notification_id: str
    order_id: str
    order_status: str
    seller_id: str
    time_of_order_change: str  # the change's moment (TimeOfOrderChange, whole seconds)
    sent_at: str  # published: EventTime and PublishTime (the change's moment + the lag)
    late_seconds: float = 0.0  # held back this long by the faults
    copies: int = 1  # 2: sent twice by the faults
    destination_arn: str = ""  # the queue it was sent to


class NotificationBook:
    """Destinations, subscriptions and the notifications on their way (in memory)."""

    def __init__(
        self, seed: str, settings: AmazonDoubleSettings, clock: Clock, sellers: dict[str, OrderBook]
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sellers = sellers
        self.destinations: dict[str, Any] = {}  # Destination, by id
        self.subscriptions: dict[str, Any] = {}  # Subscription, by seller
        self.published_until: dict[str, float] = {}  # seller -> virtual time published
        self.next_change: dict[str, float] = {}  # seller -> virtual time of its next change
        self.delivered: list[Delivered] = []
        self.outbox = SqsOutbox(seed, settings.sqs_endpoint, self.publish_changes)

    def subscribe(self, seller_id: str, destination_id: str) -> msgspec.Struct:
        if seller_id in self.subscriptions:
            raise conflict("Subscription for this notification type already exists.")
        sub = Subscription(
            subscriptionId=str(uuid.uuid4()),
            payloadVersion=PAYLOAD_VERSION,
            destinationId=destination_id,
        )
        self.subscriptions[seller_id] = sub
        book = self.sellers[seller_id]
        # Changes from now on; none of the past.
        self.published_until[seller_id] = book.timeline.virtual(self.clock.now())
        self.next_change.pop(seller_id, None)
        self.outbox.start()
        return sub

    def publish_changes(self, now: float) -> None:
        for seller_id, sub in list(self.subscriptions.items()):
            book = self.sellers[seller_id]
            until = book.timeline.virtual(now)
            since = self.published_until[seller_id]
            if until <= since or until < self.next_change.get(seller_id, since):
                continue
            destination = self.destinations.get(sub.destinationId)
            for changed, index, status in sorted(book.gen.changes(since, until)):
                if destination is not None:
                    state = book.changed(index, status, changed)
                    self._enqueue(sub, queue_of(destination), book, state, now)
            self.published_until[seller_id] = until
            following = book.gen.placed_before(until)  # the next order to be placed
            upcoming = [book.gen.timeline(following).purchase]
            for index in book.gen.changing(until, until):
                upcoming += [at for at, _ in book.gen.timeline(index).events if at > until]
            self.next_change[seller_id] = min(upcoming)

    def _enqueue(self, sub: Any, arn: str, book: OrderBook, state: OrderState, now: float) -> None:
        """``state``'s notification on the queue ``arn``, published as the faults draw it."""
        notification_id, sending = str(uuid.uuid4()), self.outbox.drawn(now)
        notification = order_change(
            self.settings.application_id, book, state, sub, notification_id, sending.published
        )
        self.outbox.queue(arn, msgspec.json.encode(notification).decode(), sending)
        self.delivered.append(
            Delivered(
                notification_id=notification_id,
                order_id=state.order_id,
                order_status=state.status,
                seller_id=book.seller_id,
                time_of_order_change=iso(state.last_update),
                sent_at=iso_millis(sending.published),
                late_seconds=sending.late,
                copies=sending.copies,
                destination_arn=arn,
            )
        )
        del self.delivered[:-KEEP_DELIVERED]


# --- the ORDER_CHANGE notification ------------------------------------------------------


def order_change(
    application_id: str,
    book: OrderBook,
    state: OrderState,
    sub: Any,
    notification_id: str,
    published: float,
) -> dict[str, Any]:
    """Amazon's envelope around an OrderChangeNotification (payload version 1.0): EventTime
    and PublishTime when it is published, TimeOfOrderChange when the order changed."""
    return {
        "NotificationVersion": NOTIFICATION_VERSION,
        "NotificationType": ORDER_CHANGE,
        "PayloadVersion": PAYLOAD_VERSION,
        "EventTime": iso_millis(published),
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": book.seller_id,
                "AmazonOrderId": state.order_id,
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": iso(state.last_update),
                    "ChangeReason": CHANGE_REASONS[state.status],
                },
                "Summary": summary(book, state),
            }
        },
        "NotificationMetadata": {
            "ApplicationId": application_id,
            "SubscriptionId": sub.subscriptionId,
            "PublishTime": iso_millis(published),
            "NotificationId": notification_id,
        },
    }


# The sandbox's wording: Amazon does not publish its list of reasons.
CHANGE_REASONS = {
    "Pending": "Order Placed",
    "Unshipped": "Order Payment Authorized",
    "Shipped": "Order Shipped",
    "Canceled": "Order Canceled",
}


def summary(book: OrderBook, state: OrderState) -> dict[str, Any]:
    facts = state.facts
    quantity = sum(state.quantity(i.quantity) for i in facts.items)
    shipped = quantity if state.status == "Shipped" else 0
    win = windows(book, state)
    programs = [p for p, on in (("Business", facts.is_business), ("Prime", facts.is_prime)) if on]
    out: dict[str, Any] = {
        "MarketplaceId": book.gen.marketplace.id,
        "OrderStatus": state.status,
        "PurchaseDate": iso(state.purchase_date),
        "DestinationPostalCode": facts.address.postal_code,
        "FulfillmentType": facts.timeline.channel,
        "OrderType": "StandardOrder",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": quantity - shipped,
        "EarliestShipDate": iso(win.earliest_ship),
        "LatestShipDate": iso(win.latest_ship),
        "OrderPrograms": programs,
        "OrderItems": [
            {
                "OrderItemId": item.order_item_id,
                "SellerSKU": item.product.sku,
                "SupplySourceId": None,
                "Quantity": state.quantity(item.quantity),
                "QuantityShipped": state.quantity(item.quantity) if shipped else 0,
            }
            for item in facts.items
        ],
    }
    if facts.timeline.channel == "MFN":  # "Returned only for seller-fulfilled orders"
        out["EarliestDeliveryDate"] = iso(win.earliest_delivery)
        if state.status not in ("Pending", "Canceled"):
            out["LatestDeliveryDate"] = iso(win.latest_delivery)
    return out
