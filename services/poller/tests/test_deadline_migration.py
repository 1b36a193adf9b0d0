"""Migration 006 gives the tickets that exist before it their response state and deadline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from migrating import apply_migration, migrated_before

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def _message(
    pool: asyncpg.Pool, ticket: str, name: str, direction: str, at: datetime
) -> None:
    await pool.execute(
        """
        INSERT INTO poller_external_messages (id, tenant_id, marketplace, external_id, subject,
            body, quoted, attachments, raw, received_at)
        VALUES ($1, 't', 'AMAZON', $1, 's', 'b', '', '[]', '', $2)
        """,
        f"e-{name}",
        at,
    )
    await pool.execute(
        """
        INSERT INTO poller_ticket_messages (id, ticket_id, tenant_id, external_message_id,
            direction, body, received_at)
        VALUES ($1, $2, 't', $3, $4, 'b', $5)
        """,
        name,
        ticket,
        f"e-{name}",
        direction,
        at,
    )


async def _reply(pool: asyncpg.Pool, ticket: str, name: str, at: datetime, status: str) -> None:
    await _message(pool, ticket, name, "OUTBOUND", at)
    await pool.execute(
        """
        INSERT INTO poller_replies (ticket_message_id, tenant_id, ticket_id, external_message_id,
            message_id, envelope_sender, recipient, status, sent_at)
        VALUES ($1, 't', $2, $3, $1, 'a@x', 'b@x', $4, $5)
        """,
        name,
        ticket,
        f"e-{name}",
        status,
        at if status == "SENT" else None,
    )


async def test_existing_tickets_get_their_deadline(
    make_database: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    pool = await migrated_before(make_database, tmp_path, 6)
    try:
        for ticket in ("waiting", "answered", "failed", "untouched"):
            await pool.execute(
                """
                INSERT INTO poller_tickets (id, tenant_id, marketplace, thread_key, subject,
                    last_message_at)
                VALUES ($1, 't', 'AMAZON', $1, 's', $2)
                """,
                ticket,
                T0,
            )
        await _message(pool, "waiting", "w1", "INBOUND", T0)
        await _reply(pool, "waiting", "w2", T0 + HOUR, "SENT")
        await _message(pool, "waiting", "w3", "INBOUND", T0 + 2 * HOUR)
        await _message(pool, "waiting", "w4", "INBOUND", T0 + 3 * HOUR)
        await _message(pool, "answered", "a1", "INBOUND", T0)
        await _reply(pool, "answered", "a2", T0 + HOUR, "SENT")
        await _message(pool, "failed", "f1", "INBOUND", T0)
        await _reply(pool, "failed", "f2", T0 + HOUR, "FAILED")

        assert await apply_migration(pool, tmp_path, "006_response_deadlines.sql") == [6]
        rows = await pool.fetch("SELECT id, response_state, respond_by FROM poller_tickets")
        found = {r["id"]: (r["response_state"], r["respond_by"]) for r in rows}
        assert found == {
            "waiting": ("AWAITING_REPLY", T0 + 2 * HOUR + 24 * HOUR),
            "answered": ("ANSWERED", None),
            "failed": ("AWAITING_REPLY", T0 + 24 * HOUR),
            "untouched": ("NO_RESPONSE_NEEDED", None),
        }
    finally:
        await pool.close()
