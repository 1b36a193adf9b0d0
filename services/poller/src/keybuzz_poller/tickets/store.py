"""All SQL of tickets (asyncpg): external messages, tickets, ticket messages, the ticket reads;
``PostgresTickets``, the ``TicketStore`` port on a pool or a unit of work's connection.

The one module that writes the ticket tables (``TICKET_TABLES``): a mail's, a shop's and an
agent's messages, a shop's thread states, clocks, incidents and read marks, a reply's
sent time, the topics backfill and a shop's purge all call it
(``tests/unit/test_one_intake_path.py`` fails on a write elsewhere)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from keybuzz_shared.connectors.seam import InboxIncident
from keybuzz_shared.db import Executor
from keybuzz_shared.text import storable

from keybuzz_poller.tickets.backfill_store import FilledTopics
from keybuzz_poller.tickets.ports import (
    Attachment,
    DeadlineFact,
    DeadlineRow,
    ExternalMessageRow,
    StoredAttachment,
    StoredMessage,
    StoredTicket,
    TicketMessageRow,
    TicketQuery,
    TicketRow,
)

# The tables whose rows make a ticket: written here only.
# A page's files go to PostgreSQL in batches of at most this many bytes (a file is at most
# its marketplace's attachment cap, 10 MiB for most).
ATTACHMENTS_BATCH_BYTES = 64 << 20

TICKET_TABLES = (
    "poller_external_messages",
    "poller_message_attachments",
    "poller_tickets",
    "poller_ticket_messages",
    "poller_incidents",
    "poller_unlinked_message_texts",  # what migration 021 kept; deleted with its tickets
)


def _records(rows: Sequence[msgspec.Struct]) -> list[tuple[object, ...]]:
    """Rows → the one array of records a ``poller_*_row`` type takes (migration 014), its
    fields in the struct's order. asyncpg encodes a record's fields directly; an array
    a column costs it two ``isinstance`` checks against ``collections.abc`` an element
    (~0.3 µs each, ~20 µs a mail over the batch's writes)."""
    return list(map(msgspec.structs.astuple, rows))


def _columns(rows: Sequence[msgspec.Struct], struct: type[msgspec.Struct]) -> list[list[object]]:
    """Rows → one list per column, in field order: the arrays ``unnest`` takes. ``astuple``
    and ``zip`` work in C (a ``getattr`` per field and row costs ~4x, at 18 fields)."""
    if not rows:
        return [[] for _ in struct.__struct_fields__]
    return [list(column) for column in zip(*map(msgspec.structs.astuple, rows), strict=True)]


async def insert_external_messages(db: Executor, rows: Sequence[ExternalMessageRow]) -> set[str]:
    """Store each mail once per (tenant, marketplace, external id); the ids of those new.

    One statement per batch. A mail already stored, or twice in ``rows`` (the MX's
    retry of a partly delivered mail), is skipped: the first occurrence wins.
    """
    if not rows:
        return set()
    inserted = await db.fetch(
        """
        INSERT INTO poller_external_messages (
            id, tenant_id, marketplace, external_id, order_id, buyer_email, buyer_name,
            subject, body, quoted, attachments, inbound_address, country, sent_at,
            received_at, raw, parse_error, accepted_at, sender_type, sender_name,
            mark_read_pending)
        SELECT id, tenant_id, marketplace, external_id, order_id, buyer_email, buyer_name,
               subject, body, quoted, attachments::jsonb, inbound_address, country, sent_at,
               received_at, raw, parse_error, accepted_at, sender_type, sender_name,
               mark_read_pending
        FROM unnest($1::poller_external_message_row[]) WITH ORDINALITY AS m
        ORDER BY m.ordinality
        ON CONFLICT (tenant_id, marketplace, external_id) DO NOTHING
        RETURNING id
        """,
        _records(rows),
    )
    return {r["id"] for r in inserted}


# A stored ticket takes a row's topics as ``keybuzz_shared.ticket_topics.later`` says: the
# marketplace's word until it says another; a detected subject follows the conversation
# unless the new one is OTHER; a detected language once known stays.
_TAKES_TOPIC = """(EXCLUDED.topic IS NOT NULL AND (EXCLUDED.topic_source = 'marketplace'
    OR (t.topic_source IS DISTINCT FROM 'marketplace'
        AND (EXCLUDED.topic <> 'OTHER' OR t.topic IS NULL))))"""
_TAKES_LANGUAGE = """(EXCLUDED.language IS NOT NULL AND (EXCLUDED.language_source = 'marketplace'
    OR (t.language_source IS DISTINCT FROM 'marketplace'
        AND (t.language IS NULL OR t.language = 'und'))))"""


def _taken(column: str, condition: str) -> str:
    return f"{column} = CASE WHEN {condition} THEN EXCLUDED.{column} ELSE t.{column} END"


_TOPICS_TAKEN = ",\n".join(
    [_taken(c, _TAKES_TOPIC) for c in ("topic", "topic_source")]
    + [_taken(c, _TAKES_LANGUAGE) for c in ("language", "language_source", "language_confidence")]
)


async def upsert_tickets(db: Executor, tickets: Sequence[TicketRow]) -> dict[tuple[str, str], str]:
    """Each thread's ticket, created or re-opened by its new messages: (marketplace, thread key) → id.

    ``tickets`` holds one row per thread (``message_count`` new messages): ON CONFLICT
    cannot update a row twice in one statement. Sorted, so concurrent batches lock
    tickets in the same order. A created ticket gets the row's deadline in the INSERT
    itself (a later UPDATE would write every index of the ticket twice); a re-opened one
    keeps its stored deadline for the caller to recompute.
    """
    if not tickets:
        return {}
    ordered = sorted(tickets, key=lambda t: (t.marketplace, t.thread_key))
    rows = await db.fetch(
        f"""
        INSERT INTO poller_tickets AS t (
            id, tenant_id, marketplace, thread_key, order_id, buyer_email, buyer_name,
            subject, last_message_at, message_count, response_state, respond_by,
            language, language_source, language_confidence, topic, topic_source)
        SELECT * FROM unnest($1::poller_ticket_row[])
        ON CONFLICT (tenant_id, marketplace, thread_key) DO UPDATE
            SET status = 'OPEN',
                message_count = t.message_count + EXCLUDED.message_count,
                last_message_at = greatest(t.last_message_at, EXCLUDED.last_message_at),
                buyer_name = coalesce(t.buyer_name, EXCLUDED.buyer_name),
                {_TOPICS_TAKEN},
                updated_at = now()
        RETURNING id, marketplace, thread_key
        """,
        _records(ordered),
    )
    return {(r["marketplace"], r["thread_key"]): r["id"] for r in rows}


# A ticket message is a link: its body and time are its external message's, read by a
# join (migration 021), not a copy sent and stored a second time.
_TICKET_MESSAGE_COLUMNS = "id, ticket_id, tenant_id, external_message_id, awaits_reply, direction"
_INSERT_TICKET_MESSAGES = f"""
    INSERT INTO poller_ticket_messages ({_TICKET_MESSAGE_COLUMNS})
    SELECT {_TICKET_MESSAGE_COLUMNS}
    FROM unnest($1::poller_ticket_message_row[]) WITH ORDINALITY AS m
    ORDER BY m.ordinality
"""


async def insert_ticket_messages(db: Executor, messages: Sequence[TicketMessageRow]) -> None:
    """One statement per batch; ``seq`` follows the order given (the mailbox's). Their
    tickets were counted by ``upsert_tickets``.

    No foreign key checks a message's ticket and external message (migration 020): each
    message's ticket must have been upserted (so locked, or created) and its external
    message inserted by this same transaction, as ``store_mails`` does. Until it commits
    nothing else can delete them; a shop purge waiting on a re-opened ticket takes these
    messages with it (``polling/shops_store.py``)."""
    if not messages:
        return
    await db.execute(_INSERT_TICKET_MESSAGES, _records(messages))


class TicketGone(Exception):
    """A message was given for a ticket that is not stored (deleted, or never was)."""


async def add_ticket_messages(db: Executor, messages: Sequence[TicketMessageRow]) -> None:
    """Messages joining tickets that exist already (a shop's, an agent's reply): each
    ticket's count and last activity moved, then the messages stored, in one statement.

    The tickets are updated first, which locks them: a shop purge deleting one waits for
    this transaction, or this statement waits for the purge and then finds the ticket gone.
    Then nothing is stored and ``TicketGone`` is raised (the caller's transaction rolls back,
    as a foreign key's violation would). Each message's external message must have been
    inserted by this same transaction (``insert_ticket_messages``)."""
    if not messages:
        return
    stored = await db.fetchval(
        f"""
        WITH given AS (
            SELECT * FROM unnest($1::poller_ticket_message_row[]) WITH ORDINALITY AS m
        ),
        counted AS (
            UPDATE poller_tickets t SET message_count = message_count + c.added,
                last_message_at = greatest(last_message_at, c.last), updated_at = now()
            FROM (
                SELECT g.ticket_id, count(*) AS added, max(e.received_at) AS last FROM given g
                JOIN poller_external_messages e ON e.id = g.external_message_id
                GROUP BY g.ticket_id
            ) c
            WHERE t.id = c.ticket_id
            RETURNING t.id
        ),
        added AS (
            INSERT INTO poller_ticket_messages ({_TICKET_MESSAGE_COLUMNS})
            SELECT {_TICKET_MESSAGE_COLUMNS} FROM given
            WHERE ticket_id IN (SELECT id FROM counted)
            ORDER BY ordinality
            RETURNING 1
        )
        SELECT count(*) FROM added
        """,
        _records(messages),
    )
    if stored != len(messages):
        raise TicketGone(
            f"{len(messages) - stored} of {len(messages)} messages for a ticket not stored"
        )


async def insert_attachments(db: Executor, attachments: Mapping[str, Sequence[Attachment]]) -> None:
    """Shops' messages' linked files (external message id → its files, in the order it lists
    them): one statement for a page's files up to ``ATTACHMENTS_BATCH_BYTES``, none for none."""
    rows = [
        (
            message_id,
            position,
            storable(a.filename),
            storable(a.content_type),
            a.size,
            a.content,
            a.skipped,
        )
        for message_id, files in attachments.items()
        for position, a in enumerate(files)
    ]
    for batch in _by_content_size(rows, ATTACHMENTS_BATCH_BYTES):
        await db.execute(
            """
            INSERT INTO poller_message_attachments (external_message_id, position, filename,
                                                    content_type, size, content, skipped)
            SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bigint[],
                                 $6::bytea[], $7::text[])
            """,
            *(list(column) for column in zip(*batch, strict=True)),
        )


def _by_content_size(rows: list[Any], most: int) -> Iterator[list[Any]]:
    """``rows`` in batches whose files' bytes stay within ``most`` (a file larger alone is
    a batch of its own): a page's files are not one array PostgreSQL must hold at once, and
    never one past its 1 GB limit on a value."""
    batch: list[Any] = []
    size = 0
    for row in rows:
        content = len(row[5] or b"")
        if batch and size + content > most:
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += content
    if batch:
        yield batch


async def save_thread_details(
    db: Executor,
    tenant_id: str,
    marketplace: str,
    thread_keys: Sequence[str],
    details: Sequence[str],
    claims: Sequence[bool],
    carried: tuple[str, Sequence[object]] | None = None,
) -> int:
    """The marketplace's details (JSON) and claim flag of each listed thread's ticket; the
    number of tickets written. Compared as jsonb (key order aside): an unchanged state
    writes no row version. ``carried``: a write of the caller's that rides on the
    statement (a ``WITH`` item, its parameters numbered from ``$6``, and their values)."""
    item, values = carried if carried is not None else ("", ())
    written = await db.fetch(
        (f"WITH {item}" if item else "")
        + """
        UPDATE poller_tickets t SET thread_details = s.details::jsonb, claim = s.claim,
                                    updated_at = now()
        FROM unnest($3::text[], $4::text[], $5::boolean[]) AS s (thread_key, details, claim)
        WHERE t.tenant_id = $1 AND t.marketplace = $2 AND t.thread_key = s.thread_key
          AND (t.thread_details, t.claim) IS DISTINCT FROM (s.details::jsonb, s.claim)
        RETURNING t.id
        """,
        tenant_id,
        marketplace,
        list(thread_keys),
        list(details),
        list(claims),
        *values,
    )
    return len(written)


async def save_thread_clocks(
    db: Executor,
    tenant_id: str,
    marketplace: str,
    thread_keys: Sequence[str],
    since: Sequence[datetime | None],
) -> list[str]:
    """Since when the marketplace says each thread waits for the seller; the ids of the
    tickets whose clock changed."""
    written = await db.fetch(
        """
        UPDATE poller_tickets t SET marketplace_clock = true,
                                    reply_needed_since = s.since, updated_at = now()
        FROM unnest($3::text[], $4::timestamptz[]) AS s (thread_key, since)
        WHERE t.tenant_id = $1 AND t.marketplace = $2 AND t.thread_key = s.thread_key
          AND (t.marketplace_clock, t.reply_needed_since) IS DISTINCT FROM (true, s.since)
        RETURNING t.id
        """,
        tenant_id,
        marketplace,
        list(thread_keys),
        list(since),
    )
    return [r["id"] for r in written]


async def stamp_reply_sent(db: Executor, ticket_message_id: str, sent_at: datetime) -> None:
    """An agent's reply's stored message dated when it left (sent, or found sent on the
    marketplace's thread)."""
    await db.execute(
        """
        UPDATE poller_external_messages e SET sent_at = $2
        FROM poller_replies r
        WHERE r.ticket_message_id = $1 AND e.id = r.external_message_id
        """,
        ticket_message_id,
        sent_at,
    )


async def save_incident(
    db: Executor, tenant_id: str, marketplace: str, incident: InboxIncident, ticket_id: str
) -> bool:
    """The incident as last seen, and its status and types on its order's ticket; False
    when it was seen as it is."""
    changed = await db.fetchval(
        """
        WITH saved AS (
            INSERT INTO poller_incidents (tenant_id, marketplace, incident_id, order_id,
                status, types, waiting_for_seller, opened_by, created_at, updated_at,
                ticket_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (tenant_id, marketplace, incident_id) DO UPDATE SET
                status = EXCLUDED.status, types = EXCLUDED.types,
                waiting_for_seller = EXCLUDED.waiting_for_seller,
                updated_at = EXCLUDED.updated_at
            WHERE (poller_incidents.status, poller_incidents.types,
                   poller_incidents.waiting_for_seller, poller_incidents.updated_at)
                  IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.types,
                                    EXCLUDED.waiting_for_seller, EXCLUDED.updated_at)
            RETURNING ticket_id
        )
        UPDATE poller_tickets t SET incident_status = $5, incident_types = $6,
                                    updated_at = now()
        FROM saved WHERE t.id = saved.ticket_id
        RETURNING true
        """,
        tenant_id,
        marketplace,
        storable(incident.incident_id),
        storable(incident.order_id),
        storable(incident.status),
        [storable(t) for t in incident.types],
        incident.waiting_for_seller,
        incident.opened_by and storable(incident.opened_by),
        incident.created_at,
        incident.updated_at,
        ticket_id,
    )
    return bool(changed)


def marked_read_sql(first: int) -> str:
    """Messages marked read at the marketplace: none of them waits for its mark (``$first``
    the tenant, then the marketplace, then their ids). A statement of its own
    (``marked_read``), or carried by the one that ends a shop's poll
    (``polling/shops_store.py``)."""
    tenant, marketplace, ids = first, first + 1, first + 2
    return f"""
        UPDATE poller_external_messages SET mark_read_pending = false
        WHERE tenant_id = ${tenant} AND marketplace = ${marketplace}
          AND external_id = ANY(${ids}::text[])
        """


async def marked_read(
    db: Executor, tenant_id: str, marketplace: str, external_ids: Sequence[str]
) -> None:
    await db.execute(marked_read_sql(1), tenant_id, marketplace, list(external_ids))


async def fill_topics(db: Executor, filled: Sequence[FilledTopics]) -> int:
    """Each ticket's language and topic, where it has no topic still (a later message may
    have given one since it was read: that one stands). The number filled."""
    if not filled:
        return 0
    done = await db.fetch(
        """
        UPDATE poller_tickets t
           SET language = u.language, language_source = u.language_source,
               language_confidence = u.language_confidence, topic = u.topic,
               topic_source = u.topic_source
          FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::text[])
               AS u (id, language, language_source, language_confidence, topic, topic_source)
         WHERE t.id = u.id AND t.topic IS NULL
        RETURNING t.id
        """,
        *_columns(filled, FilledTopics),
    )
    return len(done)


# What a shop's polls brought a tenant, children before parents (the foreign keys).
_SHOP_TICKETS = "SELECT id FROM poller_tickets WHERE tenant_id = $1 AND marketplace = $2"
_SHOP_MESSAGES = "SELECT id FROM poller_external_messages WHERE tenant_id = $1 AND marketplace = $2"
_FORGET_RECEIVED = (
    f"DELETE FROM poller_response_alerts WHERE ticket_id IN ({_SHOP_TICKETS})",
    "DELETE FROM poller_incidents WHERE tenant_id = $1 AND marketplace = $2",
    f"DELETE FROM poller_replies WHERE ticket_id IN ({_SHOP_TICKETS})",
    f"DELETE FROM poller_ticket_messages WHERE ticket_id IN ({_SHOP_TICKETS})",
    f"DELETE FROM poller_unlinked_message_texts WHERE ticket_id IN ({_SHOP_TICKETS})",
    f"DELETE FROM poller_message_attachments WHERE external_message_id IN ({_SHOP_MESSAGES})",
    "DELETE FROM poller_external_messages WHERE tenant_id = $1 AND marketplace = $2",
)
_FORGET_TICKETS = """
WITH gone AS (DELETE FROM poller_tickets WHERE tenant_id = $1 AND marketplace = $2 RETURNING id)
SELECT coalesce(array_agg(id), '{}') FROM gone
"""
# No foreign key holds a ticket message to its ticket (migration 020). A poll that re-opened
# one of the tickets committed its new messages (and their mails) while the DELETE above
# waited for it, after the statements before it had looked: they go too, in a statement
# of its own, which sees them.
_FORGET_LATE_MESSAGES = """
WITH late AS (
    DELETE FROM poller_ticket_messages WHERE ticket_id = ANY($1::text[])
    RETURNING external_message_id
),
files AS (
    DELETE FROM poller_message_attachments
    WHERE external_message_id IN (SELECT external_message_id FROM late)
)
DELETE FROM poller_external_messages WHERE id IN (SELECT external_message_id FROM late)
"""


async def forget_shop_received(db: Executor, tenant_id: str, marketplace: str) -> int:
    """Everything a shop's polls brought the tenant (tickets, their messages, files,
    incidents, replies and alerts); the number of tickets deleted."""
    for statement in _FORGET_RECEIVED:
        await db.execute(statement, tenant_id, marketplace)
    deleted: list[str] = await db.fetchval(_FORGET_TICKETS, tenant_id, marketplace)
    await db.execute(_FORGET_LATE_MESSAGES, deleted)
    return len(deleted)


async def list_tickets(db: Executor, query: TicketQuery) -> list[StoredTicket]:
    """Newest activity first, or soonest deadline first (``by_deadline``); keyset: strictly
    after the sort key and id of the previous page's last ticket.

    ``limit + 1`` rows: the extra one only says that a next page exists
    (``keybuzz_shared.pages.split_page``).
    """
    order = "respond_by, id" if query.by_deadline else "last_message_at DESC, id DESC"
    after = (
        "(respond_by, id) > ($5, $6::text)"
        if query.by_deadline
        else ("(last_message_at, id) < ($5, $6::text)")
    )
    rows = await db.fetch(
        f"""
        SELECT id, marketplace, order_id, buyer_email, buyer_name, subject, status,
               message_count, created_at, last_message_at, response_state, respond_by,
               no_response_needed_at, no_response_needed_by, incident_status, incident_types,
               thread_details, claim, language, language_source, language_confidence, topic,
               topic_source
        FROM poller_tickets
        WHERE tenant_id = $1
          AND ($12::text IS NULL OR marketplace = $12)
          AND ($2::text IS NULL OR status = $2)
          AND ($3::text IS NULL OR order_id = $3)
          AND ($4::timestamptz IS NULL OR last_message_at >= $4)
          AND ($5::timestamptz IS NULL OR {after})
          AND ($8::text IS NULL OR response_state = $8)
          AND ($9::boolean IS NULL OR (respond_by <= $10) = $9)
          AND (NOT $11::boolean OR respond_by IS NOT NULL)
          AND ($13::text IS NULL OR language = $13)
          AND ($14::text IS NULL OR topic = $14)
        ORDER BY {order}
        LIMIT $7
        """,
        query.tenant_id,
        query.status,
        query.order_id,
        query.since,
        query.after_at,
        query.after_id,
        query.limit + 1,
        query.response_state,
        query.overdue,
        query.now,
        query.by_deadline,
        query.marketplace,
        query.language,
        query.topic,
    )
    return [StoredTicket(**dict(r)) for r in rows]


async def get_ticket(db: Executor, tenant_id: str, ticket_id: str) -> StoredTicket | None:
    row = await db.fetchrow(
        """
        SELECT id, marketplace, order_id, buyer_email, buyer_name, subject, status,
               message_count, created_at, last_message_at, response_state, respond_by,
               no_response_needed_at, no_response_needed_by, incident_status, incident_types,
               thread_details, claim, language, language_source, language_confidence, topic,
               topic_source,
               (SELECT e.country FROM poller_ticket_messages m
                JOIN poller_external_messages e ON e.id = m.external_message_id
                WHERE m.ticket_id = t.id AND m.direction = 'INBOUND' AND e.country IS NOT NULL
                ORDER BY m.seq LIMIT 1) AS country
        FROM poller_tickets t WHERE tenant_id = $1 AND id = $2
        """,
        tenant_id,
        ticket_id,
    )
    return StoredTicket(**dict(row)) if row is not None else None


async def ticket_messages(db: Executor, ticket_id: str) -> list[StoredMessage]:
    """A ticket's messages in the order they were stored (mailbox order)."""
    rows = await db.fetch(
        """
        SELECT m.id, m.direction, e.body, e.received_at, e.id AS external_message_id,
               e.external_id, e.subject, e.quoted, e.sent_at, e.parse_error, e.attachments,
               e.accepted_at, e.sender_name,
               -- Mail: the buyer's (INBOUND) or an agent's reply (OUTBOUND).
               coalesce(e.sender_type,
                        CASE m.direction WHEN 'INBOUND' THEN 'BUYER' ELSE 'SELLER' END)
                   AS sender_type
        FROM poller_ticket_messages m
        JOIN poller_external_messages e ON e.id = m.external_message_id
        WHERE m.ticket_id = $1 ORDER BY m.seq
        """,
        ticket_id,
    )
    return [StoredMessage(**dict(r)) for r in rows]


async def deadline_facts(db: Executor, ticket_ids: Sequence[str]) -> list[DeadlineFact]:
    """What the deadlines of ``ticket_ids`` depend on: each ticket's mark and its messages
    (a reply's status from ``poller_replies``), locking the tickets against a concurrent
    recompute."""
    rows = await db.fetch(
        """
        WITH locked AS (
            SELECT id, tenant_id, marketplace, no_response_needed_at, marketplace_clock,
                   reply_needed_since
            FROM poller_tickets
            WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE
        )
        SELECT t.id AS ticket_id, t.marketplace, t.no_response_needed_at,
               t.marketplace_clock, t.reply_needed_since,
               w.hours AS override_hours,
               m.id, m.direction, e.received_at, m.awaits_reply, e.accepted_at,
               e.sender_type, e.sent_at AS written_at,
               r.status AS reply_status, r.sent_at, coalesce(r.automatic, false) AS automatic
        FROM locked t
        LEFT JOIN poller_response_windows w
            ON w.tenant_id = t.tenant_id AND w.marketplace = t.marketplace
        JOIN poller_ticket_messages m ON m.ticket_id = t.id
        JOIN poller_external_messages e ON e.id = m.external_message_id
        LEFT JOIN poller_replies r ON r.ticket_message_id = m.id
        ORDER BY t.id, m.seq
        """,
        list(ticket_ids),
    )
    return [DeadlineFact(**dict(r)) for r in rows]


async def save_deadlines(db: Executor, deadlines: Sequence[DeadlineRow]) -> None:
    if not deadlines:
        return
    await db.execute(
        """
        UPDATE poller_tickets t SET response_state = d.response_state, respond_by = d.respond_by
        FROM unnest($1::text[], $2::text[], $3::timestamptz[])
            AS d (ticket_id, response_state, respond_by)
        WHERE t.id = d.ticket_id
          AND (t.response_state, t.respond_by) IS DISTINCT FROM (d.response_state, d.respond_by)
        """,
        *_columns(deadlines, DeadlineRow),
    )


async def mark_no_response_needed(
    db: Executor, tenant_id: str, ticket_id: str, by: str, at: datetime
) -> bool:
    """The agent's mark, who and when; False if the tenant has no such ticket."""
    done = await db.fetchval(
        """
        UPDATE poller_tickets SET no_response_needed_at = $3, no_response_needed_by = $4,
                                  updated_at = now()
        WHERE tenant_id = $1 AND id = $2 RETURNING true
        """,
        tenant_id,
        ticket_id,
        at,
        by,
    )
    return bool(done)


async def held_for_close(db: Executor, tenant_id: str, ticket_id: str) -> dict[str, Any] | None:
    """The tenant's ticket as a close reads it (marketplace, thread key, order, closed),
    after taking the transaction's lock on closing it: a second close waits for the first
    one's transaction to end. An advisory lock, not the row's: a poll writing the ticket
    meanwhile is not held up."""
    await db.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('poller-ticket-close:' || $1, 0))",
        ticket_id,
    )
    row = await db.fetchrow(
        """
        SELECT marketplace, thread_key, order_id, status = 'CLOSED' AS closed
        FROM poller_tickets WHERE tenant_id = $1 AND id = $2
        """,
        tenant_id,
        ticket_id,
    )
    return dict(row) if row is not None else None


