"""FastStream broker and event subscriptions with dead-lettering.

Every subscription is a durable JetStream pull consumer named
``<service>-<purpose>`` so that ``nats consumer ls <STREAM>`` tells an operator
who reads what. A body that cannot be decoded, or that the handler rejects as
permanently invalid, is parked on ``deadletter.<service>.<subject>`` with the
reason, then acknowledged: it never blocks the consumer and is never lost.
A handler that fails for a transient reason is redelivered with back-off, and
dead-lettered once it has failed ``max_deliveries`` times.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Generic

import msgspec
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from keybuzz_shared.events import E, Event, encode_event, event_headers
from keybuzz_shared.streams import DEAD_LETTER_PREFIX, STREAMS

log = logging.getLogger(__name__)

REASON_HEADER = "KeyBuzz-Dead-Letter-Reason"
ORIGINAL_SUBJECT_HEADER = "KeyBuzz-Original-Subject"
CONSUMER_HEADER = "KeyBuzz-Consumer"


class PermanentEventError(Exception):
    """The event is well-formed JSON but can never be processed (e.g. an unknown plan)."""


class Delivery(msgspec.Struct, frozen=True):
    """Where a message came from, for handlers that need ordering or idempotency keys."""

    subject: str
    stream: str
    stream_sequence: int
    published_at: datetime
    attempt: int


Handler = Callable[[E, Delivery], Awaitable[None]]


def create_broker(nats_url: str, service: str) -> NatsBroker:
    return NatsBroker(
        nats_url,
        name=f"keybuzz-{service}",
        max_reconnect_attempts=-1,  # keep trying: /ready reports the outage meanwhile
        reconnect_time_wait=1,
        logger=logging.getLogger(f"keybuzz.{service}.events"),
        log_level=logging.DEBUG,  # one line per message is noise at INFO; failures still log
    )


def stream_for(subject: str) -> str:
    prefix = subject.split(".", 1)[0]
    for name, subjects in STREAMS.items():
        if any(s.split(".", 1)[0] == prefix for s in subjects):
            return name
    raise ValueError(f"no stream holds subject {subject!r}")


def dead_letter_subject(service: str, subject: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{service}.{subject}"


def decode_delivered(body: bytes, event_type: type[E], delivery: Delivery) -> E:
    """Decode an event, filling envelope fields a hand-written ``nats pub`` leaves out.

    A missing ``eventId`` becomes ``<stream>-<sequence>`` so a redelivery keeps the
    same id; a missing ``occurredAt`` becomes the time JetStream stored the message.
    """
    raw: Any = msgspec.json.decode(body)
    if not isinstance(raw, dict):
        raise msgspec.ValidationError(f"expected a JSON object, got {type(raw).__name__}")
    raw.setdefault("eventId", f"{delivery.stream}-{delivery.stream_sequence}")
    raw.setdefault("occurredAt", delivery.published_at.isoformat())
    raw.setdefault("type", delivery.subject)
    return msgspec.convert(raw, event_type, strict=False)


class EventSubscription(Generic[E]):
    """One durable consumer of one subject, decoding into ``event_type``."""

    def __init__(
        self,
        broker: NatsBroker,
        *,
        service: str,
        event_type: type[E],
        handler: Handler[E],
        purpose: str | None = None,
        max_deliveries: int = 5,
    ) -> None:
        self.broker = broker
        self.service = service
        self.event_type = event_type
        self.handler = handler
        self.subject = event_type.SUBJECT
        self.stream = stream_for(self.subject)
        self.durable = f"{service}-{purpose or self.subject.replace('.', '-')}"
        self.max_deliveries = max_deliveries
        broker.subscriber(
            self.subject,
            stream=JStream(self.stream, declare=False),
            durable=self.durable,
            pull_sub=PullSub(batch_size=16, timeout=1.0),
            ack_policy=AckPolicy.MANUAL,
        )(self._consume)

    async def _consume(self, msg: NatsMessage) -> None:
        raw: Msg = msg.raw_message
        delivery = _delivery_of(raw, self.stream)
        try:
            event = decode_delivered(raw.data, self.event_type, delivery)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self._dead_letter(raw, f"undecodable {self.subject}: {exc}")
            return
        try:
            await self.handler(event, delivery)
        except PermanentEventError as exc:
            await self._dead_letter(raw, f"rejected {self.subject}: {exc}")
            return
        except Exception as exc:
            await self._retry_or_park(raw, delivery, exc)
            return
        await raw.ack()

    async def _retry_or_park(self, raw: Msg, delivery: Delivery, exc: Exception) -> None:
        if delivery.attempt >= self.max_deliveries:
            reason = f"failed {delivery.attempt} times: {type(exc).__name__}: {exc}"
            await self._dead_letter(raw, reason)
            return
        delay = min(2.0**delivery.attempt, 60.0)
        log.warning(
            "event handler failed; will retry",
            extra={"consumer": self.durable, "attempt": delivery.attempt, "retry_in": delay},
            exc_info=exc,
        )
        await raw.nak(delay=delay)

    async def _dead_letter(self, raw: Msg, reason: str) -> None:
        js: JetStreamContext = self.broker.connection.jetstream()
        seq = raw.metadata.sequence.stream
        headers = {
            "Nats-Msg-Id": f"dl-{self.durable}-{seq}",
            REASON_HEADER: reason[:1000],
            ORIGINAL_SUBJECT_HEADER: raw.subject,
            CONSUMER_HEADER: self.durable,
        }
        await js.publish(dead_letter_subject(self.service, raw.subject), raw.data, headers=headers)
        log.warning(
            "event parked on dead-letter subject",
            extra={"consumer": self.durable, "reason": reason[:1000], "stream_sequence": seq},
        )
        await raw.ack()


def _delivery_of(raw: Msg, stream: str) -> Delivery:
    meta = raw.metadata
    published = meta.timestamp or datetime.now(UTC)
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return Delivery(
        subject=raw.subject,
        stream=meta.stream or stream,
        stream_sequence=meta.sequence.stream,
        published_at=published,
        attempt=meta.num_delivered or 1,
    )


async def publish_event(js: JetStreamContext, event: Event) -> None:
    """Publish straight to JetStream (tools and tests; services go through the outbox)."""
    await js.publish(event.type, encode_event(event), headers=event_headers(event))
