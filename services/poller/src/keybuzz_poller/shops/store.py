"""All SQL of shops' messages (asyncpg): ``ports.ShopStore`` on PostgreSQL.

A shop's cursors live in its ``poller_shops`` row; its messages are external messages
(external id: the marketplace's message id) in tickets like mail's, with their sender type,
their downloaded attachments and whether they still wait to be marked read there. One of
our replies read back from the marketplace is recorded on its ``poller_replies`` row.
What a poll writes on the ticket tables goes through ``tickets/store.py``, their one writer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from keybuzz_shared.connectors.seam import InboxIncident
from keybuzz_shared.db import Executor
from keybuzz_shared.ids import uuid7_string
from keybuzz_shared.text import storable
from keybuzz_shared.ticket_topics import Topics

from keybuzz_poller.shops.closing_ports import TicketToClose
from keybuzz_poller.shops.domain import (
    BUYER,
    NOTICE_WINDOW,
    CallsAsked,
    MatchedReply,
    OwnReply,
    PageThreads,
    Shop,
    ShopCursor,
    ShopStart,
    ThreadClock,
    ThreadState,
)
from keybuzz_poller.tickets import store
from keybuzz_poller.tickets.ports import (
    Attachment,
    ExternalMessageRow,
    TicketMessageRow,
    TicketRow,
    TicketStore,
)
from keybuzz_poller.tickets.topics import folded, with_topics

# A poll's start as read of its shop's row ``s``: by the statement that starts it
# (``started``), or by the claim that leased it (``polling/shops_store.py``).
START_COLUMNS = (
    "s.messages_since",
    "s.incidents_since",
    "s.messages_fetched",
    "extract(epoch FROM clock_timestamp() - s.last_poll_at)::float8",
    """EXISTS (SELECT 1 FROM poller_external_messages e
               WHERE e.tenant_id = s.tenant_id AND e.marketplace = s.marketplace
                 AND e.mark_read_pending)""",
)


def shop_start(
    columns: Sequence[Any], day_calls: int | None = None, reserved: CallsAsked | None = None
) -> ShopStart:
    """``START_COLUMNS`` as read, and the day's count if the start (or the claim: its
    ``reserved``) reserved calls."""
    messages_since, incidents_since, fetched, since_poll, marks_pending = columns
    return ShopStart(
        cursor=ShopCursor(messages_since=messages_since, incidents_since=incidents_since),
        marks_pending=bool(marks_pending),
        fetched=fetched or 0,
        seconds_since_poll=since_poll,
        day_calls=day_calls,
        reserved=reserved,
    )


class PostgresShopStore:
    def __init__(self, db: Executor) -> None:
        self.db = db
        self.tickets: TicketStore = store.PostgresTickets(db)

    async def started(self, shop: Shop, reserve: CallsAsked | None = None) -> ShopStart:
        # The reservation, all or none within its limit, rides on the row's read: a
        # statement of its own at every poll otherwise (``shops/calls.py``).
        row = await self.db.fetchrow(
            f"""
            WITH reserved AS (
                INSERT INTO poller_shop_calls AS c (poll_key, day, calls)
                SELECT $1, $2, $3 WHERE $3 > 0 AND $3 <= $4
                ON CONFLICT (poll_key, day) DO UPDATE SET calls = c.calls + $3
                WHERE c.calls + $3 <= $4
                RETURNING calls
            )
            SELECT {", ".join(START_COLUMNS)}, (SELECT calls FROM reserved) AS day_calls
            FROM (SELECT 1) AS one LEFT JOIN poller_shops s ON s.poll_key = $1
            """,
            shop.key,
            reserve.day if reserve else None,
            reserve.calls if reserve else 0,
            reserve.limit if reserve else 0,
        )
        return shop_start(tuple(row)[: len(START_COLUMNS)], row["day_calls"])

    async def save_cursor(self, shop: Shop, cursor: ShopCursor) -> None:
        await self.db.execute(
            "UPDATE poller_shops SET messages_since = $2, incidents_since = $3 WHERE poll_key = $1",
            shop.key,
            cursor.messages_since,
            cursor.incidents_since,
        )

    async def advance_cursor(self, shop: Shop, past: ShopCursor) -> None:
        await self.db.execute(_advanced(1), *_advance_args(shop, past))

    async def known_messages(self, shop: Shop, message_ids: Sequence[str]) -> set[str]:
        rows = await self.db.fetch(
            """
            SELECT external_id FROM poller_external_messages
            WHERE tenant_id = $1 AND marketplace = $2 AND external_id = ANY($3::text[])
            """,
            shop.tenant_id,
            shop.marketplace,
            [storable(i) for i in message_ids],
        )
        return {r["external_id"] for r in rows}

    async def add_messages(
        self,
        messages: Sequence[ExternalMessageRow],
        attachments: Mapping[str, Sequence[Attachment]],
    ) -> set[str]:
        added = await store.insert_external_messages(self.db, messages)
        await store.insert_attachments(
            self.db, {i: files for i, files in attachments.items() if i in added}
        )
        return added

    async def add_message(
        self, message: ExternalMessageRow, attachments: Sequence[Attachment]
    ) -> bool:
        return bool(await self.add_messages([message], {message.id: attachments}))

    async def ticket_of(self, shop: Shop, thread_key: str) -> str | None:
        ticket_id: str | None = await self.db.fetchval(
            """
            SELECT id FROM poller_tickets
            WHERE tenant_id = $1 AND marketplace = $2 AND thread_key = $3
            """,
            shop.tenant_id,
            shop.marketplace,
            storable(thread_key),
        )
        return ticket_id

    async def page_threads(
        self,
        shop: Shop,
        thread_keys: Sequence[str],
        opening: Sequence[tuple[str, datetime]],
        answered: Sequence[str],
    ) -> PageThreads:
        # The page's three reads in one round trip: the own replies are read from the
        # tickets the same statement finds.
        asked = {storable(k): k for k in thread_keys}
        row = await self.db.fetchrow(
            """
            WITH found AS (
                SELECT thread_key, id FROM poller_tickets
                WHERE tenant_id = $1 AND marketplace = $2 AND thread_key = ANY($3::text[])
            )
            SELECT
                ARRAY(SELECT ROW(thread_key, id) FROM found) AS tickets,
                ARRAY(
                    SELECT (SELECT i.created_at FROM poller_incidents i
                            WHERE i.tenant_id = $1 AND i.marketplace = $2
                              AND i.order_id = n.order_id
                              AND i.created_at BETWEEN n.at - $6::interval
                                                   AND n.at + $6::interval
                            ORDER BY abs(extract(epoch FROM i.created_at - n.at)) LIMIT 1)
                    FROM unnest($4::text[], $5::timestamptz[])
                         WITH ORDINALITY AS n (order_id, at, o)
                    ORDER BY n.o
                ) AS near,
                ARRAY(
                    SELECT ROW(r.ticket_id, r.ticket_message_id, r.message_id, r.order_id, e.body,
                               r.created_at)
                    FROM poller_replies r
                    JOIN poller_external_messages e ON e.id = r.external_message_id
                    WHERE r.ticket_id IN (SELECT id FROM found WHERE thread_key = ANY($7::text[]))
                      AND r.marketplace_message_id IS NULL
                      AND (r.status = 'SENT' OR r.status IN ('QUEUED', 'FAILED') AND r.unconfirmed)
                    ORDER BY r.created_at, r.ticket_message_id
                ) AS own
            """,
            shop.tenant_id,
            shop.marketplace,
            list(asked),
            [storable(order_id) for order_id, _ in opening],
            [at for _, at in opening],
            NOTICE_WINDOW,
            [storable(k) for k in answered],
        )
        own: dict[str, list[OwnReply]] = {}
        for ticket_id, reply_id, message_id, order_id, text, queued_at in row["own"]:
            own.setdefault(ticket_id, []).append(
                OwnReply(
                    ticket_message_id=reply_id,
                    message_id=message_id,
                    order_id=order_id,
                    text=text,
                    queued_at=queued_at,
                )
            )
        return PageThreads(
            tickets={asked[key]: ticket_id for key, ticket_id in row["tickets"]},
            incidents_near=list(row["near"]),
            own_replies=own,
        )

    async def open_tickets(
        self, threads: Mapping[str, Sequence[tuple[ExternalMessageRow, Topics | None]]]
    ) -> dict[str, str]:
        rows = [_opened(key, opening) for key, opening in threads.items()]
        ids = await store.upsert_tickets(self.db, rows)
        return {
            key: ids[(r.marketplace, r.thread_key)] for key, r in zip(threads, rows, strict=True)
        }

    async def open_ticket(
        self, thread_key: str, message: ExternalMessageRow, topics: Topics | None = None
    ) -> str:
        return (await self.open_tickets({thread_key: [(message, topics)]}))[thread_key]

    async def thread_messages(self, messages: Sequence[TicketMessageRow]) -> None:
        await store.add_ticket_messages(self.db, messages)

    async def thread_message(self, message: TicketMessageRow) -> None:
        await self.thread_messages([message])

    async def save_thread_states(self, shop: Shop, states: Sequence[ThreadState]) -> int:
        return await self._states_saved(shop, states)

    async def _states_saved(
        self,
        shop: Shop,
        states: Sequence[ThreadState],
        carried: tuple[str, Sequence[object]] | None = None,
    ) -> int:
        if not states:
            return 0
        return await store.save_thread_details(
            self.db,
            shop.tenant_id,
            shop.marketplace,
            [storable(s.thread_key) for s in states],
            [_details_json(s) for s in states],
            [s.claim for s in states],
            carried,
        )

    async def save_page_states(
        self, shop: Shop, states: Sequence[ThreadState], past: ShopCursor
    ) -> int:
        if not states:
            await self.advance_cursor(shop, past)
            return 0
        # The cursor rides on the states' statement: a round trip fewer a page.
        carried = (f"cursor AS ({_advanced(6)})", _advance_args(shop, past))
        return await self._states_saved(shop, states, carried)

    async def save_thread_clocks(self, shop: Shop, clocks: Sequence[ThreadClock]) -> list[str]:
        if not clocks:
            return []
        return await store.save_thread_clocks(
            self.db,
            shop.tenant_id,
            shop.marketplace,
            [storable(c.thread_key) for c in clocks],
            [c.reply_needed_since for c in clocks],
        )

    async def match_reply(
        self, ticket_message_id: str, marketplace_message_id: str
    ) -> MatchedReply | None:
        # The row is locked and checked again, so a sender recording the same reply at the
        # same time either ran first (SENT: nothing confirmed here) or finds it SENT.
        row = await self.db.fetchrow(
            """
            WITH own AS (
                SELECT ticket_message_id, status <> 'SENT' AS confirmed FROM poller_replies
                WHERE ticket_message_id = $1 AND marketplace_message_id IS NULL
                  AND (status = 'SENT' OR status IN ('QUEUED', 'FAILED') AND unconfirmed)
                FOR UPDATE
            ), matched AS (
                UPDATE poller_replies r SET marketplace_message_id = $2, status = 'SENT',
                    sent_at = coalesce(r.sent_at, now()), last_error = NULL, reason = NULL,
                    status_code = NULL, updated_at = now()
                FROM own WHERE r.ticket_message_id = own.ticket_message_id
                RETURNING r.ticket_id, r.sent_at, own.confirmed
            )
            SELECT ticket_id, sent_at, confirmed FROM matched
            """,
            ticket_message_id,
            storable(marketplace_message_id),
        )
        if row is None:
            return None
        if row["confirmed"]:  # its stored message dated as the sender would have
            await store.stamp_reply_sent(self.db, ticket_message_id, row["sent_at"])
        return MatchedReply(sent_at=row["sent_at"], confirmed=row["confirmed"])

    async def has_notice(
        self, ticket_id: str, incident_created_at: datetime, claim_subject: str
    ) -> bool:
        """Whether the ticket holds, near the incident's time, a message whose subject opens
        with ``claim_subject`` (its marketplace's, as the connector says)."""
        return bool(
            await self.db.fetchval(
                """
                SELECT true FROM poller_ticket_messages m
                JOIN poller_external_messages e ON e.id = m.external_message_id
                WHERE m.ticket_id = $1 AND starts_with(lower(btrim(e.subject)), $2)
                  AND e.sent_at BETWEEN $3::timestamptz - $4::interval
                                    AND $3::timestamptz + $4::interval
                LIMIT 1
                """,
                ticket_id,
                claim_subject.strip().lower(),
                incident_created_at,
                NOTICE_WINDOW,
            )
        )

    async def save_incident(self, shop: Shop, incident: InboxIncident, ticket_id: str) -> bool:
        return await store.save_incident(
            self.db, shop.tenant_id, shop.marketplace, incident, ticket_id
        )

    async def pending_marks(self, shop: Shop, limit: int) -> list[str]:
        rows = await self.db.fetch(
            """
            SELECT external_id FROM poller_external_messages
            WHERE tenant_id = $1 AND marketplace = $2 AND mark_read_pending
            ORDER BY sent_at, external_id LIMIT $3
            """,
            shop.tenant_id,
            shop.marketplace,
            limit,
        )
        return [r["external_id"] for r in rows]

    async def marks_done(self, shop: Shop, message_ids: Sequence[str]) -> None:
        await store.marked_read(self.db, shop.tenant_id, shop.marketplace, message_ids)


def _advanced(first: int) -> str:
    """A shop's cursors moved past a page, never backwards, one left NULL left as it is
    (``ShopStore.advance_cursor``; its poll key, messages' and incidents' times from
    ``$first`` on)."""
    key, messages, incidents = first, first + 1, first + 2
    return f"""
        UPDATE poller_shops SET messages_since = greatest(messages_since, ${messages}),
                                incidents_since = greatest(incidents_since, ${incidents})
        WHERE poll_key = ${key}
        """


def _advance_args(shop: Shop, past: ShopCursor) -> tuple[object, ...]:
    return shop.key, past.messages_since, past.incidents_since


def _opened(
    thread_key: str, opening: Sequence[tuple[ExternalMessageRow, Topics | None]]
) -> TicketRow:
    """A thread's ticket as its page's new messages open or re-open it, oldest first: the
    first one's order and subject, the first buyer name given, their topics folded."""
    first = opening[0][0]
    row = TicketRow(
        id=uuid7_string(),
        tenant_id=first.tenant_id,
        marketplace=first.marketplace,
        thread_key=storable(thread_key),
        order_id=first.order_id,
        buyer_email=None,
        buyer_name=next((m.buyer_name for m, _ in opening if m.buyer_name), None),
        subject=first.subject,
        last_message_at=max(m.received_at for m, _ in opening),
        message_count=0,  # counted by thread_messages
    )
    return with_topics(row, folded(t for _, t in opening if t is not None))


def _details_json(state: ThreadState) -> str:
    details = [
        {"name": storable(d.name), "label": storable(d.label), "value": storable(d.value)}
        for d in state.details
    ]
    return msgspec.json.encode(details).decode()


CALL_DAYS_KEPT = 7  # a shop's daily call counts kept for operators, then deleted


class PostgresShopCalls:
    """``ports.CallCounts`` on ``poller_shop_calls``: one row per shop and UTC day."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def reserve_call(self, shop: Shop, day: date, limit: int) -> bool:
        # One statement: two instances (or a poll and a restart's) cannot both take the last.
        counted = await self.db.fetchval(
            """
            WITH gone AS (DELETE FROM poller_shop_calls WHERE poll_key = $1 AND day < $4)
            INSERT INTO poller_shop_calls AS c (poll_key, day, calls)
            SELECT $1, $2, 1 WHERE $3 > 0
            ON CONFLICT (poll_key, day) DO UPDATE SET calls = c.calls + 1 WHERE c.calls < $3
            RETURNING true
            """,
            shop.key,
            day,
            limit,
            day - timedelta(days=CALL_DAYS_KEPT),
        )
        return bool(counted)

    async def adjust_calls(self, shop: Shop, day: date, delta: int) -> None:
        await self.db.execute(
            """
            INSERT INTO poller_shop_calls AS c (poll_key, day, calls) VALUES ($1, $2, greatest($3, 0))
            ON CONFLICT (poll_key, day) DO UPDATE SET calls = greatest(c.calls + $3, 0)
            """,
            shop.key,
            day,
            delta,
        )

    async def calls_spent(self, shop: Shop, day: date) -> int:
        spent = await self.db.fetchval(
            "SELECT calls FROM poller_shop_calls WHERE poll_key = $1 AND day = $2", shop.key, day
        )
        return int(spent or 0)

    async def marketplace_calls(self, marketplace: str, day: date) -> int:
        spent = await self.db.fetchval(
            "SELECT sum(calls) FROM poller_shop_calls"
            " WHERE split_part(poll_key, ':', 1) = $1 AND day = $2",
            marketplace,
            day,
        )
        return int(spent or 0)

    async def buyer_hours(self, shop: Shop, since: datetime) -> tuple[int, ...]:
        rows = await self.db.fetch(
            """
            SELECT extract(hour FROM sent_at AT TIME ZONE 'UTC')::int AS hour, count(*) AS n
            FROM poller_external_messages
            WHERE tenant_id = $1 AND marketplace = $2 AND sender_type = $3 AND sent_at >= $4
            GROUP BY 1
            """,
            shop.tenant_id,
            shop.marketplace,
            BUYER,
            since,
        )
        counts = [0] * 24
        for row in rows:
            counts[row["hour"]] = row["n"]
        return tuple(counts)


class PostgresClosing:
    """``closing_ports.ClosingStore`` on a unit of work's connection."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def held_ticket(self, tenant_id: str, ticket_id: str) -> TicketToClose | None:
        row = await store.held_for_close(self.db, tenant_id, ticket_id)
        return TicketToClose(**row) if row is not None else None

    async def mark_closed(self, tenant_id: str, ticket_id: str) -> None:
        await store.mark_closed(self.db, tenant_id, ticket_id)
