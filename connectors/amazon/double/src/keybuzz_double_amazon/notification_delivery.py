"""Delivery of ORDER_CHANGE notifications to SQS: the sandbox's side of Amazon's pipeline
(docs/SANDBOX.md, "Order notifications"; the operations are in notifications.py).

Each status change of a subscribed seller's orders becomes one message on the destination's
queue, in Amazon's published ORDER_CHANGE shape (versions 1.0), published a drawn lag after
the change (``EventTime``; ``TimeOfOrderChange`` stays the change's own time), so one
order's changes may arrive out of order. Delivery is at least once and, when asked for,
unordered (``DeliveryFaults``); an unreachable queue holds the messages until it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from keybuzz_sandbox.clock import Clock, iso
from keybuzz_sandbox.faults import Fraction, NextCount

from .env import AmazonDoubleSettings
from .errors import SpApiError, invalid_input
from .listing import windows
from .order_book import OrderBook, OrderState

log = logging.getLogger(__name__)

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
ORDER_CHANGE = "ORDER_CHANGE"
PAYLOAD_VERSION = "1.0"  # ORDER_CHANGE's only payload version
NOTIFICATION_VERSION = "1.0"
TICK_SECONDS = 0.1  # how often the sandbox looks for order changes to publish
SQS_BATCH = 10  # SendMessageBatch's maximum
MAX_RETRY_SECONDS = 5.0
KEEP_DELIVERED = 10_000  # delivered notifications listed by the admin endpoint
# Amazon publishes a change seconds to minutes after it happened; the default stays short
# so that tests and the dev stack see changes within seconds (PUT .../faults sets more).
EVENT_LAG_SECONDS = 1.0
RealSeconds = Annotated[float, msgspec.Meta(ge=0, le=900)]


def conflict(message: str) -> SpApiError:
    return SpApiError(409, "Conflict", message)


class Destination(msgspec.Struct, kw_only=True):
    destination_id: str
    name: str
    arn: str

    def model(self) -> dict[str, Any]:
        return {
            "destinationId": self.destination_id,
            "name": self.name,
            "resource": {"sqs": {"arn": self.arn}},
        }


class Subscription(msgspec.Struct, kw_only=True):
    subscription_id: str
    seller_id: str
    notification_type: str
    payload_version: str
    destination_id: str

    def model(self) -> dict[str, Any]:
        return {
            "subscriptionId": self.subscription_id,
            "payloadVersion": self.payload_version,
            "destinationId": self.destination_id,
        }


class DeliveryFaults(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Body of PUT /_sandbox/notifications/faults: how late Amazon publishes a change, and
    what SQS's at-least-once delivery does."""

    # Each notification's EventTime is its change's moment plus a lag drawn uniformly
    # from [0, event_lag_seconds) (real seconds), and it reaches the queue then.
    event_lag_seconds: RealSeconds = EVENT_LAG_SECONDS
    duplicate_rate: Fraction = 0.0  # fraction of notifications sent twice
    late_rate: Fraction = 0.0  # fraction held back late_seconds (arrive after later changes)
    late_seconds: RealSeconds = 2.0
    duplicate_next: NextCount = 0  # the next n notifications are sent twice (deterministic)
    late_next: NextCount = 0  # the next n notifications are held back


class Outgoing(msgspec.Struct, kw_only=True):
    arn: str
    body: str
    due: float  # real epoch seconds
    notification_id: str
    order_id: str


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


