"""All SQL of replies (asyncpg): settings, queueing, the sender's claims, outcomes, bounces;
``PostgresReplies``, the ``ReplyStore`` port on a pool or a unit of work's connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec
from keybuzz_shared.connectors.seam import ThreadDetail, ThreadStanding
from keybuzz_shared.db import Executor

from keybuzz_poller.inbound.bounce_auth import NamedReply
from keybuzz_poller.replies.ports import (
    BouncedReply,
    ClaimedReply,
    Delivery,
    NewReply,
    ReplyContext,
)
from keybuzz_poller.shops.domain import INCIDENT_MESSAGE_PREFIX
from keybuzz_poller.tickets import store as tickets
from keybuzz_poller.tickets.received import ticket_message

# --- settings ------------------------------------------------------------------------


async def reply_from_address(db: Executor, tenant_id: str) -> str | None:
    value = await db.fetchval(
        "SELECT reply_from_address FROM poller_reply_settings WHERE tenant_id = $1", tenant_id
    )
    return str(value) if value is not None else None


async def save_reply_from_address(db: Executor, tenant_id: str, address: str) -> None:
    await db.execute(
        """
        INSERT INTO poller_reply_settings (tenant_id, reply_from_address) VALUES ($1, $2)
        ON CONFLICT (tenant_id) DO UPDATE
            SET reply_from_address = EXCLUDED.reply_from_address, updated_at = now()
        """,
        tenant_id,
        address,
    )


# --- queueing ------------------------------------------------------------------------


async def reply_context(db: Executor, tenant_id: str, ticket_id: str) -> ReplyContext | None:
    """The tenant's ticket (None: unknown or another tenant's) and its buyer's latest mail."""
    row = await db.fetchrow(
        """
        SELECT t.id, t.marketplace, t.order_id, t.buyer_email, t.subject, t.thread_key,
               t.incident_status, t.thread_details, t.claim, last.external_id, last.inbound_address, last.country,
               last.subject AS buyer_subject
        FROM poller_tickets t
        LEFT JOIN LATERAL (
            SELECT e.external_id, e.inbound_address, e.country, e.subject
            FROM poller_ticket_messages m
            JOIN poller_external_messages e ON e.id = m.external_message_id
            WHERE m.ticket_id = t.id AND m.direction = 'INBOUND'
              -- an incident shown as a message is no message to answer
              AND NOT starts_with(e.external_id, $3)
            ORDER BY m.seq DESC LIMIT 1
        ) last ON true
        WHERE t.tenant_id = $1 AND t.id = $2
        FOR UPDATE OF t
        """,
        tenant_id,
        ticket_id,
        INCIDENT_MESSAGE_PREFIX,
    )
    if row is None:
        return None
    external_id = row["external_id"]
    inbound = row["inbound_address"] or await _enabled_address(db, tenant_id, row["marketplace"])
    return ReplyContext(
        ticket_id=row["id"],
        marketplace=row["marketplace"],
        order_id=row["order_id"],
        buyer_email=row["buyer_email"],
        subject=row["subject"],
        # A mail without Message-ID got a digest as external id: nothing to thread on.
        buyer_message_id=None
        if external_id is None or external_id.startswith("sha256:")
        else external_id,
        inbound_address=inbound,
        country=row["country"],
        thread_key=row["thread_key"],
        buyer_subject=row["buyer_subject"],
        incident_status=row["incident_status"],
        standing=ThreadStanding(
            details=msgspec.json.decode(row["thread_details"], type=tuple[ThreadDetail, ...]),
            claim=row["claim"],
        ),
    )


async def ticket_marketplace(db: Executor, tenant_id: str, ticket_id: str) -> str | None:
    value = await db.fetchval(
        "SELECT marketplace FROM poller_tickets WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        ticket_id,
    )
    return str(value) if value is not None else None


async def _enabled_address(db: Executor, tenant_id: str, marketplace: str) -> str | None:
    value = await db.fetchval(
        """
        SELECT email FROM poller_inbound_addresses
        WHERE tenant_id = $1 AND marketplace = $2 AND enabled ORDER BY email LIMIT 1
        """,
        tenant_id,
        marketplace,
    )
    return str(value) if value is not None else None


