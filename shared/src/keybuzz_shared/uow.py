"""One unit of work: write rows, record events, commit, then wake the outbox relay.

    async with runtime.unit_of_work() as uow:
        await store.save(uow.conn, ...)
        uow.emit(SomethingHappened(...))

Use cases on ports see a :class:`StoreUnit`: the service's store bound to that
transaction, and the same ``emit`` (``store_unit_of_work`` makes one from a store class).
What a unit's writes entail beyond their rows (a service's derived figures, its counters)
hangs off the unit once (``StoreUnit.pending_of``): each part collects as the block runs,
``settle`` writes what it collected in the transaction when the block ends, before the
events, and ``committed`` runs once the transaction has committed (neither if it raises).

The events go into ``event_outbox`` inside the same transaction as the rows
(docs/CONTRACTS.md, "Events": state and event never drift apart); the relay publishes them
once the transaction has committed. If the block raises, nothing is written
and nothing is published.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import asyncpg

from keybuzz_shared.events import Event
from keybuzz_shared.outbox import enqueue_many

R = TypeVar("R")
P = TypeVar("P", bound="Pending")


class Pending(Protocol):
    """A part of a unit of work's writes that settles once, whatever the block wrote."""

    async def settle(self) -> None:
        """In the transaction, when the block ends (before the events are written)."""
        ...

    def committed(self) -> None:
        """Once the transaction has committed."""
        ...


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


@dataclass
class StoreUnit(Generic[R]):
    """A unit of work as a use case sees it: ``store`` writes inside the transaction, and
    the events emitted are published once it commits (none if the block raises)."""

    store: R
    events: list[Event] = field(default_factory=list)
    # Its parts by their type, in the order first asked (``pending_of``).
    pending: dict[type[Any], Pending] = field(default_factory=dict)

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def emit_many(self, events: Iterable[Event]) -> None:
        self.events.extend(events)

    def pending_of(self, kind: type[P], make: Callable[[], P]) -> P:
        """The unit's one ``kind``, made by ``make`` when first asked: every writer of the
        unit adds to the same one, which settles once."""
        found = self.pending.get(kind)
        if found is None:
            found = self.pending[kind] = make()
        if not isinstance(found, kind):
            raise TypeError(f"{kind.__name__} pending as {type(found).__name__}")
        return found

    async def settle(self) -> None:
        """Each part's ``settle``, in the order they were first asked (the block's end)."""
        for part in list(self.pending.values()):
            await part.settle()

    def committed(self) -> None:
        for part in self.pending.values():
            part.committed()


def store_unit_of_work(
    open_unit: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
    make_store: Callable[[asyncpg.Connection], R],
) -> Callable[[], AbstractAsyncContextManager[StoreUnit[R]]]:
    """Units of work whose store is ``make_store(conn)`` on the transaction's connection."""

    @asynccontextmanager
    async def open_store_unit() -> AsyncIterator[StoreUnit[R]]:
        async with open_unit() as uow:
            unit = StoreUnit(make_store(uow.conn), uow.events)
            yield unit
            await unit.settle()
        unit.committed()

    return open_store_unit