async def mark_closed(db: Executor, tenant_id: str, ticket_id: str) -> None:
    """CLOSED, once its marketplace closed it (a new message re-opens it: ``upsert_tickets``)."""
    await db.execute(
        "UPDATE poller_tickets SET status = 'CLOSED', updated_at = now() "
        "WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        ticket_id,
    )


async def report_facts(
    db: Executor, tenant_id: str, marketplace: str, since: datetime, topic: str | None = None
) -> list[DeadlineFact]:
    """The messages of the tenant's tickets on ``marketplace`` (about ``topic``, if given)
    with a buyer message stored at or after ``since`` (a message's clock never starts after
    it was stored), as :func:`deadline_facts` gives them."""
    rows = await db.fetch(
        """
        WITH recent AS (
            SELECT DISTINCT m.ticket_id FROM poller_ticket_messages m
            JOIN poller_tickets t ON t.id = m.ticket_id
            JOIN poller_external_messages e ON e.id = m.external_message_id
            WHERE m.tenant_id = $1 AND t.marketplace = $2 AND m.awaits_reply
              AND e.received_at >= $3 AND ($4::text IS NULL OR t.topic = $4)
        )
        SELECT t.id AS ticket_id, t.marketplace, t.no_response_needed_at,
               t.marketplace_clock, t.reply_needed_since,
               w.hours AS override_hours,
               m.id, m.direction, e.received_at, m.awaits_reply, e.accepted_at,
               e.sender_type, e.sent_at AS written_at,
               r.status AS reply_status, r.sent_at, coalesce(r.automatic, false) AS automatic
        FROM recent
        JOIN poller_tickets t ON t.id = recent.ticket_id
        LEFT JOIN poller_response_windows w
            ON w.tenant_id = t.tenant_id AND w.marketplace = t.marketplace
        JOIN poller_ticket_messages m ON m.ticket_id = t.id
        JOIN poller_external_messages e ON e.id = m.external_message_id
        LEFT JOIN poller_replies r ON r.ticket_message_id = m.id
        ORDER BY t.id, m.seq
        """,
        tenant_id,
        marketplace,
        since,
        topic,
    )
    return [DeadlineFact(**dict(r)) for r in rows]


