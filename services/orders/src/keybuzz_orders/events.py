"""The orders service's consumers: one table says which use case takes which subject.

- ``connection.connected`` starts the tenant's backfill of that marketplace
  (BACKFILL_DAYS; a redelivered event returns the job it already started) and, for a
  marketplace with an order feed and a notification queue, subscribes the seller to
  its order changes.
- ``connection.disconnected`` / ``connection.reauth_required`` cancel the tenant's jobs
  and sync of that marketplace and, with a queue, delete the seller's subscription. With
  ``receivedInError`` (the connection ended as a takeover) the tenant's orders of that
  marketplace are deleted too; a seller's own disconnect keeps them.
- ``message.received`` with an ``orderId`` we do not have: fetch that order from the
  message's marketplace, so the agent sees it next to the ticket (``order_context``); an
  order the marketplace does not have, or a shop without a usable key, is final for the
  event (logged, counted, acknowledged). One event at a time (a
  tenant's in order, tenants side by side): the marketplace is asked before the unit of work
  that stores the order opens, which a batch handler's transaction would not allow.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic

from keybuzz_shared.connectors.registry import connector_serving
from keybuzz_shared.errors import is_outage
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
    E,
    MessageReceived,
)
from keybuzz_shared.messaging import Delivery, EventSubscription
from keybuzz_shared.service import Runtime

from keybuzz_orders import order_context
from keybuzz_orders.backfill.backfill import Backfills
from keybuzz_orders.notifications.subscriptions import OrderSubscriptions
from keybuzz_orders.order_context import OrderContext
from keybuzz_orders.order_source import NoSource, NotConnected, SourceRefused, order_feed
from keybuzz_orders.sync import OrderSync

log = logging.getLogger(__name__)

UseCase = Callable[[Runtime[Any], E], Awaitable[None]]
FEED = order_feed()
# Not connected (any more), or no order source: a backfill has nothing to import.
NOTHING_TO_IMPORT: tuple[type[Exception], ...] = (*FEED.not_connected, SourceRefused)
# No usable key for the shop (none stored, or refused): nothing to read until it connects.
WAITING_FOR_CONNECTION: tuple[type[Exception], ...] = (*FEED.not_connected, NotConnected)


def _notifies(marketplace: str) -> bool:
    """Whether the marketplace's connector has the order feed (its change notifications)."""
    connector = connector_serving(marketplace)
    return connector is not None and connector.order_feed is FEED


async def start_backfill(runtime: Runtime[Any], event: ConnectionConnected) -> None:
    try:
        await runtime.component(Backfills).start(
            event.tenant_id,
            runtime.settings.backfill_days,
            trigger=ConnectionConnected.SUBJECT,
            source_event_id=event.event_id,
            marketplace=event.marketplace,
        )
    except NOTHING_TO_IMPORT as exc:
        # Disconnected again before we got here, or no order source serves the
        # marketplace: nothing to import, nothing to retry.
        log.warning(
            "no backfill: %s",
            exc,
            extra={"tenant_id": event.tenant_id, "marketplace": event.marketplace},
        )


async def stop_importing(runtime: Runtime[Any], event: ConnectionDisconnected) -> None:
    """The marketplace's jobs and sync only: the tenant's others go on."""
    reason = f"{event.type or 'connection.disconnected'}: {event.reason or 'no reason'}"
    marketplace = event.marketplace
    await runtime.component(Backfills).stop_tenant(event.tenant_id, reason, marketplace)
    await runtime.component(OrderSync).stop(event.tenant_id, reason, marketplace)
    if event.received_in_error:
        await runtime.component(OrderSync).forget_received(event.tenant_id, marketplace)


async def complete_order_context(runtime: Runtime[Any], event: MessageReceived) -> None:
    if not event.order_id:
        return
    try:
        await runtime.component(OrderContext).complete(
            event.tenant_id, [event.order_id], event.marketplace
        )
    except NoSource:
        log.warning(
            "no order source for %s", event.marketplace, extra={"tenant_id": event.tenant_id}
        )
    except WAITING_FOR_CONNECTION as exc:
        # Acknowledged: asking again changes nothing until the seller connects the shop,
        # and that connection's backfill brings the order (docs/ORDERS.md, "Buyer messages").
        log.warning(
            "order of a buyer message waits for the shop's connection: %s",
            exc,
            extra={"tenant_id": event.tenant_id, "order_id": event.order_id},
        )
        order_context.count(event.marketplace, order_context.NOT_CONNECTED)


async def subscribe_to_order_changes(runtime: Runtime[Any], event: ConnectionConnected) -> None:
    if not _notifies(event.marketplace):
        return
    try:
        await runtime.component(OrderSubscriptions).subscribe(event.tenant_id)
    except FEED.outage_or_refusal as exc:
        if is_outage(exc) and not isinstance(exc, FEED.not_connected):
            raise  # the marketplace or its sign-in is down: the event is delivered again
        # Disconnected again meanwhile, or refused: the incremental sync still runs.
        log.warning("not subscribed to ORDER_CHANGE: %s", exc, extra={"tenant_id": event.tenant_id})


async def unsubscribe_from_order_changes(
    runtime: Runtime[Any], event: ConnectionDisconnected
) -> None:
    if not _notifies(event.marketplace):
        return
    try:
        await runtime.component(OrderSubscriptions).unsubscribe(event.tenant_id)
    except FEED.outage_or_refusal as exc:
        if is_outage(exc):
            raise
        log.warning(
            "ORDER_CHANGE subscription not deleted: %s", exc, extra={"tenant_id": event.tenant_id}
        )
        await runtime.component(OrderSubscriptions).forget(event.tenant_id)


@dataclass(frozen=True)
class Consumer(Generic[E]):
    """One durable consumer ``orders-<purpose>``: the subject's events to one use case."""

    event_type: type[E]
    use_case: UseCase[E]
    purpose: str
    needs_queue: bool = False  # only with a notification queue (SQS_QUEUE_URL)


# ConnectionReauthRequired is a ConnectionDisconnected: the same use cases take it.
CONSUMERS: tuple[Consumer[Any], ...] = (
    Consumer(ConnectionConnected, start_backfill, "backfill"),
    Consumer(ConnectionDisconnected, stop_importing, "stop-backfill-disconnected"),
    Consumer(ConnectionReauthRequired, stop_importing, "stop-backfill-reauth"),
    Consumer(MessageReceived, complete_order_context, "order-context"),
    Consumer(ConnectionConnected, subscribe_to_order_changes, "notify-subscribe", True),
    Consumer(ConnectionDisconnected, unsubscribe_from_order_changes, "notify-unsubscribe", True),
    Consumer(
        ConnectionReauthRequired, unsubscribe_from_order_changes, "notify-unsubscribe-reauth", True
    ),
)


def register(runtime: Runtime[Any]) -> None:
    for consumer in CONSUMERS:
        if consumer.needs_queue and not runtime.settings.sqs_queue_url:
            continue
        _subscribe(runtime, consumer)


def _subscribe(runtime: Runtime[Any], consumer: Consumer[E]) -> None:
    async def handle(event: E, delivery: Delivery) -> None:
        await consumer.use_case(runtime, event)

    EventSubscription(
        runtime, event_type=consumer.event_type, handler=handle, purpose=consumer.purpose
    )
