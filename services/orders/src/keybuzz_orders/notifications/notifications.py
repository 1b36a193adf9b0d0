"""The order feed's change notifications wired to the service: its
``ports.OrderChangeNotifications`` adapter (``OpenedFeed.change_notifications``, to our SQS
queue), and the assembly of the subscriptions (``subscriptions.py``), the queue's
consumer (``sqs.py``) and the details' fetches (``order_details.py``).

Only when ``SQS_QUEUE_URL`` is set; the incremental sync keeps running either way.
"""

from __future__ import annotations

from typing import Any

from keybuzz_shared.connectors.seam import OpenedFeed
from keybuzz_shared.service import Runtime

from keybuzz_orders.notifications.notification_store import PostgresNotificationStore
from keybuzz_orders.notifications.order_details import OrderDetails
from keybuzz_orders.notifications.sqs import QueueConsumer, sqs_client
from keybuzz_orders.notifications.subscriptions import OrderSubscriptions
from keybuzz_orders.ports import OrdersPorts, SubscriptionPorts

# --- assembly (service.py) ---------------------------------------------------------------


async def provide(runtime: Runtime[Any], feed: OpenedFeed, ports: OrdersPorts) -> None:
    if runtime.settings.sqs_queue_url:

        async def queue_arn() -> str:
            async with sqs_client(runtime.settings) as client:
                answer = await client.get_queue_attributes(
                    QueueUrl=runtime.settings.sqs_queue_url, AttributeNames=["QueueArn"]
                )
            return str(answer["Attributes"]["QueueArn"])

        changes = feed.change_notifications(queue_arn)
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
