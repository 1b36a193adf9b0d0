"""Event consumption: durable pull consumers, batches, per-tenant order, dead letters.

Every subscription is a durable JetStream pull consumer named ``<service>-<purpose>``,
so ``nats consumer ls <STREAM>`` tells an operator who reads what. Events of one key
(the tenant) are handled in stream order, different keys concurrently; an event is
acknowledged only after its handler (and a batch's transaction) succeeded, so handlers
are idempotent and a retried event may be overtaken (check ``occurredAt``). Undecodable
or permanently invalid bodies go to ``deadletter.<service>.<subject>``; an outage
(``errors.is_outage``) holds the event and retries while it lasts; other failures are
retried with back-off and dead-lettered after ``max_deliveries``. The guarantees in
full: docs/SERVICE_FRAME.md, "Consuming events".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from keybuzz_shared import metrics, tracing
from keybuzz_shared.backoff import backoff_delay
from keybuzz_shared.errors import is_outage
from keybuzz_shared.events import E, Event, encode_event
from keybuzz_shared.outbox import publish_headers
from keybuzz_shared.redaction import redact_text
from keybuzz_shared.settings import CommonSettings
from keybuzz_shared.streams import (
    dead_letter_subject,
    original_subject,
    redrive_subject,
    stream_for,
)
from keybuzz_shared.text import is_storable, one_line
from keybuzz_shared.times import as_utc
from keybuzz_shared.uow import UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")

REASON_HEADER = "KeyBuzz-Dead-Letter-Reason"
ORIGINAL_SUBJECT_HEADER = "KeyBuzz-Original-Subject"
ORIGINAL_STREAM_HEADER = "KeyBuzz-Original-Stream"
ORIGINAL_SEQUENCE_HEADER = "KeyBuzz-Original-Sequence"
TRUNCATED_HEADER = "KeyBuzz-Truncated-From"
CONSUMER_HEADER = "KeyBuzz-Consumer"

MAX_CLOCK_SKEW = timedelta(minutes=5)  # occurredAt later than now + this is refused
RETRY_BACKOFF_MAX_SECONDS = 60.0
_TRACE_HEADERS = ("traceparent", "tracestate")
GIVE_BACK_DELAY_SECONDS = 1.0  # a batch that failed as a whole is tried again after this
# JetStream's own limit, a backstop should dead-lettering itself keep failing.
EXTRA_DELIVERIES_BEFORE_GIVING_UP = 5
CONSUMER_CREATE_ATTEMPTS = 3  # each within the JetStream API's own timeout (5 s)


class PermanentEventError(Exception):
    """The event is well-formed JSON but can never be processed (e.g. an unknown plan)."""


class Delivery(msgspec.Struct, frozen=True):
    """Where a message came from, for handlers that need ordering or idempotency keys."""

    subject: str
    stream: str
    stream_sequence: int
    published_at: datetime
    attempt: int


class Delivered(msgspec.Struct, Generic[E], frozen=True):
    """One decoded event of a batch, with where it came from."""

    event: E
    delivery: Delivery


Handler = Callable[[E, Delivery], Awaitable[None]]
# A batch handler writes through the unit of work it is given; the frame commits it.
BatchHandler = Callable[[UnitOfWork, Sequence[Delivered[E]]], Awaitable[None]]


class SubscriberHost(Protocol):
    """What a subscription needs from the service runtime (``service.Runtime``)."""

    name: str
    subscriptions: list[Any]

    @property
    def settings(self) -> CommonSettings: ...

    @property
    def nc(self) -> Client: ...

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]: ...


class UndecodableEvent(Exception):
    """The body is not a valid event of the subscription's type; never retried."""


