"""All of the poller's SQL (asyncpg), nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec
from keybuzz_shared.db import Executor

from keybuzz_poller.inbound import Recipient


# Rows as the INSERTs below take them: the field order is the column order.
class ExternalMessageRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    tenant_id: str
    marketplace: str
    external_id: str
    order_id: str | None
    buyer_email: str | None
    buyer_name: str | None
    subject: str
    body: str
    quoted: str
    attachments: str  # JSON text
    inbound_address: str | None
    country: str | None
    sent_at: datetime | None
    received_at: datetime
    raw: bytes
    parse_error: str | None


class TicketRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    tenant_id: str
    marketplace: str
    thread_key: str
    order_id: str | None
    buyer_email: str | None
    buyer_name: str | None
    subject: str
    last_message_at: datetime
    message_count: int = 1  # new messages of this batch in the thread


class TicketMessageRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    ticket_id: str
    tenant_id: str
    external_message_id: str
    body: str
    received_at: datetime


class TicketQuery(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    status: str | None = None
    order_id: str | None = None
    since: datetime | None = None
    after_at: datetime | None = None  # keyset: the last ticket of the previous page
    after_id: str | None = None
    limit: int = 50


async def apply_tenant_state(db: Executor, tenant_id: str, archived: bool, as_of: datetime) -> bool:
    """Record the tenant's state unless a newer event was applied; True when applied."""
    applied = await db.fetchval(
        """
        INSERT INTO poller_tenants (tenant_id, archived, as_of) VALUES ($1, $2, $3)
        ON CONFLICT (tenant_id) DO UPDATE
            SET archived = EXCLUDED.archived, as_of = EXCLUDED.as_of, updated_at = now()
            WHERE poller_tenants.as_of < EXCLUDED.as_of
        RETURNING true
        """,
        tenant_id,
        archived,
        as_of,
    )
    return bool(applied)


async def replace_addresses(
    db: Executor, tenant_id: str, addresses: Sequence[tuple[str, str, str, bool]]
) -> None:
    """The tenant's full set of addresses: (email, marketplace, country, enabled)."""
    emails = [a[0] for a in addresses]
    await db.execute(
        "DELETE FROM poller_inbound_addresses WHERE tenant_id = $1 AND NOT email = ANY($2::text[])",
        tenant_id,
        emails,
    )
    await db.execute(
        """
        INSERT INTO poller_inbound_addresses (email, tenant_id, marketplace, country, enabled)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[])
        ON CONFLICT (email) DO UPDATE
            SET tenant_id = EXCLUDED.tenant_id, marketplace = EXCLUDED.marketplace,
                country = EXCLUDED.country, enabled = EXCLUDED.enabled, updated_at = now()
        """,
        emails,
        [tenant_id] * len(addresses),
        [a[1] for a in addresses],
        [a[2] for a in addresses],
        [a[3] for a in addresses],
    )


async def find_recipient(db: Executor, email: str) -> Recipient | None:
    """An enabled address of a tenant that is not archived."""
    row = await db.fetchrow(
        """
        SELECT a.email, a.tenant_id, a.marketplace, a.country
        FROM poller_inbound_addresses a JOIN poller_tenants t USING (tenant_id)
        WHERE a.email = $1 AND a.enabled AND NOT t.archived
        """,
        email,
    )
    if row is None:
        return None
    return Recipient(
        address=row["email"],
        tenant_id=row["tenant_id"],
        marketplace=row["marketplace"],
        country=row["country"],
    )


async def get_cursor(db: Executor, tenant_id: str) -> tuple[int, int] | None:
    """(UIDVALIDITY, last UID read) of the tenant's folder, if it was ever read."""
    row = await db.fetchrow(
        "SELECT uid_validity, last_uid FROM poller_mail_cursors WHERE tenant_id = $1", tenant_id
    )
    return (row["uid_validity"], row["last_uid"]) if row else None


async def save_cursor(
    db: Executor, tenant_id: str, folder: str, uid_validity: int, last_uid: int
) -> None:
    await db.execute(
        """
        INSERT INTO poller_mail_cursors (tenant_id, folder, uid_validity, last_uid)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (tenant_id) DO UPDATE
            SET folder = EXCLUDED.folder, uid_validity = EXCLUDED.uid_validity,
                last_uid = EXCLUDED.last_uid, updated_at = now()
        """,
        tenant_id,
        folder,
        uid_validity,
        last_uid,
    )


