"""One unit of work: write rows, record events, commit, then wake the outbox relay.

    async with runtime.unit_of_work() as uow:
        await store.save(uow.conn, ...)
        uow.emit(SomethingHappened(...))

The events go into ``event_outbox`` inside the same transaction as the rows
(docs/CONTRACTS.md, "Events": state and event never drift apart); the relay publishes them
once the transaction has committed. If the block raises, nothing is written
and nothing is published.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

import asyncpg

from keybuzz_shared.events import Event
from keybuzz_shared.outbox import enqueue_many


class UnitOfWork:
    """The open transaction (``conn``) and the events to publish when it commits."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def emit_many(self, events: Iterable[Event]) -> None:
        self.events.extend(events)


@asynccontextmanager
async def unit_of_work(
    pool: asyncpg.Pool, producer: str, wake_relay: Callable[[], None]
) -> AsyncIterator[UnitOfWork]:
    async with pool.acquire() as conn:
        uow = UnitOfWork(conn)
        async with conn.transaction():
            yield uow
            if uow.events:  # written last, so a failing store call leaves no event behind
                await enqueue_many(conn, producer, uow.events)
    if uow.events:
        wake_relay()