def parse_sqs_arn(arn: str) -> tuple[str, str, str]:
    """arn:aws:sqs:<region>:<account>:<queue name> -> (region, account, name)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"] or not all(parts[3:]):
        raise invalid_input("Invalid SQS ARN.", arn)
    return parts[3], parts[4], parts[5]


class NotificationBook:
    """Destinations, subscriptions and the notifications on their way (in memory)."""

    def __init__(
        self, seed: str, settings: AmazonDoubleSettings, clock: Clock, sellers: dict[str, OrderBook]
    ) -> None:
        self.settings = settings
        # Without a trailing slash, as the other endpoints (None: notifications are held).
        self.sqs_endpoint = (settings.sqs_endpoint or "").rstrip("/") or None
        self.clock = clock
        self.sellers = sellers
        self.destinations: dict[str, Destination] = {}
        self.subscriptions: dict[tuple[str, str], Subscription] = {}
        self.published_until: dict[str, float] = {}  # seller -> virtual time published
        self.next_change: dict[str, float] = {}  # seller -> virtual time of its next change
        self.pending: list[Outgoing] = []
        self.delivered: list[Delivered] = []
        self.faults = DeliveryFaults()
        self.rng = random.Random(f"{seed}:notifications")
        self.lag_rng = random.Random(f"{seed}:notification-lag")
        self._retry_at = 0.0
        self._retry_delay = 0.0
        self._queue_urls: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    # --- subscriptions -----------------------------------------------------------------

    def subscribe(
        self, seller_id: str, notification_type: str, destination_id: str
    ) -> Subscription:
        key = (seller_id, notification_type)
        if key in self.subscriptions:
            raise conflict("Subscription for this notification type already exists.")
        sub = Subscription(
            subscription_id=str(uuid.uuid4()),
            seller_id=seller_id,
            notification_type=notification_type,
            payload_version=PAYLOAD_VERSION,
            destination_id=destination_id,
        )
        self.subscriptions[key] = sub
        book = self.sellers[seller_id]
        # Changes from now on; none of the past.
        self.published_until[seller_id] = book.timeline.virtual(self.clock.now())
        self.next_change.pop(seller_id, None)
        self.start()
        return sub

    def by_id(self, subscription_id: str) -> Subscription | None:
        return next(
            (s for s in self.subscriptions.values() if s.subscription_id == subscription_id), None
        )

    def unsubscribe(self, sub: Subscription) -> None:
        del self.subscriptions[(sub.seller_id, sub.notification_type)]

    # --- finding changes -----------------------------------------------------------------

    def publish_changes(self, now: float) -> None:
        for sub in list(self.subscriptions.values()):
            if sub.notification_type == ORDER_CHANGE:
                self._publish_seller(sub, now)

    def _publish_seller(self, sub: Subscription, now: float) -> None:
        book = self.sellers[sub.seller_id]
        until = book.timeline.virtual(now)
        since = self.published_until[sub.seller_id]
        if until <= since or until < self.next_change.get(sub.seller_id, since):
            return
        destination = self.destinations.get(sub.destination_id)
        changes = sorted(book.gen.changes(since, until), key=lambda c: c[0])
        for _, index, status in changes:
            if destination is not None:
                self._enqueue(sub, destination, book, index, status, now)
        self.published_until[sub.seller_id] = until
        self.next_change[sub.seller_id] = self._next_change(book, until)

    def _next_change(self, book: OrderBook, after: float) -> float:
        following = book.gen.placed_before(after)  # the next order to be placed
        upcoming = [book.gen.timeline(following).purchase]
        for index in book.gen.changing(after, after):
            upcoming += [at for at, _ in book.gen.timeline(index).events if at > after]
        return min(upcoming)

    def _enqueue(
        self,
        sub: Subscription,
        destination: Destination,
        book: OrderBook,
        index: int,
        status: str,
        now: float,
    ) -> None:
        facts = book.gen.facts(index)
        changed = next(at for at, s in facts.timeline.events if s == status)
        state = OrderState(
            facts=facts,
            status=status,
            purchase_date=book.real_ts(facts.timeline.purchase),
            last_update=book.real_ts(changed),
        )
        notification_id = str(uuid.uuid4())
        published = now + self._draw_lag()
        body = msgspec.json.encode(
            order_change(self.settings.application_id, book, state, sub, notification_id, published)
        ).decode()
        f = self.faults  # the next n forced (counted down), else drawn at their rates
        late = f.late_seconds if f.late_next > 0 or self._drawn(f.late_rate) else 0.0
        due = published + late
        copies = 2 if f.duplicate_next > 0 or self._drawn(f.duplicate_rate) else 1
        f.late_next, f.duplicate_next = max(0, f.late_next - 1), max(0, f.duplicate_next - 1)
        for _ in range(copies):
            self.pending.append(
                Outgoing(
                    arn=destination.arn,
                    body=body,
                    due=due,
                    notification_id=notification_id,
                    order_id=facts.order_id,
                )
            )
        self.delivered.append(
            Delivered(
                notification_id=notification_id,
                order_id=facts.order_id,
                order_status=status,
                seller_id=sub.seller_id,
                time_of_order_change=iso(state.last_update),
                sent_at=millis(published),
                late_seconds=late,
                copies=copies,
                destination_arn=destination.arn,
            )
        )
        del self.delivered[:-KEEP_DELIVERED]

    def _draw_lag(self) -> float:
        return self.lag_rng.uniform(0.0, self.faults.event_lag_seconds)

    def _drawn(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    # --- delivery ------------------------------------------------------------------------

    def start(self) -> None:
        """Deliver from the running event loop (started by the first subscription)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="sandbox-notifications"
            )

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        endpoint = self.sqs_endpoint
        session = get_session()
        config = AioConfig(
            connect_timeout=2, read_timeout=5, retries={"max_attempts": 1, "mode": "standard"}
        )
        async with contextlib.AsyncExitStack() as stack:
            clients: dict[str, Any] = {}
            while True:
                now = time.time()
                try:
                    self.publish_changes(now)
                except Exception:  # a bug must not stop delivery for good
                    log.exception("publishing order changes failed")
                if endpoint and self.pending and now >= self._retry_at:
                    await self._deliver_due(stack, session, config, clients, now)
                await asyncio.sleep(TICK_SECONDS)

    async def _deliver_due(
        self,
        stack: contextlib.AsyncExitStack,
        session: Any,
        config: AioConfig,
        clients: dict[str, Any],
        now: float,
    ) -> None:
        # Oldest due first: a tick that runs late (a loaded machine) still sends them in
        # the order they were published, as SQS receives them.
        due = sorted((o for o in self.pending if o.due <= now), key=lambda o: o.due)
        try:
            for batch in _batches(due):
                region = parse_sqs_arn(batch[0].arn)[0]
                if region not in clients:
                    clients[region] = await stack.enter_async_context(
                        session.create_client(
                            "sqs",
                            region_name=region,
                            endpoint_url=self.sqs_endpoint,
                            aws_access_key_id="sandbox",
                            aws_secret_access_key="sandbox",  # noqa: S106 - local SQS only
                            config=config,
                        )
                    )
                await self._send(clients[region], batch)
            self._retry_delay = 0.0
        except Exception as exc:  # the queue is unreachable: hold everything, try again
            self._retry_delay = min(MAX_RETRY_SECONDS, max(0.2, self._retry_delay * 2))
            self._retry_at = time.time() + self._retry_delay
            log.warning("notification delivery failed, held: %s", type(exc).__name__)

    async def _send(self, client: Any, batch: list[Outgoing]) -> None:
        url = await self._queue_url(client, batch[0].arn)
        entries = [{"Id": str(i), "MessageBody": o.body} for i, o in enumerate(batch)]
        answer = await client.send_message_batch(QueueUrl=url, Entries=entries)
        failed = {int(f["Id"]) for f in answer.get("Failed", [])}
        sent = [o for i, o in enumerate(batch) if i not in failed]
        self.pending = [o for o in self.pending if not any(o is s for s in sent)]
        if failed:
            raise RuntimeError(f"{len(failed)} notifications refused by SQS")

    async def _queue_url(self, client: Any, arn: str) -> str:
        if arn not in self._queue_urls:
            _, account, name = parse_sqs_arn(arn)
            found = await client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
            self._queue_urls[arn] = found["QueueUrl"]
        return self._queue_urls[arn]