async def response_windows(db: Executor, tenant_id: str) -> dict[str, int]:
    """The tenant's response window (hours) per marketplace it set one for."""
    rows = await db.fetch(
        "SELECT marketplace, hours FROM poller_response_windows WHERE tenant_id = $1"
        " ORDER BY marketplace",
        tenant_id,
    )
    return {r["marketplace"]: int(r["hours"]) for r in rows}


async def save_response_window(db: Executor, tenant_id: str, marketplace: str, hours: int) -> None:
    await db.execute(
        """
        INSERT INTO poller_response_windows (tenant_id, marketplace, hours) VALUES ($1, $2, $3)
        ON CONFLICT (tenant_id, marketplace) DO UPDATE SET hours = EXCLUDED.hours,
                                                           updated_at = now()
        """,
        tenant_id,
        marketplace,
        hours,
    )


async def awaiting_ticket_ids(db: Executor, tenant_id: str, marketplace: str) -> list[str]:
    """The tenant's tickets on ``marketplace`` that wait for the seller (their deadline
    depends on the window)."""
    rows = await db.fetch(
        """
        SELECT id FROM poller_tickets
        WHERE tenant_id = $1 AND marketplace = $2 AND response_state = 'AWAITING_REPLY'
        """,
        tenant_id,
        marketplace,
    )
    return [r["id"] for r in rows]