def decode_delivered(body: bytes, event_type: type[E], delivery: Delivery) -> E:
    """Decode an event, filling envelope fields a hand-written ``nats pub`` leaves out.

    A missing ``eventId`` becomes ``<stream>-<sequence>-<stored at, ns>``: the
    same on redelivery, different after a stream is re-created. A missing
    ``occurredAt`` becomes the time JetStream stored the message. Every failure
    (bad JSON, too deep, bad UTF-8, wrong fields, text PostgreSQL cannot store,
    a time in the future) raises ``UndecodableEvent``.
    """
    try:
        raw: Any = msgspec.json.decode(body)
        if not isinstance(raw, dict):
            raise UndecodableEvent(f"expected a JSON object, got {type(raw).__name__}")
        _refuse_unstorable_text(raw)
        stored_ns = int(delivery.published_at.timestamp() * 1_000_000_000)
        raw.setdefault("eventId", f"{delivery.stream}-{delivery.stream_sequence}-{stored_ns}")
        raw.setdefault("occurredAt", delivery.published_at.isoformat())
        raw.setdefault("type", delivery.subject)
        event = msgspec.convert(raw, event_type, strict=False)
    except UndecodableEvent:
        raise
    except (Exception, RecursionError) as exc:  # msgspec, UnicodeDecodeError, RecursionError…
        raise UndecodableEvent(f"{type(exc).__name__}: {exc}") from None
    now = datetime.now(UTC)
    if event.occurred_at > now + MAX_CLOCK_SKEW:
        raise UndecodableEvent(
            f"occurredAt {event.occurred_at.isoformat()} is in the future: more than "
            f"{MAX_CLOCK_SKEW.total_seconds():.0f} s ahead of this service's clock "
            f"({now.isoformat(timespec='seconds')})"
        )
    return event