def _batches(due: list[Outgoing]) -> Iterator[list[Outgoing]]:
    """Up to 10 messages of one queue per batch, in the order they were published."""
    by_arn: dict[str, list[Outgoing]] = {}
    for outgoing in due:
        by_arn.setdefault(outgoing.arn, []).append(outgoing)
    for items in by_arn.values():
        for start in range(0, len(items), SQS_BATCH):
            yield items[start : start + SQS_BATCH]


def millis(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- the ORDER_CHANGE notification ------------------------------------------------------


def order_change(
    application_id: str,
    book: OrderBook,
    state: OrderState,
    sub: Subscription,
    notification_id: str,
    published: float,
) -> dict[str, Any]:
    """Amazon's envelope around an OrderChangeNotification (payload version 1.0): EventTime
    and PublishTime when it is published, TimeOfOrderChange when the order changed."""
    return {
        "NotificationVersion": NOTIFICATION_VERSION,
        "NotificationType": ORDER_CHANGE,
        "PayloadVersion": PAYLOAD_VERSION,
        "EventTime": millis(published),
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
            "SubscriptionId": sub.subscription_id,
            "PublishTime": millis(published),
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
    seller_fulfilled = facts.timeline.channel == "MFN"
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
                "QuantityShipped": state.quantity(item.quantity)
                if state.status == "Shipped"
                else 0,
            }
            for item in facts.items
        ],
    }
    if seller_fulfilled:  # "Returned only for seller-fulfilled orders"
        out["EarliestDeliveryDate"] = iso(win.earliest_delivery)
        if state.status not in ("Pending", "Canceled"):
            out["LatestDeliveryDate"] = iso(win.latest_delivery)
    return out