async def insert_reply(db: Executor, reply: NewReply) -> None:
    """The reply's mail, its OUTBOUND ticket message and the work to send it (one transaction)."""
    external = reply.external_row()
    if not await tickets.insert_external_messages(db, [external]):
        raise ValueError(f"a message {reply.message_id!r} is stored already")  # ids are new
    await tickets.add_ticket_messages(
        db,
        [
            ticket_message(
                external,
                reply.ticket_id,
                message_id=reply.ticket_message_id,
                direction="OUTBOUND",
                awaits_reply=False,
            )
        ],
    )
    await db.execute(
        """
        INSERT INTO poller_replies (
            ticket_message_id, tenant_id, ticket_id, external_message_id, message_id, order_id,
            envelope_sender, recipient, created_at, next_attempt_at, automatic)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
        """,
        reply.ticket_message_id,
        reply.tenant_id,
        reply.ticket_id,
        reply.external_message_id,
        reply.message_id,
        reply.order_id,
        reply.envelope_sender,
        reply.recipient,
        reply.created_at,
        reply.automatic,
    )


# --- the sender ----------------------------------------------------------------------


async def claim_due(
    db: Executor, limit: int, max_bytes: int, lease_seconds: float
) -> list[ClaimedReply]:
    """Take up to ``limit`` due replies whose mails total at most ``max_bytes`` (the first
    whatever its size) for one lease; rows others are claiming are skipped.

    The claim itself moves ``next_attempt_at`` a lease ahead, counts the attempt and marks
    it ``unconfirmed`` (returned as it was before: whether an earlier attempt may have sent
    the reply), so a sender that dies mid-send leaves the reply to be taken again after the
    lease. A mail's size is read from its TOAST pointer (``octet_length``), not by loading it.
    """
    rows = await db.fetch(
        """
        WITH locked AS (
            SELECT ticket_message_id, external_message_id, next_attempt_at, unconfirmed
            FROM poller_replies
            WHERE status = 'QUEUED' AND next_attempt_at <= now()
            ORDER BY next_attempt_at LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), sized AS (
            SELECT l.ticket_message_id, l.unconfirmed,
                   sum(octet_length(e.raw)) OVER w AS running, row_number() OVER w AS n
            FROM locked l JOIN poller_external_messages e ON e.id = l.external_message_id
            WINDOW w AS (ORDER BY l.next_attempt_at, l.ticket_message_id)
        ), due AS (
            SELECT ticket_message_id, unconfirmed FROM sized WHERE n = 1 OR running <= $2
        )
        UPDATE poller_replies r
        SET attempts = r.attempts + 1, unconfirmed = true,
            next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
        FROM due, poller_external_messages e
        WHERE r.ticket_message_id = due.ticket_message_id AND e.id = r.external_message_id
        RETURNING r.ticket_message_id, r.tenant_id, r.ticket_id, r.message_id, r.order_id,
                  r.envelope_sender, r.recipient, r.attempts, e.raw AS mail, e.marketplace,
                  r.created_at, due.unconfirmed
        """,
        limit,
        max_bytes,
        lease_seconds,
    )
    return [ClaimedReply(**dict(r)) for r in rows]


async def next_due_in(db: Executor) -> float | None:
    """Seconds until the next queued reply is due (None: nothing queued)."""
    # No row when nothing is queued: ``greatest`` skips a NULL, so min() over no rows would
    # answer 0, "due now", and the idle sender would go round every 50 ms.
    value = await db.fetchval(
        """
        SELECT greatest(0, extract(epoch FROM min(next_attempt_at) - now()))::float8
        FROM poller_replies WHERE status = 'QUEUED' HAVING count(*) > 0
        """
    )
    return float(value) if value is not None else None


async def mark_sent(db: Executor, ticket_message_id: str) -> datetime | None:
    """QUEUED → SENT; the time, or None when the reply had already left QUEUED."""
    sent_at = await db.fetchval(
        """
        UPDATE poller_replies SET status = 'SENT', sent_at = now(), last_error = NULL,
            updated_at = now()
        WHERE ticket_message_id = $1 AND status = 'QUEUED'
        RETURNING sent_at
        """,
        ticket_message_id,
    )
    if sent_at is not None:
        await tickets.stamp_reply_sent(db, ticket_message_id, sent_at)
    return sent_at  # type: ignore[no-any-return]


async def mark_failed(
    db: Executor, ticket_message_id: str, reason: str, code: str | None, in_doubt: bool = False
) -> bool:
    """QUEUED → FAILED with the relay's words, ``unconfirmed`` when its last attempt may
    have sent it after all; False when it had already left QUEUED."""
    return bool(
        await db.fetchval(
            """
            UPDATE poller_replies SET status = 'FAILED', reason = $2, status_code = $3,
                unconfirmed = $4, updated_at = now()
            WHERE ticket_message_id = $1 AND status = 'QUEUED'
            RETURNING true
            """,
            ticket_message_id,
            reason,
            code,
            in_doubt,
        )
    )


