"""One order change notification applied in one unit of work.

The order feed reads the message (``seam.OrderFeed.read_change``: its marketplace's
envelope) into the seam's ``OrderChange``. Applying it:

1. the seller's tenant (order_subscriptions; a disconnected seller's are dropped);
2. the NotificationId, once: a duplicate (SQS delivers at least once) changes nothing;
3. the summary (status, channel, purchase and ship-by dates, items' quantities),
   only if it supersedes what we hold (``domain.supersedes``: when the order changed,
   else when the notification was published; at the same time the later lifecycle
   step wins);
4. what the summary lacks (ASIN, title, prices, totals, buyer, packages) is asked of
   the order source afterwards, at its rate (order_details.py).
"""

from __future__ import annotations

import enum

from keybuzz_shared.connectors.orders import MalformedNotification as MalformedNotification
from keybuzz_shared.connectors.orders import OrderChange

from keybuzz_orders.order_source import feed_connector, order_feed
from keybuzz_orders.ports import NotificationUnit

# A queued notification as the order feed reads it.
Notification = OrderChange


def parse(body: str | bytes) -> Notification:
    """``MalformedNotification`` when the order feed cannot read it (dead-lettered)."""
    return order_feed().read_change(body)


class Outcome(enum.StrEnum):
    APPLIED = "applied"  # the order was written
    STALE = "stale"  # we hold a newer state already: nothing written
    DUPLICATE = "duplicate"  # this NotificationId was handled before
    UNKNOWN_SELLER = "unknown_seller"  # seller not subscribed, or unsubscribed since: dropped


def feed_marketplace() -> str:
    """The marketplace whose order feed notifies us."""
    return feed_connector().marketplace


async def apply(unit: NotificationUnit, change: Notification) -> tuple[Outcome, str | None]:
    """Apply in the unit's transaction; returns the outcome and the tenant."""
    marketplace = feed_marketplace()
    store = unit.store
    tenant_id = await store.tenant_of_seller(change.seller_id, marketplace)
    if tenant_id is None:
        return Outcome.UNKNOWN_SELLER, None
    claimed = await store.claim_notification(
        change.notification_id, tenant_id, change.order_id, change.changed_at
    )
    if not claimed:
        return Outcome.DUPLICATE, tenant_id
    if not await store.apply_summary(tenant_id, marketplace, change.row):
        return Outcome.STALE, tenant_id
    await store.note_applied(change.notification_id)
    await store.want_details(tenant_id, marketplace, change.order_id)
    return Outcome.APPLIED, tenant_id
