"""The reads of the topics backfill (``tickets/backfill.py``): tickets stored before the topic
columns (language and topic NULL) and their buyers' messages. Its fill, which never touches
a ticket that has a topic by then, is ``tickets/store.fill_topics`` (the ticket tables'
one writer)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from keybuzz_shared.db import Executor

from keybuzz_poller.tickets.ports import BUYER


class BuyerWords(msgspec.Struct, frozen=True, kw_only=True):
    """One stored buyer message of an old ticket, as the classifier reads it."""

    ticket_id: str
    body: str
    inbound_address: str | None
    country: str | None


class FilledTopics(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    language: str
    language_source: str
    language_confidence: float | None
    topic: str
    topic_source: str


async def tickets_without_topics(db: Executor, after: str, limit: int) -> list[str]:
    """Ids of tickets with no topic yet, after ``after`` in id order (the run's cursor)."""
    rows = await db.fetch(
        "SELECT id FROM poller_tickets WHERE topic IS NULL AND id > $1 ORDER BY id LIMIT $2",
        after,
        limit,
    )
    return [r["id"] for r in rows]


async def buyer_words(db: Executor, ticket_ids: Sequence[str]) -> list[BuyerWords]:
    """The tickets' buyer messages, oldest first: inbound, read by the parser, written by the
    buyer (a relayed mail, or a shop message of its buyer; not the marketplace's notices
    nor its staff's)."""
    rows = await db.fetch(
        """
        SELECT m.ticket_id, e.body, e.inbound_address, e.country
          FROM poller_ticket_messages m
          JOIN poller_external_messages e ON e.id = m.external_message_id
         WHERE m.ticket_id = ANY($1::text[]) AND m.direction = 'INBOUND'
           AND e.parse_error IS NULL AND (e.sender_type IS NULL OR e.sender_type = $2)
         ORDER BY m.ticket_id, m.seq
        """,
        list(ticket_ids),
        BUYER,
    )
    return [BuyerWords(**dict(r)) for r in rows]


async def count_without_topics(db: Executor) -> int:
    return int(await db.fetchval("SELECT count(*) FROM poller_tickets WHERE topic IS NULL"))
