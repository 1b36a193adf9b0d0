"""Transactional outbox relayed to JetStream (docs/CONTRACTS.md, "Events": state and event never drift).

``enqueue_many`` runs inside the caller's transaction (``uow.py``) and stores each
event with the headers a direct publish would send, taken while the caller's trace
context is current. ``OutboxRelay`` publishes a producer's pending rows in id order,
many acks in flight at once, and marks what JetStream acknowledged; what failed stays
pending and is sent again later (``Nats-Msg-Id`` lets the stream drop re-sends).

One relay per producer is active at a time, whatever the number of service
instances: each round holds a PostgreSQL advisory lock keyed on the producer. The
exact ordering guarantee is in docs/SERVICE_FRAME.md, "Outbox".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header
from nats.js.errors import APIError, NoStreamResponseError

from keybuzz_shared import tracing
from keybuzz_shared.backoff import backoff_delay
from keybuzz_shared.db import Executor
from keybuzz_shared.events import Event, encode_event, event_headers

log = logging.getLogger(__name__)

BATCH_SIZE = 1000  # one SELECT, up to this many publishes in flight, one UPDATE
ACK_TIMEOUT_SECONDS = 5.0  # for the whole batch's acks
IDLE_POLL_SECONDS = 1.0  # rows committed without a wake (another instance) wait this long
BUSY_RETRY_SECONDS = 0.1  # another instance holds the lock while we have fresh rows
MAX_BACKOFF_SECONDS = 5.0  # between rounds while publishing fails
STOP_ATTEMPT_SECONDS = 2.0  # the last round at shutdown; well under the frame's 10 s per step
RETENTION = "7 days"
PURGE_EVERY_SECONDS = 600.0
# Two-key advisory locks (namespace, producer) cannot collide with the one-key
# migration lock in db.py.
LOCK_NAMESPACE = 0x6B626F78  # "kbox"

# Failures that are conditions of the environment, not bugs: no traceback for them.
_EXPECTED_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, nats.errors.Error)

# One statement for the whole list: executemany ran the INSERT once per row, each with
# its own executor start (a quarter of PostgreSQL's time in bench_poller). Ids (bigserial)
# follow ``position``: the order given.
_INSERT = """
INSERT INTO event_outbox (producer, event_id, subject, payload, headers, partition_key)
SELECT $1, event_id, subject, payload, headers::jsonb, partition_key
FROM unnest($2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[])
    WITH ORDINALITY AS e (event_id, subject, payload, headers, partition_key, position)
