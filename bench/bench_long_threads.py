"""A shop's long conversation: storing N messages of one thread against N messages in N
threads, through the poll's own path (``poll_shop`` → ``PostgresShopStore``, pages of
100 messages, one unit of work each, as the Fnac source lists them).

For each N of ``BENCH_LONG_THREADS_COUNTS`` (1,000, 4,000 and 10,000):

- one thread: N messages of one order, the buyer and the seller in turn;
- N threads: the same N messages, each of an order of its own;
- the same one thread with the deadline refreshed at every message (the store's
  ``thread_messages`` a message at a time, each followed by a refresh of its ticket), for comparison, up to
  ``BENCH_LONG_THREADS_PER_MESSAGE_UP_TO`` messages (1,000; its cost grows with N²);
- baseline of the same run: the same N rows (id, thread, message id, body, time)
  inserted with plain asyncpg into a table of their own, a page of 100 per
  transaction (``executemany``).

Each scenario has a shop (tenant) of its own in one database; the clock is fixed, so
each poll reads every message once.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.domain import (
    BUYER,
    ORDER,
    SELLER,
    Shop,
)
from keybuzz_poller.shops.poll import poll_shop
from keybuzz_poller.shops.ports import ShopPorts, ShopReading
from keybuzz_poller.shops.store import PostgresShopStore
from keybuzz_poller.tickets.ports import TicketMessageRow
from keybuzz_poller.tickets.responses import refresh_deadlines
from keybuzz_shared.connectors.seam import InboxFile, InboxIncident, InboxMessage, ThreadKey
from keybuzz_shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from keybuzz_shared.uow import store_unit_of_work, unit_of_work

from bench.harness import BenchContext, Figure

PAGE = 100
START = datetime(2026, 11, 1, tzinfo=UTC)
NOW = START + timedelta(days=30)


def _counts() -> list[int]:
    return [
        int(n) for n in os.environ.get("BENCH_LONG_THREADS_COUNTS", "1000,4000,10000").split(",")
    ]


class _Listing:
    """A marketplace listing the given messages in pages of ``PAGE``, oldest first."""

    def __init__(self, messages: list[InboxMessage]) -> None:
        self.listed = messages

    async def open(self, shop: Shop) -> None:
        return None

    async def messages(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxMessage]]:
        for start in range(0, len(self.listed), PAGE):
            yield self.listed[start : start + PAGE]

    async def incidents(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxIncident]]:
        return
        yield

    async def mark_read(self, shop: Shop, message_ids: Sequence[str]) -> None:
        return None

    async def download(self, shop: Shop, link: InboxFile, max_bytes: int) -> bytes:
        raise NotImplementedError


class _PerMessageRefresh(PostgresShopStore):
    """The store refreshing its ticket's deadline at every message, for comparison."""

    async def thread_messages(self, messages: Sequence[TicketMessageRow]) -> None:
        for message in messages:
            await super().thread_messages([message])
            await refresh_deadlines(self.tickets, [message.ticket_id])


def _messages(count: int, threads: int, label: str) -> list[InboxMessage]:
    return [
        InboxMessage(
            message_id=f"{label}-{i}",
            thread=ThreadKey(ORDER, f"{label}-ORD{i % threads}"),
            sender_type=SELLER if i % 2 and threads == 1 else BUYER,
            sender_name=None,
            subject="Question",
            body=f"Bonjour, message {i} : où en est ma commande ?",
            created_at=START + timedelta(seconds=i),
            unread=True,
        )
        for i in range(count)
    ]


async def _poll(
    pool: asyncpg.Pool, messages: list[InboxMessage], store: Callable[..., PostgresShopStore]
) -> float:
    shop = Shop(f"bench-{uuid.uuid4().hex[:8]}", "FNAC")
    ports = ShopPorts(
        source=_Listing(messages),
        store=PostgresShopStore(pool),
        unit_of_work=store_unit_of_work(
            lambda: unit_of_work(pool, DEFINITION.name, lambda: None), store
        ),
        clock=lambda: NOW,
        reading=lambda _: ShopReading(
            mark_as_read=False,
            first_poll=timedelta(days=60),
            max_attachment_bytes=0,
        ),
        replies_sent=lambda n: None,  # no reply on these threads
    )
    start = time.perf_counter()
    poll = await poll_shop(ports, shop)
    seconds = time.perf_counter() - start
    assert poll.stored == len(messages), (poll.stored, len(messages))
    return seconds


async def _raw_insert(pool: asyncpg.Pool, messages: list[InboxMessage]) -> float:
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_thread_rows ("
        "id text PRIMARY KEY, thread text, message_id text, body text, at timestamptz)"
    )
    rows = [(str(uuid.uuid4()), m.thread.id, m.message_id, m.body, m.created_at) for m in messages]
    start = time.perf_counter()
    async with pool.acquire() as conn:
        for first in range(0, len(rows), PAGE):
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO bench_thread_rows VALUES ($1, $2, $3, $4, $5)",
                    rows[first : first + PAGE],
                )
    seconds = time.perf_counter() - start
    await pool.execute("TRUNCATE bench_thread_rows")
    return seconds


async def run(ctx: BenchContext) -> list[Figure]:
    pool = await create_pool(await ctx.make_database("threads"))
    await apply_migrations(pool, "keybuzz_shared", SHARED_MIGRATIONS)
    assert DEFINITION.migrations is not None
    await apply_migrations(pool, DEFINITION.name, DEFINITION.migrations)
    per_message_up_to = int(os.environ.get("BENCH_LONG_THREADS_PER_MESSAGE_UP_TO", "1000"))
    figures: list[Figure] = []
    try:
        for n in _counts():
            baseline = await _raw_insert(pool, _messages(n, 1, f"raw{n}"))
            one = await _poll(pool, _messages(n, 1, f"one{n}"), PostgresShopStore)
            many = await _poll(pool, _messages(n, n, f"many{n}"), PostgresShopStore)
            figures += [
                _figure(f"{n:,} messages, one thread", one, baseline),
                _figure(f"{n:,} messages, {n:,} threads", many, baseline),
            ]
            if n <= per_message_up_to:
                old = await _poll(pool, _messages(n, 1, f"per{n}"), _PerMessageRefresh)
                figures.append(
                    _figure(
                        f"{n:,} messages, one thread, refreshed at every message", old, baseline
                    )
                )
    finally:
        await pool.close()
    return figures


def _figure(name: str, seconds: float, baseline: float) -> Figure:
    return {
        "name": name,
        "value": seconds,
        "unit": "s",
        "baseline": baseline,
        "note": "baseline: the same rows, plain asyncpg inserts, 100 per transaction",
    }
