"""What a double publishes to its callers' SQS queues (docs/SANDBOX.md, the double kit)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, NamedTuple

import msgspec
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from keybuzz_sandbox.faults import Fraction, NextCount

log = logging.getLogger(__name__)

TICK_SECONDS = 0.1  # how often the double's events are looked for and due messages sent
SQS_BATCH = 10  # SendMessageBatch's maximum
MAX_RETRY_SECONDS = 5.0
RealSeconds = Annotated[float, msgspec.Meta(ge=0, le=900)]


class DeliveryFaults(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """A double's admin ``PUT …/faults`` body: how late events are published, how SQS delivers."""

    # Each message is published a lag drawn uniformly from [0, event_lag_seconds) (real
    # seconds) after its event, and reaches the queue then. Marketplaces take seconds to
    # minutes; the default stays short so that tests and the dev stack see events at once.
    event_lag_seconds: RealSeconds = 1.0
    duplicate_rate: Fraction = 0.0  # fraction of messages sent twice
    late_rate: Fraction = 0.0  # fraction held back late_seconds (arrive after later ones)
    late_seconds: RealSeconds = 2.0
    duplicate_next: NextCount = 0  # the next n messages are sent twice (deterministic)
    late_next: NextCount = 0  # the next n messages are held back


class Sending(msgspec.Struct, frozen=True):
    """What the faults made of one message: published when, held back how long, sent how often."""

    published: float  # real epoch seconds
    late: float
    copies: int


class SqsArn(NamedTuple):
    region: str
    account: str
    name: str


def parse_sqs_arn(arn: str) -> SqsArn | None:
    """arn:aws:sqs:<region>:<account>:<queue name>, or None when ``arn`` is not one."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"] or not all(parts[3:]):
        return None
    return SqsArn(*parts[3:])


class Outgoing(msgspec.Struct):
    queue: SqsArn
    body: str
    due: float  # real epoch seconds


class SqsOutbox:
    """The messages on their way (in memory), sent to ``endpoint`` (None: held); ``tick``
    is called with the real time before each round, to publish what happened since."""

    def __init__(self, seed: str, endpoint: str | None, tick: Callable[[float], None]) -> None:
        # Without a trailing slash, as the other endpoints.
        self.endpoint = (endpoint or "").rstrip("/") or None
        self.tick = tick
        self.pending: list[Outgoing] = []
        self.faults = DeliveryFaults()
        self.rng = random.Random(f"{seed}:notifications")
        self.lag_rng = random.Random(f"{seed}:notification-lag")
        self._retry_at = 0.0
        self._retry_delay = 0.0
        self._queue_urls: dict[SqsArn, str] = {}
        self._task: asyncio.Task[None] | None = None

    def drawn(self, now: float) -> Sending:
        """The next message's lag, hold and copies: the next n forced (counted down), else
        drawn at their rates."""
        f = self.faults
        published = now + self.lag_rng.uniform(0.0, f.event_lag_seconds)
        late = f.late_seconds if f.late_next > 0 or self._drawn(f.late_rate) else 0.0
        copies = 2 if f.duplicate_next > 0 or self._drawn(f.duplicate_rate) else 1
        f.late_next, f.duplicate_next = max(0, f.late_next - 1), max(0, f.duplicate_next - 1)
        return Sending(published, late, copies)

    def _drawn(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def queue(self, arn: str, body: str, sending: Sending) -> None:
        due, queue = sending.published + sending.late, parse_sqs_arn(arn)
        assert queue is not None  # a double queues only for ARNs it took
        self.pending += [Outgoing(queue, body, due) for _ in range(sending.copies)]

    # --- delivery ------------------------------------------------------------------------

    def start(self) -> None:
        """Deliver from the running event loop (a double starts it when first needed)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sandbox-sqs")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Stops delivering when the application stops (a double's lifespan)."""
        try:
            yield
        finally:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def _run(self) -> None:
        config = AioConfig(
            connect_timeout=2, read_timeout=5, retries={"max_attempts": 1, "mode": "standard"}
        )
        session = get_session()
        async with contextlib.AsyncExitStack() as stack:
            clients: dict[str, Any] = {}

            async def client(region: str) -> Any:
                if region not in clients:
                    made = session.create_client(
                        "sqs",
                        region_name=region,
                        endpoint_url=self.endpoint,
                        aws_access_key_id="sandbox",
                        aws_secret_access_key="sandbox",  # noqa: S106 - local SQS only
                        config=config,
                    )
                    clients[region] = await stack.enter_async_context(made)
                return clients[region]

            while True:
                now = time.time()
                try:
                    self.tick(now)
                except Exception:  # a bug must not stop delivery for good
                    log.exception("publishing events failed")
                if self.endpoint and self.pending and now >= self._retry_at:
                    await self._deliver_due(client, now)
                await asyncio.sleep(TICK_SECONDS)

    async def _deliver_due(self, client: Callable[[str], Any], now: float) -> None:
        # Oldest due first: a tick that runs late (a loaded machine) still sends them in
        # the order they were published, as SQS receives them.
        due = sorted((o for o in self.pending if o.due <= now), key=lambda o: o.due)
        try:
            for batch in _batches(due):
                await self._send(await client(batch[0].queue.region), batch)
            self._retry_delay = 0.0
        except Exception as exc:  # the queue is unreachable: hold everything, try again
            self._retry_delay = min(MAX_RETRY_SECONDS, max(0.2, self._retry_delay * 2))
            self._retry_at = time.time() + self._retry_delay
            log.warning("SQS delivery failed, held: %s", type(exc).__name__)

    async def _send(self, client: Any, batch: list[Outgoing]) -> None:
        url = await self._queue_url(client, batch[0].queue)
        entries = [{"Id": str(i), "MessageBody": o.body} for i, o in enumerate(batch)]
        answer = await client.send_message_batch(QueueUrl=url, Entries=entries)
        failed = {int(f["Id"]) for f in answer.get("Failed", [])}
        sent = [o for i, o in enumerate(batch) if i not in failed]
        self.pending = [o for o in self.pending if not any(o is s for s in sent)]
        if failed:
            raise RuntimeError(f"{len(failed)} messages refused by SQS")

    async def _queue_url(self, client: Any, queue: SqsArn) -> str:
        if queue not in self._queue_urls:
            found = await client.get_queue_url(
                QueueName=queue.name, QueueOwnerAWSAccountId=queue.account
            )
            self._queue_urls[queue] = found["QueueUrl"]
        return self._queue_urls[queue]


def _batches(due: list[Outgoing]) -> Iterator[list[Outgoing]]:
    """Up to ten messages of one queue per batch, in the order they were published."""
    by_queue: dict[SqsArn, list[Outgoing]] = {}
    for outgoing in due:
        by_queue.setdefault(outgoing.queue, []).append(outgoing)
    for items in by_queue.values():
        for start in range(0, len(items), SQS_BATCH):
            yield items[start : start + SQS_BATCH]
