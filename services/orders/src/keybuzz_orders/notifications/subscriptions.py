"""The ORDER_CHANGE subscription of each connected seller, on ports.

- a connection: our queue's destination in the seller's region (found or created) and
  the seller subscribed to it; idempotent, so a redelivered event finds everything in
  place (a subscription to another destination, another queue's, is moved to ours).
  Recorded in ``order_subscriptions``: which tenant a notification's SellerId is.
- a disconnection: the subscription deleted, the record ended; the seller's
  notifications still queued are dropped when they come.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from keybuzz_orders.notifications.order_changes import feed_marketplace
from keybuzz_orders.ports import SubscriptionPorts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderSubscriptions:
    ports: SubscriptionPorts

    async def subscribe(self, tenant_id: str) -> str:
        """The seller's ORDER_CHANGE subscription id (made if missing)."""
        notifications = self.ports.notifications
        seller_id, region = await notifications.seller(tenant_id)
        destination_id = await notifications.destination(region)
        subscription = await notifications.subscription(tenant_id)
        if subscription and subscription.destination_id != destination_id:
            # Subscribed to another destination (another queue): move it to ours.
            await notifications.unsubscribe(region, subscription.subscription_id)
            subscription = None
        if subscription is None:
            subscription = await notifications.subscribe(tenant_id, destination_id)
        await self.ports.store.save_subscription(
            tenant_id,
            feed_marketplace(),
            seller_id,
            region,
            subscription.subscription_id,
            destination_id,
        )
        log.info("subscribed to ORDER_CHANGE", extra={"tenant_id": tenant_id})
        return subscription.subscription_id

    async def unsubscribe(self, tenant_id: str) -> None:
        held = await self.ports.store.subscription(tenant_id, feed_marketplace())
        if held is None or held.status != "ACTIVE":
            return
        if held.subscription_id:
            await self.ports.notifications.unsubscribe(held.region, held.subscription_id)
        await self.ports.store.end_subscription(tenant_id, feed_marketplace())
        log.info("ORDER_CHANGE subscription deleted", extra={"tenant_id": tenant_id})

    async def forget(self, tenant_id: str) -> None:
        """The marketplace refused the deletion: the record ends all the same."""
        await self.ports.store.end_subscription(tenant_id, feed_marketplace())