async def retry_later(
    db: Executor, ticket_message_id: str, error: str, delay: float, unconfirmed: bool = False
) -> None:
    await db.execute(
        """
        UPDATE poller_replies SET last_error = $2, unconfirmed = $4,
            next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
        WHERE ticket_message_id = $1 AND status = 'QUEUED'
        """,
        ticket_message_id,
        error,
        delay,
        unconfirmed,
    )


# --- bounces -------------------------------------------------------------------------


async def mark_bounced(
    db: Executor,
    ticket_message_id: str,
    reason: str,
    status_code: str | None,
    bounce_external_message_id: str,
) -> BouncedReply | None:
    """The reply → BOUNCED; None when it is already BOUNCED (a bounce arriving twice) or
    FAILED (it never left): nothing changes then."""
    row = await db.fetchrow(
        """
        UPDATE poller_replies SET status = 'BOUNCED', reason = $2, status_code = $3,
            bounce_external_message_id = $4, updated_at = now()
        WHERE ticket_message_id = $1 AND status IN ('QUEUED', 'SENT')
        RETURNING ticket_message_id, ticket_id, message_id, order_id
        """,
        ticket_message_id,
        reason,
        status_code,
        bounce_external_message_id,
    )
    return BouncedReply(**dict(row)) if row else None


async def named_replies(
    db: Executor, tenant_id: str, message_ids: Sequence[str]
) -> list[NamedReply]:
    """The tenant's replies among ``message_ids``, in their order."""
    rows = await db.fetch(
        """
        SELECT ticket_message_id, envelope_sender FROM poller_replies
        WHERE tenant_id = $1 AND message_id = ANY($2::text[])
        ORDER BY array_position($2::text[], message_id)
        """,
        tenant_id,
        list(message_ids),
    )
    return [NamedReply(**dict(r)) for r in rows]


# --- read side -----------------------------------------------------------------------


async def deliveries(db: Executor, tenant_id: str, ticket_id: str) -> dict[str, Delivery]:
    """Delivery state of the ticket's replies, by ticket message id."""
    rows: list[asyncpg.Record] = await db.fetch(
        """
        SELECT ticket_message_id, status, reason, status_code, sent_at FROM poller_replies
        WHERE tenant_id = $1 AND ticket_id = $2
        """,
        tenant_id,
        ticket_id,
    )
    return {
        r["ticket_message_id"]: Delivery(
            status=r["status"],
            reason=r["reason"],
            status_code=r["status_code"],
            sent_at=r["sent_at"],
        )
        for r in rows
    }


class PostgresReplies:
    """``ports.ReplyStore`` on ``db``: the pool, or a unit of work's connection."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def reply_from_address(self, tenant_id: str) -> str | None:
        return await reply_from_address(self.db, tenant_id)

    async def save_reply_from_address(self, tenant_id: str, address: str) -> None:
        await save_reply_from_address(self.db, tenant_id, address)

    async def reply_context(self, tenant_id: str, ticket_id: str) -> ReplyContext | None:
        return await reply_context(self.db, tenant_id, ticket_id)

    async def insert_reply(self, reply: NewReply) -> None:
        await insert_reply(self.db, reply)

    async def claim_due(
        self, limit: int, max_bytes: int, lease_seconds: float
    ) -> list[ClaimedReply]:
        return await claim_due(self.db, limit, max_bytes, lease_seconds)

    async def next_due_in(self) -> float | None:
        return await next_due_in(self.db)

    async def mark_sent(self, ticket_message_id: str) -> datetime | None:
        return await mark_sent(self.db, ticket_message_id)

    async def mark_failed(
        self, ticket_message_id: str, reason: str, code: str | None, in_doubt: bool = False
    ) -> bool:
        return await mark_failed(self.db, ticket_message_id, reason, code, in_doubt)

    async def retry_later(
        self, ticket_message_id: str, error: str, delay: float, unconfirmed: bool = False
    ) -> None:
        await retry_later(self.db, ticket_message_id, error, delay, unconfirmed)

    async def ticket_marketplace(self, tenant_id: str, ticket_id: str) -> str | None:
        return await ticket_marketplace(self.db, tenant_id, ticket_id)

    async def mark_bounced(
        self,
        ticket_message_id: str,
        reason: str,
        status_code: str | None,
        bounce_external_message_id: str,
    ) -> BouncedReply | None:
        return await mark_bounced(
            self.db, ticket_message_id, reason, status_code, bounce_external_message_id
        )

    async def named_replies(self, tenant_id: str, message_ids: Sequence[str]) -> list[NamedReply]:
        return await named_replies(self.db, tenant_id, message_ids)

    async def deliveries(self, tenant_id: str, ticket_id: str) -> dict[str, Delivery]:
        return await deliveries(self.db, tenant_id, ticket_id)