class PostgresTickets:
    """``ports.TicketStore`` on ``db``: the pool, or a unit of work's connection."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def insert_external_messages(self, rows: Sequence[ExternalMessageRow]) -> set[str]:
        return await insert_external_messages(self.db, rows)

    async def upsert_tickets(self, tickets: Sequence[TicketRow]) -> dict[tuple[str, str], str]:
        return await upsert_tickets(self.db, tickets)

    async def insert_ticket_messages(self, messages: Sequence[TicketMessageRow]) -> None:
        await insert_ticket_messages(self.db, messages)

    async def list_tickets(self, query: TicketQuery) -> list[StoredTicket]:
        return await list_tickets(self.db, query)

    async def get_ticket(self, tenant_id: str, ticket_id: str) -> StoredTicket | None:
        return await get_ticket(self.db, tenant_id, ticket_id)

    async def ticket_messages(self, ticket_id: str) -> list[StoredMessage]:
        return await ticket_messages(self.db, ticket_id)

    async def deadline_facts(self, ticket_ids: Sequence[str]) -> list[DeadlineFact]:
        return await deadline_facts(self.db, ticket_ids)

    async def report_facts(
        self, tenant_id: str, marketplace: str, since: datetime, topic: str | None = None
    ) -> list[DeadlineFact]:
        return await report_facts(self.db, tenant_id, marketplace, since, topic)

    async def save_deadlines(self, deadlines: Sequence[DeadlineRow]) -> None:
        await save_deadlines(self.db, deadlines)

    async def mark_no_response_needed(
        self, tenant_id: str, ticket_id: str, by: str, at: datetime
    ) -> bool:
        return await mark_no_response_needed(self.db, tenant_id, ticket_id, by, at)

    async def response_windows(self, tenant_id: str) -> dict[str, int]:
        return await response_windows(self.db, tenant_id)

    async def save_response_window(self, tenant_id: str, marketplace: str, hours: int) -> None:
        await save_response_window(self.db, tenant_id, marketplace, hours)

    async def awaiting_ticket_ids(self, tenant_id: str, marketplace: str) -> list[str]:
        return await awaiting_ticket_ids(self.db, tenant_id, marketplace)

    async def message_attachment(
        self, tenant_id: str, ticket_id: str, message_id: str, position: int
    ) -> StoredAttachment | None:
        return await message_attachment(self.db, tenant_id, ticket_id, message_id, position)


async def message_attachment(
    db: Executor, tenant_id: str, ticket_id: str, message_id: str, position: int
) -> StoredAttachment | None:
    """A ticket message's linked file (name, type, content or why it was skipped), the
    tenant's only."""
    row = await db.fetchrow(
        """
        SELECT a.filename, a.content_type, a.content, a.skipped
        FROM poller_ticket_messages m
        JOIN poller_message_attachments a ON a.external_message_id = m.external_message_id
        WHERE m.tenant_id = $1 AND m.ticket_id = $2 AND m.id = $3 AND a.position = $4
        """,
        tenant_id,
        ticket_id,
        message_id,
        position,
    )
    return StoredAttachment(**dict(row)) if row is not None else None
