"""A polled page of new messages on PostgreSQL is stored as a page: as many statements
whatever its size (its messages, files, tickets, ticket messages and events each written
once a page, set-based), every message once with its ticket and its ``message.received``;
and a message whose ids no unique index takes is left out of its page, which is stored
without it, rather than failing the page's writes and every poll after."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import asyncpg
import msgspec
from keybuzz_poller.polling.domain import PollFailure, retry_delays
from keybuzz_poller.polling.shops_store import PostgresShopSchedule
from keybuzz_poller.shops.poll import poll_shop
from keybuzz_shared.connectors.seam import InboxFile, InboxMessage, ThreadKey
from poller_shop_fakes import shop_message
from test_long_threads import SHOP, Polling, polling  # noqa: F401 - fixture

# A poll of one page of new messages (written after the last poll's: past the cursor it
# left): its start, then in one transaction (BEGIN, COMMIT) the messages, the page's
# tickets with their nearby incidents and own replies (one read), the tickets' upsert, the
# ticket messages, the threads' details with the cursor (one statement), the deadlines
# (locked, then saved) and the events. No dedupe read: the last poll of the process left
# the shop's row, and a message past its cursor it did not list is new. The cursor is not
# read again: the poll holds the shop's lease, its start read it.
PAGE_STATEMENTS = 11


class Statements:
    """The statements the pool's connections send (asyncpg's query logger), each named once
    its connection is open; a connection the pool opens after ``listen`` is caught by
    ``all_heard``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.sent: list[str] = []
        self.heard: set[int] = set()

    def listen(self) -> None:
        for connection in self._open():
            if id(connection) not in self.heard:
                self.heard.add(id(connection))
                connection.add_query_logger(lambda record: self.sent.append(record.query))

    def all_heard(self) -> bool:
        return {id(c) for c in self._open()} <= self.heard

    def _open(self) -> list[Any]:
        holders = self.pool._holders  # no public list of a pool's connections
        return [h._con for h in holders if h._con is not None]


def page(count: int, prefix: str, after: int = 0) -> list[InboxMessage]:
    """``count`` buyer messages, two a thread, each thread an order of its own, written a
    minute apart from ``after`` minutes on."""
    return [
        msgspec.structs.replace(
            shop_message(f"{prefix}-{i}", minutes=after + i),
            thread=ThreadKey("ORDER", f"{prefix}-O{i // 2}"),
        )
        for i in range(count)
    ]


async def statements_of(
    shop: Polling, messages: list[InboxMessage], *, settles: bool = True
) -> int:
    """The statements one poll of ``messages``, all new, costs."""
    shop.marketplace.messages_listed.extend(messages)
    counted = Statements(shop.pool)
    counted.listen()
    polled = await poll_shop(shop.ports, SHOP, settles=settles)
    assert counted.all_heard()
    assert polled.stored == len(messages) and polled.tickets_opened_or_joined == len(messages)
    sent = len(counted.sent)
    await ended(shop, polled.fetched)
    return sent


async def ended(shop: Polling, fetched: int) -> None:
    """The poll's count of listed messages, as its end statement records it (the schedule's:
    a lease not taken here): the shop's row as the poll left it."""
    await shop.pool.execute(
        "UPDATE poller_shops SET messages_fetched = messages_fetched + $2 WHERE poll_key = $1",
        SHOP.key,
        fetched,
    )


async def stored_of(shop: Polling, prefix: str) -> list[asyncpg.Record]:
    """Each stored message of ``prefix`` with its ticket's thread and message count, and
    how many ``message.received`` name it."""
    return await shop.pool.fetch(
        """
        SELECT e.external_id, t.thread_key, t.message_count,
               (SELECT count(*) FROM event_outbox o
                WHERE o.subject LIKE '%message.received%'
                  AND convert_from(o.payload, 'UTF8')::jsonb ->> 'externalMessageId' = e.id)
                   AS events
        FROM poller_external_messages e
        JOIN poller_ticket_messages m ON m.external_message_id = e.id
        JOIN poller_tickets t ON t.id = m.ticket_id
        WHERE e.external_id LIKE $1 ORDER BY m.seq
        """,
        f"{prefix}-%",
    )