ORDER BY position
ON CONFLICT (event_id) DO NOTHING
"""
_LOCK = "SELECT pg_try_advisory_xact_lock($1, hashtext($2))"
_PENDING = (
    "SELECT id, subject, payload, headers FROM event_outbox "
    "WHERE producer = $1 AND published_at IS NULL ORDER BY id LIMIT $2"
)
# The fallback poll's whole round when nothing is pending (the partial index answers it).
_ANY_PENDING = (
    "SELECT EXISTS (SELECT 1 FROM event_outbox WHERE producer = $1 AND published_at IS NULL)"
)
_MARK_PUBLISHED = (
    "UPDATE event_outbox SET published_at = now(), attempts = attempts + 1 "
    "WHERE id = ANY($1::bigint[])"
)
_MARK_FAILED = "UPDATE event_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1"
_BACKLOG = (
    "SELECT count(*) AS pending, extract(epoch FROM now() - min(created_at))::float8 AS age "
    "FROM event_outbox WHERE producer = $1 AND published_at IS NULL"
)

_headers_decoder = msgspec.json.Decoder(dict[str, str])
NO_RESPONDERS = "503"  # the Status header NATS answers with when no stream takes the subject


class _PubAck(msgspec.Struct):
    """What JetStream answers a publish: the stream that stored it, or why not."""

    stream: str | None = None
    error: dict[str, Any] | None = None


_ack_decoder = msgspec.json.Decoder(_PubAck)


def publish_headers(event: Event) -> dict[str, str]:
    """What goes out with ``event``: trace context, then ``Nats-Msg-Id`` and the type (these win)."""
    return {**tracing.trace_headers(), **event_headers(event)}


async def enqueue_many(conn: asyncpg.Connection, producer: str, events: Sequence[Event]) -> None:
    """Record ``events`` for publication inside the caller's transaction; idempotent per id.

    One statement (bulk syncs emit thousands); ids follow the order given.
    """
    if not events:
        return
    trace = tracing.trace_headers()  # one context for the whole unit of work
    await conn.execute(
        _INSERT,
        producer,
        [e.event_id for e in events],
        [e.type for e in events],
        [encode_event(e) for e in events],
        [msgspec.json.encode({**trace, **event_headers(e)}).decode() for e in events],
        [e.tenant_id for e in events],
    )


async def backlog(pool: Executor, producer: str) -> tuple[int, float | None]:
    """Pending rows of ``producer`` and the age in seconds of the oldest (None when none).

    Answered from the partial index ``event_outbox_pending_age`` alone (migration 002).
    """
    row = await pool.fetchrow(_BACKLOG, producer)
    assert row is not None
    return row["pending"], row["age"]


@dataclass(frozen=True)
class RelayRound:
    """What one round did."""

    published: int = 0
    error: str | None = None  # why the batch stopped early; that row and later ones stay pending
    busy: bool = False  # another instance holds this producer's lock
    full: bool = False  # the batch was full: more rows are probably waiting
    # The relay's wakes counted when the round's transaction began: their commits are in
    # what it read (None: it read nothing, another instance holding the lock).
    wakes_read: int | None = None


class OutboxRelay:
    """Publishes a producer's pending outbox rows; one per service process."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: str,
        connection: Callable[[], Client],
        *,
        batch_size: int = BATCH_SIZE,
        ack_timeout: float = ACK_TIMEOUT_SECONDS,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.connection = connection
        self.batch_size = batch_size
        self.ack_timeout = ack_timeout
        self._wake = asyncio.Event()
        self._wakes = 0  # wakes so far: a round knows which commits it read
        self._task: asyncio.Task[None] | None = None
        self._acks: _AckInbox | None = None  # the reply subscription, one per connection

    def wake(self) -> None:
        """Publish now rather than at the next poll (call after committing)."""
        self._wakes += 1
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.producer}")

    async def stop(self) -> None:
        """Stop the loop, then make one bounded last round; what is left waits for the next start.

        NATS slow or gone at shutdown is normal, so it is logged at info level, without a
        traceback, and never raised.
        """
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            last = await asyncio.wait_for(
                self.relay_pending(ack_timeout=STOP_ATTEMPT_SECONDS / 2), STOP_ATTEMPT_SECONDS
            )
        except (TimeoutError, *_EXPECTED_ERRORS) as exc:
            reason: str | None = _describe(exc)
        else:
            reason = last.error
        if reason:
            log.info(
                "outbox relay stopped; unpublished events stay for the next start",
                extra={"producer": self.producer, "reason": reason},
            )

    async def _run(self) -> None:
        last_purge = time.monotonic()
        failures = 0
        woken = True  # the first round reads what the last run left
        while True:
            self._wake.clear()  # before the round: a wake during it triggers another
            busy = False
            try:
                outcome = await (self._drain() if woken else self._fallback_round())
                failures, busy = self._report(outcome, failures), outcome.busy
                if outcome.wakes_read == self._wakes and not outcome.error:
                    # Every wake of the round came before its read: their rows were read,
                    # and one more round would read nothing (with many units of work
                    # committing, most wakes during a round come before its read).
                    self._wake.clear()
                if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                    await self.purge_published()
                    last_purge = time.monotonic()
            except Exception as exc:  # the database, mostly: same one-line-per-outage rule
                if not failures or not isinstance(exc, _EXPECTED_ERRORS):
                    log.warning(
                        "outbox relay round failed; will retry",
                        extra={"producer": self.producer, "error": _describe(exc)},
                        exc_info=not isinstance(exc, _EXPECTED_ERRORS),
                    )
                failures += 1
            woken = True
            if failures:  # back off, deaf to wakes: an outage must not become a busy loop
                await asyncio.sleep(
                    backoff_delay(failures, base=IDLE_POLL_SECONDS, cap=MAX_BACKOFF_SECONDS)
                )
            elif busy:  # the other instance may have finished its round before our commit
                await asyncio.sleep(BUSY_RETRY_SECONDS)
            else:
                try:
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)
                except TimeoutError:
                    woken = False

    async def _fallback_round(self) -> RelayRound:
        """A round no wake asked for: one statement when nothing is pending (not the four
        of a full round's lock, read and transaction). Rows committed without a wake
        (another instance's, or left by a crash) wait at most ``IDLE_POLL_SECONDS``."""
        wakes = self._wakes  # its read's snapshot is taken after: these commits are in it
        if await self.pool.fetchval(_ANY_PENDING, self.producer):
            return await self._drain()
        return RelayRound(wakes_read=wakes)

    async def _drain(self) -> RelayRound:
        """Rounds back to back while batches come back full (a backlog after an outage)."""
        published = 0
        while True:
            outcome = await self.relay_pending()
            published += outcome.published
            if not outcome.full or outcome.error:
                return RelayRound(
                    published, outcome.error, outcome.busy, wakes_read=outcome.wakes_read
                )

    def _report(self, outcome: RelayRound, failures: int) -> int:
        """Log the first failure of a series and the recovery, not every retry."""
        if outcome.error:
            if failures == 0:
                log.warning(
                    "outbox publishing failed; events kept for retry",
                    extra={"producer": self.producer, "error": outcome.error},
                )
            return failures + 1
        if failures and not outcome.busy:
            log.info("outbox publishing again", extra={"producer": self.producer})
            return 0
        return failures

    async def relay_pending(self, ack_timeout: float | None = None) -> RelayRound:
        """Publish up to one batch, if no other instance is publishing this producer's rows."""
        async with self.pool.acquire() as conn, conn.transaction():
            # Counted before the transaction's first statement: at any isolation level its
            # read's snapshot is taken after, so the commits of these wakes are in it.
            wakes = self._wakes
            # Held until commit, so the next round (ours or another instance's) sees our marks.
            if not await conn.fetchval(_LOCK, LOCK_NAMESPACE, self.producer):
                return RelayRound(busy=True)
            rows = await conn.fetch(_PENDING, self.producer, self.batch_size)
            if not rows:
                return RelayRound(wakes_read=wakes)
            acked, error = await self._publish(rows, ack_timeout or self.ack_timeout)
            if acked:
                await conn.execute(_MARK_PUBLISHED, [row["id"] for row in rows[:acked]])
            if error is not None:
                await conn.execute(_MARK_FAILED, rows[acked]["id"], error[:500])
        return RelayRound(acked, error, full=len(rows) == self.batch_size, wakes_read=wakes)

    async def _publish(
        self, rows: Sequence[asyncpg.Record], ack_timeout: float
    ) -> tuple[int, str | None]:
        """Send the rows in id order on one connection, then collect the acks.

        Returns how many rows from the start were acknowledged, and why the next was not.
        A row after a failed one may have reached the stream; it stays pending anyway and
        its re-send is dropped by ``Nats-Msg-Id``.
        """
        nc = self.connection()
        if not nc.is_connected:  # while reconnecting nats-py would buffer, then send twice
            return 0, "NATS is not connected"
        acks = await self._ack_inbox(nc)
        batch = acks.open_batch()
        sent, send_error = 0, None
        try:
            for row in rows:
                try:
                    await nc.publish(
                        row["subject"],
                        row["payload"],
                        reply=batch.reply_to(sent),
                        headers=_headers_decoder.decode(row["headers"]),
                    )
                except Exception as exc:
                    send_error = _describe(exc)
                    break  # keep order: nothing after a row that was not sent
                sent += 1
            if sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(batch.all_answered(sent), ack_timeout)
        finally:
            acks.close_batch(batch)  # a late ack of this batch is ignored
        for position in range(sent):
            if position not in batch.answers:
                return position, f"no acknowledgement within {ack_timeout:g}s"
            if (refusal := batch.answers[position]) is not None:
                return position, refusal
        return sent, send_error

    async def _ack_inbox(self, nc: Client) -> _AckInbox:
        if self._acks is None or self._acks.nc is not nc:
            self._acks = await _AckInbox.subscribe(nc)
        return self._acks

    async def purge_published(self) -> None:
        await self.pool.execute(
            f"DELETE FROM event_outbox WHERE producer = $1 "
            f"AND published_at < now() - interval '{RETENTION}'",
            self.producer,
        )