def _refuse_unstorable_text(value: Any, depth: int = 0) -> None:
    """NUL and lone surrogates cannot be stored as PostgreSQL text: refuse them here."""
    if isinstance(value, str):
        if not is_storable(value):
            raise UndecodableEvent("text contains a NUL character or an invalid code point")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unstorable_text(key, depth)
            _refuse_unstorable_text(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _refuse_unstorable_text(item, depth + 1)


def partition_by_key(pairs: Sequence[tuple[Delivered[E], T]]) -> list[list[tuple[Delivered[E], T]]]:
    """Group a batch by tenant, keeping each tenant's events in stream order."""
    groups: dict[str, list[tuple[Delivered[E], T]]] = {}
    for pair in pairs:
        groups.setdefault(pair[0].event.tenant_id, []).append(pair)
    return list(groups.values())


class EventSubscription(Generic[E]):
    """One durable consumer of one subject, decoding into ``event_type``.

    Give ``handler`` (one event at a time) or ``batch_handler`` (the fetched
    batch in one unit of work; on failure each event is retried alone, so a
    poison event is isolated and the others still commit).
    """

    def __init__(
        self,
        host: SubscriberHost,
        *,
        event_type: type[E],
        handler: Handler[E] | None = None,
        batch_handler: BatchHandler[E] | None = None,
        purpose: str | None = None,
        max_deliveries: int = 5,
        batch_size: int = 64,
        ack_wait: float = 30.0,
        retry_backoff: float = 2.0,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise ValueError("give exactly one of handler and batch_handler")
        self.host = host
        self.service = host.name
        self.event_type = event_type
        self.handler = handler
        self.batch_handler = batch_handler
        self.subject = event_type.SUBJECT
        self.stream = stream_for(self.subject)
        self.durable = f"{self.service}-{purpose or self.subject.replace('.', '-')}"
        self.max_deliveries = max_deliveries
        self.ack_wait = ack_wait
        self.retry_backoff = retry_backoff
        self.batch_size = batch_size
        self._task: asyncio.Task[None] | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._running = False
        self._stopping = asyncio.Event()  # wakes a held event's back-off: it is given back
        self._busy = False
        host.subscriptions.append(self)

    # --- the pull loop ---------------------------------------------------------------------
    # Our own on nats-py (README, "How it is built"): ack after commit, per-tenant order,
    # leases and dead letters with reasons are what this frame is for.

    async def start(self) -> None:
        """Create or update the durable consumer, then consume (the frame calls this)."""
        js = self.host.nc.jetstream()
        await self._create_consumer(js)
        self._subscription = await js.pull_subscribe_bind(self.durable, self.stream)
        self._running = True
        self._stopping.clear()
        self._task = asyncio.create_task(
            self._pull(self._subscription), name=f"consumer-{self.durable}"
        )

    async def _create_consumer(self, js: JetStreamContext) -> None:
        config = ConsumerConfig(
            durable_name=self.durable,
            # its subject, and the replays of its own dead letters (keybuzz_shared.redrive)
            filter_subjects=[self.subject, redrive_subject(self.durable, self.subject)],
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliveries + EXTRA_DELIVERIES_BEFORE_GIVING_UP,
        )
        # Create-or-update (a changed ack_wait/max_deliver applies) is the same asked twice:
        # a request a slow server left unanswered is asked again, not a failed start.
        for attempt in range(1, CONSUMER_CREATE_ATTEMPTS + 1):
            try:
                await js.add_consumer(self.stream, config)
                return
            except NatsTimeoutError:
                if attempt == CONSUMER_CREATE_ATTEMPTS:
                    raise
                log.warning(
                    "creating the durable consumer timed out; asking again",
                    extra={"consumer": self.durable, "attempt": attempt},
                )

    async def problem(self) -> str | None:
        """Why this consumer takes nothing (``/ready``), None when it is there.

        A consumer deleted under a running service is created again at once: it then
        delivers the stream from its start again, as after a restart (handlers are
        idempotent). Only a definite "not found" counts; a slow or unreachable
        server is the ``nats`` check's to report.
        """
        if not self._running:
            return None
        js = self.host.nc.jetstream()
        try:
            await js.consumer_info(self.stream, self.durable)
            return None
        except NotFoundError:
            pass
        log.error("durable consumer is gone; creating it again", extra={"consumer": self.durable})
        try:
            await self._create_consumer(js)
        except Exception as exc:
            return f"consumer {self.durable} on {self.stream} is gone and cannot be created: {exc}"
        return f"consumer {self.durable} on {self.stream} was gone; created again"

    async def stop(self, within: float = 10.0) -> None:
        """Finish the batch in hand (bounded), then stop fetching; an event held for an
        outage is given back at once rather than waited on (``_handle_one``)."""
        self._running = False
        self._stopping.set()
        if self._task is None:
            return
        if not self._busy:
            self._task.cancel()
        await asyncio.wait({self._task}, timeout=within)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        # Gone before NATS drains: nats-py's drain waits on the queue of a pull
        # subscription that fetch never marks done, until its timeout, then logs an error.
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def _pull(self, pull: JetStreamContext.PullSubscription) -> None:
        long_poll = self.host.settings.event_long_poll_seconds
        while self._running:
            try:
                raws = await pull.fetch(self.batch_size, timeout=long_poll)
            except TimeoutError:  # nothing new (nats-py raises both kinds)
                continue
            except Exception as exc:  # disconnected: nats-py reconnects; /ready says so
                log.debug("fetch failed", extra={"consumer": self.durable, "error": repr(exc)})
                await asyncio.sleep(1.0)
                continue
            self._busy = True
            try:
                await self._consume_batch(raws)
            except Exception as exc:  # the loop outlives a batch it could not finish
                await self._give_back(raws, exc)
            finally:
                self._busy = False

    async def _give_back(self, raws: list[Msg], exc: Exception) -> None:
        """A batch failed outside its handlers (a dead letter refused, an ack lost): what
        it left unacknowledged is offered again after a pause instead of after ``ack_wait``."""
        log.error(
            "a batch failed outside its handlers; its events will be delivered again",
            extra={"consumer": self.durable, "error": f"{type(exc).__name__}: {exc}"},
        )
        for raw in raws:
            if not raw._ackd:
                with contextlib.suppress(Exception):  # the connection may be the failure
                    await raw.nak(delay=GIVE_BACK_DELAY_SECONDS)
        await asyncio.sleep(GIVE_BACK_DELAY_SECONDS)

    # --- one fetched batch -----------------------------------------------------------------

    async def _consume_batch(self, raws: list[Msg]) -> None:
        async with self._lease(raws):
            decoded = [pair for pair in [await self._decode(raw) for raw in raws] if pair]
            if self.batch_handler is not None and decoded and await self._batch_in_one(decoded):
                await asyncio.gather(*(raw.ack() for _, raw in decoded))
                return
            groups = partition_by_key(decoded)
            await asyncio.gather(*(self._handle_in_order(group) for group in groups))

    async def _decode(self, raw: Msg) -> tuple[Delivered[E], Msg] | None:
        delivery = _delivery_of(raw, self.stream)
        try:
            event = decode_delivered(raw.data, self.event_type, delivery)
        except UndecodableEvent as exc:
            await self._dead_letter(raw, f"undecodable {self.subject}: {exc}")
            return None
        return Delivered(event=event, delivery=delivery), raw

    async def _batch_in_one(self, decoded: list[tuple[Delivered[E], Msg]]) -> bool:
        """The whole batch in one transaction; False sends every event down the single path."""
        assert self.batch_handler is not None
        started = time.monotonic()
        try:
            with tracing.consume_context(decoded[0][1].headers, f"{self.subject} process"):
                async with self.host.unit_of_work() as uow:
                    await self.batch_handler(uow, [item for item, _ in decoded])
        except Exception as exc:
            log.info(
                "batch failed; handling its events one by one",
                extra={"consumer": self.durable, "size": len(decoded), "error": repr(exc)},
            )
            return False
        seconds = (time.monotonic() - started) / len(decoded)
        for _ in decoded:
            metrics.event_outcome(self.service, self.subject, "ok", seconds, consumer=self.durable)
        return True

    async def _handle_in_order(self, group: list[tuple[Delivered[E], Msg]]) -> None:
        for index, (item, raw) in enumerate(group):
            if not await self._handle_one(item, raw):
                # One event of the key given back: the later ones too, or they would be
                # handled before it.
                for _, later in group[index + 1 :]:
                    await self._give_back_one(later)
                return

    # --- one event -------------------------------------------------------------------------

    async def _handle_one(self, item: Delivered[E], raw: Msg) -> bool:
        """Handle ``item`` (acknowledged, retried or dead-lettered): True; False when it was
        held for an outage while the consumer stops, and given back to JetStream at once,
        for the next instance, instead of holding the stop until the outage ends."""
        holds = 0
        while True:
            started = time.monotonic()
            with tracing.consume_context(raw.headers, f"{self.subject} process"):
                outcome = await self._attempt(item, raw)
            metrics.event_outcome(
                self.service,
                self.subject,
                outcome,
                time.monotonic() - started,
                consumer=self.durable,
            )
            if outcome != "held":
                return True
            holds += 1  # the dependency is down: keep the event, try again
            settings = self.host.settings
            delay = backoff_delay(
                holds,
                base=settings.event_hold_backoff_seconds,
                cap=settings.event_hold_backoff_max_seconds,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                await self._give_back_one(raw)
                return False

    async def _give_back_one(self, raw: Msg) -> None:
        with contextlib.suppress(Exception):  # unacknowledged, it comes back at ack_wait anyway
            await raw.nak()

    async def _attempt(self, item: Delivered[E], raw: Msg) -> str:
        try:
            await self._run_handler(item)
        except PermanentEventError as exc:
            await self._dead_letter(raw, f"rejected {self.subject}: {exc}")
            return "dead_lettered"
        except Exception as exc:
            if is_outage(exc):
                log.warning(
                    "a dependency is down; holding the event",
                    extra={"consumer": self.durable, "error": f"{type(exc).__name__}: {exc}"},
                )
                return "held"
            return await self._retry_or_park(raw, item.delivery, exc)
        await raw.ack()
        return "ok"

    async def _run_handler(self, item: Delivered[E]) -> None:
        if self.handler is not None:
            await self.handler(item.event, item.delivery)
            return
        assert self.batch_handler is not None
        async with self.host.unit_of_work() as uow:
            await self.batch_handler(uow, [item])

    async def _retry_or_park(self, raw: Msg, delivery: Delivery, exc: Exception) -> str:
        if delivery.attempt >= self.max_deliveries:
            reason = f"failed {delivery.attempt} times: {type(exc).__name__}: {exc}"
            await self._dead_letter(raw, reason)
            return "dead_lettered"
        delay = backoff_delay(
            delivery.attempt, base=self.retry_backoff, cap=RETRY_BACKOFF_MAX_SECONDS
        )
        log.warning(
            "event handler failed; will retry",
            extra={"consumer": self.durable, "attempt": delivery.attempt, "retry_in": delay},
            exc_info=exc,
        )
        await raw.nak(delay=delay)
        return "retried"

    # --- leases and dead letters -----------------------------------------------------------

    @asynccontextmanager
    async def _lease(self, raws: list[Msg]) -> AsyncIterator[None]:
        """Tell JetStream we are still working, so a slow batch is not redelivered meanwhile."""

        async def keep_alive() -> None:
            while True:
                await asyncio.sleep(self.ack_wait / 3)
                for raw in raws:
                    if not raw._ackd:
                        await raw.in_progress()

        task = asyncio.create_task(keep_alive(), name=f"lease-{self.durable}")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _dead_letter(self, raw: Msg, reason: str) -> None:
        js: JetStreamContext = self.host.nc.jetstream()
        meta = raw.metadata
        headers = {
            "Nats-Msg-Id": f"dl-{self.durable}-{meta.stream}-{meta.sequence.stream}-"
            f"{int(_stored_at(raw).timestamp() * 1_000_000)}",
            # an exception's text may hold a DSN or a token: masked like a log line
            REASON_HEADER: _header_text(redact_text(reason)),
            ORIGINAL_SUBJECT_HEADER: original_subject(raw.subject),
            ORIGINAL_STREAM_HEADER: meta.stream or self.stream,
            ORIGINAL_SEQUENCE_HEADER: str(meta.sequence.stream),
            CONSUMER_HEADER: self.durable,
            # the trace it belonged to travels on, to the redrive and back
            **{k: v for k, v in (raw.headers or {}).items() if k.lower() in _TRACE_HEADERS},
        }
        body = _fit_payload(raw.data, headers, self.host.nc.max_payload)
        subject = dead_letter_subject(self.service, original_subject(raw.subject))
        await js.publish(subject, body, headers=headers)
        log.warning(
            "event parked on dead-letter subject",
            extra={
                "consumer": self.durable,
                "reason": headers[REASON_HEADER],
                "stream_sequence": meta.sequence.stream,
            },
        )
        metrics.event_outcome(
            self.service, self.subject, "dead_lettered", 0.0, consumer=self.durable
        )
        await raw.ack()


def _header_text(text: str, limit: int = 1000) -> str:
    """Header values are one line of printable text."""
    return one_line(text)[:limit]


def _fit_payload(body: bytes, headers: dict[str, str], max_payload: int) -> bytes:
    """Keep a dead letter under NATS's ``max_payload`` (headers count too).

    Over the limit, the server closes the connection; a truncated body keeps the
    original's stream and sequence in the headers, so the whole can be read back.
    """
    header_bytes = 16 + sum(len(k) + len(v.encode()) + 4 for k, v in headers.items())
    budget = max_payload - header_bytes - 256  # room for the truncation header itself
    if len(body) <= budget:
        return body
    headers[TRUNCATED_HEADER] = str(len(body))
    return body[: max(budget, 0)]


def _stored_at(raw: Msg) -> datetime:
    return as_utc(raw.metadata.timestamp or datetime.now(UTC))


def _delivery_of(raw: Msg, stream: str) -> Delivery:
    meta = raw.metadata
    return Delivery(
        subject=original_subject(raw.subject),  # a replay is the event it replays
        stream=meta.stream or stream,
        stream_sequence=meta.sequence.stream,
        published_at=_stored_at(raw),
        attempt=meta.num_delivered or 1,
    )


async def publish_event(js: JetStreamContext, event: Event) -> None:
    """Publish straight to JetStream (tools and tests; services go through the outbox)."""
    await js.publish(event.type, encode_event(event), headers=publish_headers(event))
