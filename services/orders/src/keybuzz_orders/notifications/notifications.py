"""Amazon's ORDER_CHANGE notifications wired to the service: ``SpApiOrderChanges`` (the
``ports.OrderChangeNotifications`` adapter on ``keybuzz_shared.connectors.amazon.notifications``, to
our SQS queue), and the assembly of the subscriptions (``subscriptions.py``), the queue's
consumer (``sqs.py``) and the details' fetches (``order_details.py``).

Only when ``SQS_QUEUE_URL`` is set; the incremental sync keeps running either way.
"""

from __future__ import annotations

from typing import Any

from keybuzz_shared.connectors.amazon import (
    GrantlessTokens,
    LwaClient,
    NotificationsClient,
    SpApiClient,
)
from keybuzz_shared.service import Runtime

from keybuzz_orders.notifications.notification_store import PostgresNotificationStore
from keybuzz_orders.notifications.order_details import OrderDetails
from keybuzz_orders.notifications.sqs import QueueConsumer, sqs_client
from keybuzz_orders.notifications.subscriptions import OrderSubscriptions
from keybuzz_orders.ports import ChangeSubscription, OrdersPorts, SubscriptionPorts


class SpApiOrderChanges:
    """``ports.OrderChangeNotifications`` on Amazon's Notifications API, to the queue
    ``SQS_QUEUE_URL`` (its ARN read once from SQS)."""

    def __init__(self, runtime: Runtime[Any], spapi: SpApiClient) -> None:
        self.settings = runtime.settings
        tokens = GrantlessTokens(
            runtime.vault,
            LwaClient(self.settings.lwa_endpoint, cacert=self.settings.lwa_cacert),
            app_source=self.settings.amazon_app_source,
        )
        self.api = NotificationsClient(
            spapi,
            tokens,
            endpoint=self.settings.spapi_endpoint,
            initial_backoff=self.settings.spapi_backoff_seconds,
        )
        self._queue_arn: str | None = None
        self._destinations: dict[str, str] = {}  # region -> destination id

    async def aclose(self) -> None:
        await self.api.aclose()

    async def seller(self, tenant_id: str) -> tuple[str, str]:
        access = await self.api.sellers.tokens.access_token(tenant_id)
        return access.seller_id, access.region

    async def destination(self, region: str) -> str:
        if region not in self._destinations:
            name = f"keybuzz-orders-{self.settings.keybuzz_env}"
            arn = await self.queue_arn()
            self._destinations[region] = await self.api.ensure_destination(region, name, arn)
        return self._destinations[region]

    async def subscription(self, tenant_id: str) -> ChangeSubscription | None:
        found = await self.api.subscription(tenant_id)
        return (
            None
            if found is None
            else ChangeSubscription(found.subscription_id, found.destination_id)
        )

    async def subscribe(self, tenant_id: str, destination_id: str) -> ChangeSubscription:
        made = await self.api.subscribe(tenant_id, destination_id)
        return ChangeSubscription(made.subscription_id, made.destination_id)

    async def unsubscribe(self, region: str, subscription_id: str) -> None:
        await self.api.delete_subscription(region, subscription_id)

    async def queue_arn(self) -> str:
        if self._queue_arn is None:
            async with sqs_client(self.settings) as client:
                answer = await client.get_queue_attributes(
                    QueueUrl=self.settings.sqs_queue_url, AttributeNames=["QueueArn"]
                )
            self._queue_arn = str(answer["Attributes"]["QueueArn"])
        return self._queue_arn


# --- assembly (service.py) ---------------------------------------------------------------


async def provide(runtime: Runtime[Any], spapi: SpApiClient, ports: OrdersPorts) -> None:
    if runtime.settings.sqs_queue_url:
        changes = SpApiOrderChanges(runtime, spapi)
        runtime.provide(changes)
        store = PostgresNotificationStore(runtime.pool)
        runtime.provide(OrderSubscriptions(SubscriptionPorts(store, changes)))
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
    if SpApiOrderChanges in runtime.components:
        await runtime.component(SpApiOrderChanges).aclose()