class _Batch:
    """The answers to one round's publishes, by position in the round."""

    def __init__(self, key: str, reply_prefix: str) -> None:
        self.key = key
        self.reply_prefix = reply_prefix
        self.answers: dict[int, str | None] = {}  # position → None (stored) or why not
        self._expected = 0
        self._answered = asyncio.Event()

    def reply_to(self, position: int) -> str:
        return f"{self.reply_prefix}{position}"

    async def all_answered(self, expected: int) -> None:
        self._expected = expected
        if len(self.answers) < expected:
            await self._answered.wait()

    def answer(self, position: int, refusal: str | None) -> None:
        self.answers.setdefault(position, refusal)
        if self._expected and len(self.answers) >= self._expected:
            self._answered.set()


class _AckInbox:
    """One reply subscription per connection for the relay's JetStream publishes.

    Each publish goes out with its own reply subject, ``<inbox>.<round>.<position>``, and
    JetStream acknowledges there. nats-py's ``publish_async`` does the same with a
    semaphore, a random token, a future and a done callback a message, and its reply
    handler raises on a JetStream error instead of failing the future (the refusal then
    shows as a missing ack); here an answer is a dict entry and a refusal says why.
    """

    def __init__(self, nc: Client, inbox: str) -> None:
        self.nc = nc
        self.inbox = inbox
        self._batches: dict[str, _Batch] = {}
        self._rounds = 0
        self.subscription: Subscription | None = None

    @classmethod
    async def subscribe(cls, nc: Client) -> _AckInbox:
        acks = cls(nc, nc.new_inbox())
        acks.subscription = await nc.subscribe(f"{acks.inbox}.*.*", cb=acks._on_answer)
        return acks

    def open_batch(self) -> _Batch:
        self._rounds += 1
        key = str(self._rounds)
        batch = _Batch(key, f"{self.inbox}.{key}.")
        self._batches[key] = batch
        return batch

    def close_batch(self, batch: _Batch) -> None:
        self._batches.pop(batch.key, None)

    async def _on_answer(self, msg: Msg) -> None:
        key, _, position = msg.subject[len(self.inbox) + 1 :].partition(".")
        batch = self._batches.get(key)
        if batch is not None and position.isdigit():
            batch.answer(int(position), _refusal(msg))


def _refusal(msg: Msg) -> str | None:
    """None when JetStream stored the message, else why not."""
    if msg.headers and msg.headers.get(Header.STATUS) == NO_RESPONDERS:
        return _describe(NoStreamResponseError())
    try:
        ack = _ack_decoder.decode(msg.data)
    except msgspec.DecodeError as exc:
        return f"unreadable acknowledgement: {exc}"
    if ack.error is not None:
        try:
            APIError.from_error(ack.error)  # raises the error class of its code
        except APIError as exc:
            return _describe(exc)
        except (KeyError, TypeError):
            pass
        return f"APIError: {ack.error}"
    return None if ack.stream else "acknowledgement without a stream"


def _describe(exc: BaseException) -> str:
    """``Type: message`` for last_error and logs (NATS and asyncpg errors carry no secrets)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
