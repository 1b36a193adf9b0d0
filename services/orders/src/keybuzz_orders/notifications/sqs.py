"""The consumer of the notification queue (SQS, aiobotocore).

It long-polls ``SQS_QUEUE_URL`` (up to 10 messages, ``SQS_WAIT_SECONDS``), applies
each notification in its own unit of work (order_changes.py) and deletes the message
only after the commit: a crash or an error between the two makes SQS deliver it
again after the queue's visibility timeout, and applying it again changes nothing.
A message that is not a readable ORDER_CHANGE notification is sent to
``SQS_DEAD_LETTER_QUEUE_URL`` with the reason (message attribute ``reason``, the
original body unchanged) and deleted, as our NATS consumers dead-letter refused
events. While the queue cannot be reached the consumer backs off and tries again:
the messages wait in SQS (its retention is 4 days by default, up to 14).

Several instances may share the queue: SQS hides a received message from the others,
and a duplicate delivered to two at once is applied once (order_notifications).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from keybuzz_shared.background import BackgroundLoop
from keybuzz_shared.backoff import backoff_delay
from keybuzz_shared.service import Runtime

from keybuzz_orders.notifications import notification_metrics as metrics
from keybuzz_orders.notifications import notification_store as nstore
from keybuzz_orders.notifications import order_changes
from keybuzz_orders.notifications.order_changes import MalformedNotification, Outcome
from keybuzz_orders.ports import OrdersPorts

log = logging.getLogger(__name__)

BATCH = 10  # ReceiveMessage's maximum
DEPTH_EVERY_SECONDS = 15.0  # queue depth sampling (GetQueueAttributes)
CLEANUP_EVERY_SECONDS = 3600.0
REASON_LIMIT = 1000


def sqs_client(settings: Any) -> Any:
    """An SQS client context: AWS's endpoint unless SQS_ENDPOINT says otherwise.

    Credentials come from the AWS SDK's chain (IAM role, AWS_* environment), never from
    our settings. Timeouts exceed the long poll so a receive is not cut short.
    """
    # Imported here, where a queue is configured: botocore and aiohttp are ~0.7 s of CPU
    # that an instance without SQS_QUEUE_URL (and every test worker collecting) saves.
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        connect_timeout=5,
        read_timeout=settings.sqs_wait_seconds + 10,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return get_session().create_client(
        "sqs", region_name=settings.sqs_region, endpoint_url=settings.sqs_endpoint, config=config
    )


class QueueConsumer(BackgroundLoop):
    name = "order-notifications"

    def __init__(self, runtime: Runtime[Any], ports: OrdersPorts) -> None:
        self.runtime = runtime
        self.ports = ports
        self.settings = runtime.settings
        self._depth_at = 0.0
        self._cleanup_at = 0.0

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                async with sqs_client(self.settings) as client:
                    while True:
                        await self._round(client)
                        failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the queue (or the database) is unreachable
                failures += 1
                metrics.receive_error()
                log.warning(
                    "notification queue unreachable; retrying",
                    extra={"error": type(exc).__name__, "attempt": failures},
                )
                cap = self.settings.sqs_retry_max_seconds
                await asyncio.sleep(backoff_delay(failures, base=0.5, cap=cap, jitter=True))

    async def _round(self, client: Any) -> None:
        await self._housekeeping(client)
        answer = await client.receive_message(
            QueueUrl=self.settings.sqs_queue_url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=self.settings.sqs_wait_seconds,
            MessageSystemAttributeNames=["SentTimestamp"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return
        sent = min(int(m.get("Attributes", {}).get("SentTimestamp", 0)) for m in messages)
        if sent:
            metrics.oldest(time.time() - sent / 1000)
        # One at a time, each in its own unit of work: a failure costs only its message
        # (docs/BENCHMARKS.md compares it with one unit of work per batch).
        done = [m for m in messages if await self._handle(client, m)]
        if done:
            await client.delete_message_batch(
                QueueUrl=self.settings.sqs_queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )

    async def _handle(self, client: Any, message: dict[str, Any]) -> bool:
        """True once the message may be deleted (committed, or dead-lettered)."""
        try:
            notification = order_changes.parse(message["Body"])
        except MalformedNotification as exc:
            await self._dead_letter(client, message, str(exc))
            return True
        try:
            async with self.ports.notification_units() as unit:
                outcome, tenant_id = await order_changes.apply(unit, notification)
        except Exception as exc:  # the database: SQS delivers it again after the timeout
            metrics.handled("failed")
            log.warning("notification not applied", extra={"error": type(exc).__name__})
            return False
        metrics.handled(outcome.value)
        now = self.ports.clock()
        if outcome is Outcome.APPLIED:
            metrics.timings(
                (now - notification.published_at).total_seconds(),
                (now - notification.changed_at).total_seconds(),
            )
        log.info(
            "order notification %s",
            outcome.value,
            extra={"tenant_id": tenant_id, "order_id": notification.order_id},
        )
        return True

    async def _dead_letter(self, client: Any, message: dict[str, Any], reason: str) -> None:
        await client.send_message(
            QueueUrl=self.settings.sqs_dead_letter_queue_url,
            MessageBody=message["Body"],
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:REASON_LIMIT]},
                "source": {"DataType": "String", "StringValue": "orders"},
            },
        )
        metrics.handled("dead_lettered")
        log.warning("notification dead-lettered: %s", reason[:200])

    async def _housekeeping(self, client: Any) -> None:
        now = time.monotonic()
        if now >= self._depth_at:
            self._depth_at = now + DEPTH_EVERY_SECONDS
            for name, url in (
                ("main", self.settings.sqs_queue_url),
                ("dead_letter", self.settings.sqs_dead_letter_queue_url),
            ):
                found = await client.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
                )
                metrics.queue_depth(name, int(found["Attributes"]["ApproximateNumberOfMessages"]))
        if now >= self._cleanup_at:
            self._cleanup_at = now + CLEANUP_EVERY_SECONDS
            await nstore.forget_notifications(self.runtime.pool)