# --- tickets --------------------------------------------------------------------------


def _columns(rows: Sequence[msgspec.Struct], struct: type[msgspec.Struct]) -> list[list[object]]:
    """Rows → one list per column, in field order: the arrays ``unnest`` takes."""
    return [[getattr(row, name) for row in rows] for name in struct.__struct_fields__]


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
            received_at, raw, parse_error)
        SELECT id, tenant_id, marketplace, external_id, order_id, buyer_email, buyer_name,
               subject, body, quoted, attachments::jsonb, inbound_address, country, sent_at,
               received_at, raw, parse_error
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                    $13::text[], $14::timestamptz[], $15::timestamptz[], $16::bytea[],
                    $17::text[])
            WITH ORDINALITY AS m (id, tenant_id, marketplace, external_id, order_id,
                buyer_email, buyer_name, subject, body, quoted, attachments, inbound_address,
                country, sent_at, received_at, raw, parse_error, position)
        ORDER BY position
        ON CONFLICT (tenant_id, marketplace, external_id) DO NOTHING
        RETURNING id
        """,
        *_columns(rows, ExternalMessageRow),
    )
    return {r["id"] for r in inserted}


async def upsert_tickets(db: Executor, tickets: Sequence[TicketRow]) -> dict[tuple[str, str], str]:
    """Each thread's ticket, created or re-opened by its new messages: (marketplace, thread key) → id.

    ``tickets`` holds one row per thread (``message_count`` new messages): ON CONFLICT
    cannot update a row twice in one statement. Sorted, so concurrent batches lock
    tickets in the same order.
    """
    if not tickets:
        return {}
    ordered = sorted(tickets, key=lambda t: (t.marketplace, t.thread_key))
    rows = await db.fetch(
        """
        INSERT INTO poller_tickets (
            id, tenant_id, marketplace, thread_key, order_id, buyer_email, buyer_name,
            subject, last_message_at, message_count)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::int[])
        ON CONFLICT (tenant_id, marketplace, thread_key) DO UPDATE
            SET status = 'OPEN',
                message_count = poller_tickets.message_count + EXCLUDED.message_count,
                last_message_at = greatest(poller_tickets.last_message_at,
                                           EXCLUDED.last_message_at),
                buyer_name = coalesce(poller_tickets.buyer_name, EXCLUDED.buyer_name),
                updated_at = now()
        RETURNING id, marketplace, thread_key
        """,
        *_columns(ordered, TicketRow),
    )
    return {(r["marketplace"], r["thread_key"]): r["id"] for r in rows}


async def insert_ticket_messages(db: Executor, messages: Sequence[TicketMessageRow]) -> None:
    """One statement per batch; ``seq`` follows the order given (the mailbox's)."""
    if not messages:
        return
    await db.execute(
        """
        INSERT INTO poller_ticket_messages (
            id, ticket_id, tenant_id, external_message_id, body, received_at)
        SELECT id, ticket_id, tenant_id, external_message_id, body, received_at
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                    $6::timestamptz[])
            WITH ORDINALITY AS m (id, ticket_id, tenant_id, external_message_id, body,
                                  received_at, position)
        ORDER BY position
        """,
        *_columns(messages, TicketMessageRow),
    )


async def list_tickets(db: Executor, query: TicketQuery) -> list[asyncpg.Record]:
    """Newest activity first; keyset: strictly after (last_message_at, id) of the previous page."""
    return await db.fetch(
        """
        SELECT id, marketplace, order_id, buyer_email, buyer_name, subject, status,
               message_count, created_at, last_message_at
        FROM poller_tickets
        WHERE tenant_id = $1
          AND ($2::text IS NULL OR status = $2)
          AND ($3::text IS NULL OR order_id = $3)
          AND ($4::timestamptz IS NULL OR last_message_at >= $4)
          AND ($5::timestamptz IS NULL OR (last_message_at, id) < ($5, $6::text))
        ORDER BY last_message_at DESC, id DESC
        LIMIT $7
        """,
        query.tenant_id,
        query.status,
        query.order_id,
        query.since,
        query.after_at,
        query.after_id,
        query.limit,
    )


async def get_ticket(db: Executor, tenant_id: str, ticket_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        """
        SELECT id, marketplace, order_id, buyer_email, buyer_name, subject, status,
               message_count, created_at, last_message_at
        FROM poller_tickets WHERE tenant_id = $1 AND id = $2
        """,
        tenant_id,
        ticket_id,
    )


async def ticket_messages(db: Executor, ticket_id: str) -> list[asyncpg.Record]:
    """A ticket's messages in the order they were stored (mailbox order)."""
    return await db.fetch(
        """
        SELECT m.id, m.direction, m.body, m.received_at, e.id AS external_message_id,
               e.external_id, e.subject, e.quoted, e.sent_at, e.parse_error, e.attachments
        FROM poller_ticket_messages m
        JOIN poller_external_messages e ON e.id = m.external_message_id
        WHERE m.ticket_id = $1 ORDER BY m.seq
        """,
        ticket_id,
    )


# --- scheduling and leases ------------------------------------------------------------


async def ensure_scheduled(db: Executor, tenant_id: str, interval: float) -> None:
    """A new tenant's first poll falls at a random point of the interval: polls spread out."""
    await db.execute(
        """
        INSERT INTO poller_poll_status (tenant_id, next_poll_at)
        VALUES ($1, now() + random() * make_interval(secs => $2))
        ON CONFLICT (tenant_id) DO NOTHING
        """,
        tenant_id,
        interval,
    )


async def poll_soon(db: Executor, tenant_id: str) -> None:
    """Due now (connection.connected): the next round of any instance takes it."""
    await db.execute(
        """
        INSERT INTO poller_poll_status (tenant_id, next_poll_at) VALUES ($1, now())
        ON CONFLICT (tenant_id) DO UPDATE SET next_poll_at = now()
        """,
        tenant_id,
    )


_POLLABLE = """
    EXISTS (SELECT 1 FROM poller_tenants t WHERE t.tenant_id = s.tenant_id AND NOT t.archived)
    AND EXISTS (SELECT 1 FROM poller_inbound_addresses a
                WHERE a.tenant_id = s.tenant_id AND a.enabled)
    AND (s.lease_expires_at IS NULL OR s.lease_expires_at < now())
"""


async def claim_due(db: Executor, owner: str, limit: int, lease_seconds: float) -> list[str]:
    """Lease up to ``limit`` due tenants; rows another instance is claiming are skipped."""
    rows = await db.fetch(
        f"""
        WITH due AS (
            SELECT s.tenant_id FROM poller_poll_status s
            WHERE s.next_poll_at <= now() AND {_POLLABLE}
            ORDER BY s.next_poll_at
            LIMIT $2
            FOR UPDATE OF s SKIP LOCKED
        )
        UPDATE poller_poll_status s
        SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3)
        FROM due WHERE s.tenant_id = due.tenant_id
        RETURNING s.tenant_id
        """,
        owner,
        limit,
        lease_seconds,
    )
    return [r["tenant_id"] for r in rows]


async def claim_tenant(db: Executor, tenant_id: str, owner: str, lease_seconds: float) -> bool:
    """Lease one tenant now, due or not (poll-now); False if it is leased or not pollable."""
    claimed = await db.fetchval(
        f"""
        WITH one AS (
            SELECT s.tenant_id FROM poller_poll_status s
            WHERE s.tenant_id = $1 AND {_POLLABLE}
            FOR UPDATE OF s SKIP LOCKED
        )
        UPDATE poller_poll_status s
        SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3)
        FROM one WHERE s.tenant_id = one.tenant_id
        RETURNING true
        """,
        tenant_id,
        owner,
        lease_seconds,
    )
    return bool(claimed)


async def is_pollable(db: Executor, tenant_id: str) -> bool:
    """Known, not archived, with an enabled inbound address (leases aside)."""
    return bool(
        await db.fetchval(
            """
            SELECT true FROM poller_tenants t
            WHERE t.tenant_id = $1 AND NOT t.archived AND EXISTS (
                SELECT 1 FROM poller_inbound_addresses a
                WHERE a.tenant_id = t.tenant_id AND a.enabled)
            """,
            tenant_id,
        )
    )


async def renew_leases(
    db: Executor, owner: str, tenant_ids: Sequence[str], lease_seconds: float
) -> None:
    await db.execute(
        """
        UPDATE poller_poll_status SET lease_expires_at = now() + make_interval(secs => $3)
        WHERE lease_owner = $1 AND tenant_id = ANY($2::text[])
        """,
        owner,
        list(tenant_ids),
        lease_seconds,
    )


async def poll_succeeded(
    db: Executor, tenant_id: str, owner: str, fetched: int, interval: float
) -> None:
    """Record the poll, release the lease, schedule the next one an interval later.

    Keeping the tenant's place in the interval keeps polls spread; a tenant overdue
    by more than an interval (every instance was down) gets a random place again.
    """
    await db.execute(
        """
        UPDATE poller_poll_status SET
            next_poll_at = CASE
                WHEN next_poll_at + make_interval(secs => $4) > now()
                    THEN next_poll_at + make_interval(secs => $4)
                ELSE now() + random() * make_interval(secs => $4) END,
            lease_owner = NULL, lease_expires_at = NULL,
            last_poll_at = now(), last_success_at = now(), consecutive_failures = 0,
            messages_fetched = messages_fetched + $3
        WHERE tenant_id = $1 AND lease_owner = $2
        """,
        tenant_id,
        owner,
        fetched,
        interval,
    )


async def poll_failed(
    db: Executor, tenant_id: str, owner: str, error: str, retry_base: float, retry_cap: float
) -> None:
    """Record the error, release the lease, retry with exponential back-off."""
    await db.execute(
        """
        UPDATE poller_poll_status SET
            next_poll_at = now() + make_interval(
                secs => least($5, $4 * power(2, least(consecutive_failures, 20)))),
            lease_owner = NULL, lease_expires_at = NULL,
            last_poll_at = now(), last_error = $3, last_error_at = now(),
            consecutive_failures = consecutive_failures + 1
        WHERE tenant_id = $1 AND lease_owner = $2
        """,
        tenant_id,
        owner,
        error,
        retry_base,
        retry_cap,
    )


async def release_leases(db: Executor, owner: str) -> None:
    """On shutdown: another instance may take our tenants at once, due or not."""
    await db.execute(
        """
        UPDATE poller_poll_status SET lease_owner = NULL, lease_expires_at = NULL
        WHERE lease_owner = $1
        """,
        owner,
    )


async def poll_status(db: Executor, tenant_id: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        """
        SELECT tenant_id, next_poll_at, lease_owner IS NOT NULL
                   AND lease_expires_at > now() AS polling,
               last_poll_at, last_success_at, last_error, last_error_at,
               consecutive_failures, messages_fetched,
               extract(epoch FROM now() - last_success_at)::float8 AS lag_seconds
        FROM poller_poll_status WHERE tenant_id = $1
        """,
        tenant_id,
    )


# --- quarantine -----------------------------------------------------------------------


async def unknown_tenants(db: Executor, tenant_ids: Sequence[str]) -> set[str]:
    """Those of ``tenant_ids`` the projection has never heard of."""
    rows = await db.fetch(
        """
        SELECT id FROM unnest($1::text[]) AS id
        WHERE NOT EXISTS (SELECT 1 FROM poller_tenants t WHERE t.tenant_id = id)
        """,
        list(tenant_ids),
    )
    return {r["id"] for r in rows}


async def record_quarantine(db: Executor, folders: dict[str, int]) -> None:
    """Folders of unknown tenants and their mail count; folders now known are dropped."""
    await db.execute(
        """
        WITH gone AS (DELETE FROM poller_quarantine WHERE NOT folder = ANY($1::text[]))
        INSERT INTO poller_quarantine (folder, messages)
        SELECT * FROM unnest($1::text[], $2::int[])
        ON CONFLICT (folder) DO UPDATE SET messages = EXCLUDED.messages, last_seen = now()
        """,
        list(folders),
        list(folders.values()),
    )


async def quarantined(db: Executor) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT folder, messages, first_seen, last_seen FROM poller_quarantine ORDER BY folder"
    )
