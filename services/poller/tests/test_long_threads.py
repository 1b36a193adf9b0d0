"""A long conversation with a shop's buyer on PostgreSQL: its deadline is recomputed once
per page for each ticket the page touched (never per message: that read the whole thread
again at each message, a cost quadratic in the thread's length), and a thousand-message
thread is stored once, message by message, with the deadline its last messages give.
The cost itself is measured by ``bench/bench_long_threads.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest
from keybuzz_devstack.testing import service_migrations
from keybuzz_poller.polling.shops_store import PostgresShops
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.domain import (
    SELLER,
    Shop,
    thread_key,
)
from keybuzz_poller.shops.poll import poll_shop
from keybuzz_poller.shops.ports import ShopPorts, ShopReading
from keybuzz_poller.shops.store import PostgresShopStore
from keybuzz_poller.tickets import deadlines
from keybuzz_poller.tickets.ports import DeadlineFact
from keybuzz_poller.tickets.store import PostgresTickets
from keybuzz_shared.connectors.seam import InboxIncident, InboxMessage
from keybuzz_shared.db import Executor, create_pool
from keybuzz_shared.uow import store_unit_of_work, unit_of_work
from poller_shop_fakes import T0, ScriptedMarketplace
from poller_shop_fakes import shop_message as message

SHOP = Shop("t1", "FNAC")
PAGE = 100
NOW = T0 + timedelta(days=2)  # every message written before it was read


class CountingTickets(PostgresTickets):
    """The tickets' store, recording each read of deadline facts (one per refresh)."""

    def __init__(self, db: Executor, reads: list[list[str]]) -> None:
        super().__init__(db)
        self.reads = reads

    async def deadline_facts(self, ticket_ids: Sequence[str]) -> list[DeadlineFact]:
        self.reads.append(list(ticket_ids))
        return await super().deadline_facts(ticket_ids)


@dataclass
class Polling:
    pool: asyncpg.Pool
    marketplace: ScriptedMarketplace
    ports: ShopPorts
    refreshes: list[list[str]]  # the ticket ids of each read of deadline facts


@pytest.fixture
async def polling(make_database: Callable[..., Awaitable[str]]) -> AsyncIterator[Polling]:
    pool = await create_pool(await make_database("threads", service_migrations(DEFINITION)))
    assert await PostgresShops(pool).connect(SHOP, "seller-1", T0 - timedelta(days=1))
    refreshes: list[list[str]] = []

    def counted_store(conn: asyncpg.Connection) -> PostgresShopStore:
        store = PostgresShopStore(conn)
        store.tickets = CountingTickets(conn, refreshes)
        return store

    marketplace = ScriptedMarketplace(page_size=PAGE)
    ports = ShopPorts(
        source=marketplace,
        store=PostgresShopStore(pool),
        unit_of_work=store_unit_of_work(
            lambda: unit_of_work(pool, DEFINITION.name, lambda: None), counted_store
        ),
        clock=lambda: NOW,
        reading=lambda _: ShopReading(
            mark_as_read=False,
            first_poll=timedelta(days=30),
            max_attachment_bytes=1000,
        ),
        replies_sent=lambda n: None,  # no reply on these threads
    )
    yield Polling(pool, marketplace, ports, refreshes)
    await pool.close()


def conversation(
    count: int, order: str = "ORD1", every: int = 1, start: int = 0
) -> list[InboxMessage]:
    """``count`` messages of the order's thread, the buyer and the seller in turn, the
    last four the buyer's (so the thread waits for the seller since the first of them)."""
    return [
        message(
            f"{order}-{i}",
            minutes=start + i * every,
            order=order,
            sender=SELLER if i % 2 and i < count - 3 else "BUYER",
        )
        for i in range(count)
    ]


async def test_a_page_refreshes_each_ticket_it_touched_once(polling: Polling) -> None:
    long = conversation(350, "ORD1")
    short = conversation(40, "ORD2", every=5, start=3)  # spread over the long one's pages
    polling.marketplace.messages_listed = long + short
    listed = sorted(long + short, key=lambda m: m.created_at)
    pages = [listed[start : start + PAGE] for start in range(0, len(listed), PAGE)]

    poll = await poll_shop(polling.ports, SHOP)

    assert poll.stored == len(listed)
    assert [len(ids) for ids in polling.refreshes] == [
        len({thread_key(m) for m in page}) for page in pages
    ]
    assert all(ids == sorted(set(ids)) for ids in polling.refreshes)  # each once, in order
    assert len(pages) == 4 and len(polling.refreshes) == 4


async def test_a_thousand_message_thread_is_stored_once_with_its_deadline(
    polling: Polling,
) -> None:
    thread = conversation(1000)
    polling.marketplace.messages_listed = thread

    first = await poll_shop(polling.ports, SHOP)
    again = await poll_shop(polling.ports, SHOP)  # the cursor's overlap: nothing added

    assert (first.stored, again.stored) == (1000, 0)
    ticket = await polling.pool.fetchrow(
        "SELECT id, message_count, response_state, respond_by FROM poller_tickets"
    )
    stored = await polling.pool.fetch(
        """
        SELECT e.external_id FROM poller_ticket_messages m
        JOIN poller_external_messages e ON e.id = m.external_message_id
        WHERE m.ticket_id = $1 ORDER BY m.seq
        """,
        ticket["id"],
    )
    assert [r["external_id"] for r in stored] == [m.message_id for m in thread]
    assert ticket["message_count"] == 1000
    # The seller's last message is index 995; the buyer wrote four after it.
    window = deadlines.rule_for(SHOP.marketplace).window
    assert ticket["response_state"] == deadlines.AWAITING_REPLY
    assert ticket["respond_by"] == thread[996].created_at + window


async def test_a_page_of_incidents_gives_each_new_ticket_its_deadline_once(
    polling: Polling,
) -> None:
    opened = [
        InboxIncident(
            incident_id=f"INC{i}",
            order_id=f"ORD{i}",
            status="OPENED",
            types=("8",),
            waiting_for_seller=True,
            opened_by="client",
            message="Une réclamation a été ouverte",
            created_at=T0 + timedelta(minutes=i),
            updated_at=T0 + timedelta(minutes=i),
        )
        for i in range(3)
    ]
    polling.marketplace.incidents_listed = opened

    await poll_shop(polling.ports, SHOP)

    rows = await polling.pool.fetch(
        "SELECT order_id, response_state, respond_by FROM poller_tickets ORDER BY order_id"
    )
    window = deadlines.rule_for(SHOP.marketplace).window
    assert [tuple(r) for r in rows] == [
        (i.order_id, deadlines.AWAITING_REPLY, i.created_at + window) for i in opened
    ]
    assert [len(ids) for ids in polling.refreshes] == [3]
