"""Transactional outbox relayed to JetStream (DESIGN.md §3: state and event never drift).

``enqueue`` runs inside the caller's transaction. The relay publishes pending
rows in order; when NATS is down it keeps them and tries again, so an event is
published late rather than lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import asyncpg
from nats.js import JetStreamContext

from keybuzz_shared.events import Event, encode_event

log = logging.getLogger(__name__)

BATCH_SIZE = 100
IDLE_POLL_SECONDS = 1.0
RETENTION = "7 days"
PURGE_EVERY_SECONDS = 600.0


_INSERT = (
    "INSERT INTO event_outbox (producer, event_id, subject, payload) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (event_id) DO NOTHING"
)


async def enqueue(conn: asyncpg.Connection, producer: str, event: Event) -> None:
    """Record ``event`` for publication; idempotent on the event id."""
    await conn.execute(_INSERT, producer, event.event_id, event.type, encode_event(event))


async def enqueue_many(conn: asyncpg.Connection, producer: str, events: Sequence[Event]) -> None:
    """``enqueue`` for a batch in one pipelined round trip (bulk syncs emit thousands)."""
    await conn.executemany(
        _INSERT, [(producer, e.event_id, e.type, encode_event(e)) for e in events]
    )


class OutboxRelay:
    """Publishes a producer's pending outbox rows; one per service process."""

    def __init__(
        self, pool: asyncpg.Pool, producer: str, jetstream: Callable[[], JetStreamContext]
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.jetstream = jetstream
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Publish now rather than at the next poll (call after committing)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.producer}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.relay_pending()  # last chance for what was committed just before shutdown

    async def _run(self) -> None:
        last_purge = 0.0
        while True:
            try:
                while await self.relay_pending() == BATCH_SIZE:
                    pass
                if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                    await self.purge_published()
                    last_purge = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox relay failed; will retry", exc_info=True)
            try:
                await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()

    async def relay_pending(self) -> int:
        """Publish up to one batch; returns how many rows were published."""
        published = 0
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, event_id, subject, payload FROM event_outbox "
                "WHERE producer = $1 AND published_at IS NULL ORDER BY id LIMIT $2 "
                "FOR UPDATE SKIP LOCKED",
                self.producer,
                BATCH_SIZE,
            )
            js = self.jetstream()
            for row in rows:
                try:
                    await js.publish(
                        row["subject"],
                        bytes(row["payload"]),
                        headers={"Nats-Msg-Id": row["event_id"]},
                        timeout=5,
                    )
                except Exception as exc:
                    await conn.execute(
                        "UPDATE event_outbox SET attempts = attempts + 1, last_error = $2 "
                        "WHERE id = $1",
                        row["id"],
                        f"{type(exc).__name__}: {exc}"[:500],
                    )
                    break  # keep order: later rows wait for this one
                await conn.execute(
                    "UPDATE event_outbox SET published_at = now(), attempts = attempts + 1 "
                    "WHERE id = $1",
                    row["id"],
                )
                published += 1
        return published

    async def purge_published(self) -> None:
        await self.pool.execute(
            f"DELETE FROM event_outbox WHERE producer = $1 "
            f"AND published_at < now() - interval '{RETENTION}'",
            self.producer,
        )