async def test_a_page_costs_as_many_statements_whatever_its_size(polling: Polling) -> None:  # noqa: F811
    shop = polling
    shop.marketplace.page_size = 100
    await statements_of(shop, page(2, "warm"))  # the pool's types read once
    small = await statements_of(shop, page(2, "small", after=2))
    large = await statements_of(shop, page(40, "large", after=4))
    assert large == small <= PAGE_STATEMENTS, (small, large)
    stored = await stored_of(shop, "large")
    assert [r["external_id"] for r in stored] == [f"large-{i}" for i in range(40)]
    # Listed again with one more message written at the last one's minute (at the cursor):
    # the dedupe read asked for it alone; nothing twice.
    shop.marketplace.messages_listed.append(shop_message("late", minutes=43))
    counted = Statements(shop.pool)
    counted.listen()
    late = await poll_shop(shop.ports, SHOP)
    assert late.stored == 1
    assert sum("SELECT external_id" in q for q in counted.sent) == 1, counted.sent
    assert {r["thread_key"] for r in stored} == {f"order:large-O{i}" for i in range(20)}
    assert all(r["message_count"] == 2 and r["events"] == 1 for r in stored), stored
    shop.ports.seen_pages.clear()  # another process's poll: every listed message asked
    again = await poll_shop(shop.ports, SHOP)  # the page read again: nothing twice
    assert again.stored == 0
    assert len(await stored_of(shop, "large")) == 40


async def test_a_page_marked_read_adds_no_statement_its_end_records_the_marks(
    polling: Polling,  # noqa: F811
) -> None:
    """A marketplace whose messages are marked read once stored: the page's own ids marked
    without reading the backlog for them, at no statement of the poll's; their record rides
    on the statement that ends the poll, succeeded or failed (pending until then)."""
    reading = polling.ports.reading(SHOP.marketplace)
    marking = dataclasses.replace(
        polling,
        ports=dataclasses.replace(
            polling.ports, reading=lambda _: dataclasses.replace(reading, mark_as_read=True)
        ),
    )
    marking.marketplace.page_size = 100
    await statements_of(marking, page(2, "warm"))  # recorded by the poll itself
    assert await pending(marking) == 0
    counted = await statements_of(marking, page(40, "marked", after=2), settles=False)
    assert counted <= PAGE_STATEMENTS, counted
    assert marking.marketplace.marked[-40:] == [f"marked-{i}" for i in range(40)]
    assert await pending(marking) == 40
    schedule, marks = PostgresShopSchedule(marking.pool), marking.ports.unrecorded_marks
    ended = Statements(marking.pool)
    ended.listen()
    await schedule.poll_succeeded(SHOP.key, "owner", 40, 60.0, marked=marks.pop(SHOP.key))
    assert ended.all_heard() and len(ended.sent) == 1, ended.sent
    assert await pending(marking) == 0
    await statements_of(marking, page(4, "failing", after=42), settles=False)
    failure = PollFailure("HTTP 503", retry_delays(1.0, 60.0))
    await schedule.poll_failed(SHOP.key, "owner", failure, marked=marks.pop(SHOP.key))
    assert await pending(marking) == 0 and marking.marketplace.marked[-1] == "failing-3"


async def pending(shop: Polling) -> int:
    """The shop's messages still waiting for their mark read to be recorded."""
    count: int = await shop.pool.fetchval(
        "SELECT count(*) FROM poller_external_messages WHERE mark_read_pending"
    )
    return count


async def test_a_message_whose_id_cannot_be_stored_costs_itself_only(polling: Polling) -> None:  # noqa: F811
    shop = polling
    shop.marketplace.page_size = 100
    healthy = page(4, "ok")
    photo = InboxFile(name="a.jpg", url="https://files.example/a.jpg", content_type="image/jpeg")
    # No compression saves its id; its file is not fetched for a message left out.
    hostile = shop_message(secrets.token_hex(3000), minutes=2, files=[photo])
    shop.marketplace.files[photo.url] = AssertionError("a message left out had its file fetched")
    shop.marketplace.messages_listed.extend([*healthy[:2], hostile, *healthy[2:]])
    polled = await poll_shop(shop.ports, SHOP)
    assert (polled.stored, polled.unstorable) == (4, 1)
    assert [r["external_id"] for r in await stored_of(shop, "ok")] == [f"ok-{i}" for i in range(4)]
    assert (await poll_shop(shop.ports, SHOP)).stored == 0  # and the next poll fails none


async def test_two_thread_ids_the_database_keeps_as_one_are_one_ticket(polling: Polling) -> None:  # noqa: F811
    """A NUL and U+FFFD are one character once stored: their threads' messages of one page
    join one ticket instead of failing the page's upsert (and every poll after)."""
    shop = polling
    shop.marketplace.page_size = 100
    shop.marketplace.messages_listed.extend(
        msgspec.structs.replace(shop_message(f"nul-{i}", minutes=i), thread=ThreadKey("ORDER", t))
        for i, t in enumerate(("N\x001", "N\ufffd1"))
    )
    polled = await poll_shop(shop.ports, SHOP)
    assert (polled.stored, polled.tickets_opened_or_joined) == (2, 2)
    stored = await stored_of(shop, "nul")
    assert [r["external_id"] for r in stored] == ["nul-0", "nul-1"]
    assert {(r["thread_key"], r["message_count"]) for r in stored} == {("order:N\ufffd1", 2)}
    assert (await poll_shop(shop.ports, SHOP)).stored == 0
