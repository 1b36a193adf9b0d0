"""The ORDER_CHANGE subscription of each connected seller (through
``keybuzz_shared.amazon.notifications``).

- ``connection.connected``: our queue's destination exists in the seller's region (found
  or created) and the seller is subscribed to it; idempotent, so a redelivered event
  finds everything in place. Recorded in ``order_subscriptions``: which tenant a
  notification's SellerId is.
- ``connection.disconnected`` / ``connection.reauth_required``: the subscription is
  deleted, and the seller's notifications still queued are dropped when they come.

Only when ``SQS_QUEUE_URL`` is set; the incremental sync keeps running either way.
"""

from __future__ import annotations

import logging
from typing import Any

from keybuzz_shared.amazon import (
    GrantlessTokens,
    LwaClient,
    NotificationsClient,
    SpApiClient,
)
from keybuzz_shared.ids import AMAZON
from keybuzz_shared.service import Runtime

from keybuzz_orders.notifications import notification_store as nstore
from keybuzz_orders.notifications.order_details import OrderDetails
from keybuzz_orders.notifications.sqs import QueueConsumer, sqs_client
from keybuzz_orders.ports import OrdersPorts

log = logging.getLogger(__name__)


class OrderSubscriptions:
    def __init__(self, runtime: Runtime[Any], spapi: SpApiClient) -> None:
        self.runtime = runtime
        settings = runtime.settings
        tokens = GrantlessTokens(
            runtime.vault,
            LwaClient(settings.lwa_endpoint, cacert=settings.lwa_cacert),
            app_source=settings.amazon_app_source,
        )
        self.api = NotificationsClient(
            spapi,
            tokens,
            endpoint=settings.spapi_endpoint,
            initial_backoff=settings.spapi_backoff_seconds,
        )
        self._queue_arn: str | None = None
        self._destinations: dict[str, str] = {}  # region -> destination id

    async def aclose(self) -> None:
        await self.api.aclose()

    async def subscribe(self, tenant_id: str) -> str:
        """The seller's ORDER_CHANGE subscription id (made if missing)."""
        access = await self.api.sellers.tokens.access_token(tenant_id)
        destination_id = await self.destination(access.region)
        subscription = await self.api.subscription(tenant_id)
        if subscription and subscription.destination_id != destination_id:
            # Subscribed to another destination (another queue): move it to ours.
            await self.api.delete_subscription(access.region, subscription.subscription_id)
            subscription = None
        if subscription is None:
            subscription = await self.api.subscribe(tenant_id, destination_id)
        await nstore.save_subscription(
            self.runtime.pool,
            tenant_id,
            AMAZON,
            access.seller_id,
            access.region,
            subscription.subscription_id,
            destination_id,
        )
        log.info("subscribed to ORDER_CHANGE", extra={"tenant_id": tenant_id})
        return subscription.subscription_id

    async def unsubscribe(self, tenant_id: str) -> None:
        row = await nstore.subscription(self.runtime.pool, tenant_id, AMAZON)
        if row is None or row["status"] != "ACTIVE":
            return
        if row["subscription_id"]:
            await self.api.delete_subscription(row["region"], row["subscription_id"])
        await nstore.end_subscription(self.runtime.pool, tenant_id, AMAZON)
        log.info("ORDER_CHANGE subscription deleted", extra={"tenant_id": tenant_id})

    async def destination(self, region: str) -> str:
        """Our queue's destination id in this region: found, or created once."""
        if region not in self._destinations:
            name = f"keybuzz-orders-{self.runtime.settings.keybuzz_env}"
            arn = await self.queue_arn()
            self._destinations[region] = await self.api.ensure_destination(region, name, arn)
        return self._destinations[region]

    async def queue_arn(self) -> str:
        if self._queue_arn is None:
            async with sqs_client(self.runtime.settings) as client:
                answer = await client.get_queue_attributes(
                    QueueUrl=self.runtime.settings.sqs_queue_url, AttributeNames=["QueueArn"]
                )
            self._queue_arn = str(answer["Attributes"]["QueueArn"])
        return self._queue_arn


# --- assembly (service.py) ---------------------------------------------------------------


async def provide(runtime: Runtime[Any], spapi: SpApiClient, ports: OrdersPorts) -> None:
    if runtime.settings.sqs_queue_url:
        runtime.provide(OrderSubscriptions(runtime, spapi))
        runtime.provide(QueueConsumer(runtime, ports))
        runtime.provide(OrderDetails(ports.details))


def start(runtime: Runtime[Any]) -> None:
    if QueueConsumer in runtime.components:
        runtime.component(QueueConsumer).start()
        runtime.component(OrderDetails).start()


async def stop(runtime: Runtime[Any]) -> None:
    if QueueConsumer in runtime.components:
        await runtime.component(QueueConsumer).aclose()
    if OrderDetails in runtime.components:
        await runtime.component(OrderDetails).aclose()
    if OrderSubscriptions in runtime.components:
        await runtime.component(OrderSubscriptions).aclose()
