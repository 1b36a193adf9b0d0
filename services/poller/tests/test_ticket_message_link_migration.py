"""Migration 021 makes a ticket message a link: its body and time are read from its
external message. What the API showed before is what it shows after; what a row held that
its external message did not (an edited row, an external message gone) is kept, and goes
with its shop's tickets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from keybuzz_poller.tickets import store
from migrating import apply_migration, migrated_before

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
# The ticket messages' reads before 021 (tickets/store.py's ticket_messages): every read
# joins the external message, so a message without one was never shown.
SHOWN_BEFORE = """
SELECT m.id, m.body, m.received_at FROM poller_ticket_messages m
JOIN poller_external_messages e ON e.id = m.external_message_id
WHERE m.ticket_id = $1 ORDER BY m.seq
"""


async def _message(
    pool: asyncpg.Pool, name: str, shown: tuple[str, datetime], stored: tuple[str, datetime] | None
) -> None:
    """Ticket message ``name`` holding ``shown``; its external message holding ``stored``
    (None: no external message)."""
    if stored is not None:
        await pool.execute(
            """
            INSERT INTO poller_external_messages (id, tenant_id, marketplace, external_id,
                subject, body, quoted, attachments, raw, received_at)
            VALUES ($1, 't', 'AMAZON', $1, 's', $2, '', '[]', '', $3)
            """,
            f"e-{name}",
            *stored,
        )
    await pool.execute(
        """
        INSERT INTO poller_ticket_messages (id, ticket_id, tenant_id, external_message_id,
            body, received_at)
        VALUES ($1, 'k', 't', $2, $3, $4)
        """,
        name,
        f"e-{name}",
        *shown,
    )


async def test_a_ticket_message_shows_what_it_showed_and_loses_nothing(
    make_database: Callable[[str], Awaitable[str]], tmp_path: Path
) -> None:
    pool = await migrated_before(make_database, tmp_path, 21)
    try:
        await pool.execute(
            "INSERT INTO poller_tickets (id, tenant_id, marketplace, thread_key, subject,"
            " last_message_at) VALUES ('k', 't', 'AMAZON', 'k', 's', $1)",
            T0,
        )
        await _message(pool, "copied", ("Où est mon colis ?", T0), ("Où est mon colis ?", T0))
        await _message(pool, "edited", ("edited by hand", T0 + HOUR), ("as received", T0))
        await _message(pool, "orphan", ("its mail is gone", T0 + 2 * HOUR), None)
        before = [tuple(r) for r in await pool.fetch(SHOWN_BEFORE, "k")]

        assert await apply_migration(pool, tmp_path, "021_ticket_messages_link.sql") == [21]
        after = [(m.id, m.body, m.received_at) for m in await store.ticket_messages(pool, "k")]
        assert (
            after
            == before
            == [
                ("copied", "Où est mon colis ?", T0),
                ("edited", "edited by hand", T0 + HOUR),
            ]
        )
        columns = await pool.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'poller_ticket_messages'"
        )
        assert {"body", "received_at"}.isdisjoint(c["column_name"] for c in columns)
        kept = await pool.fetch(
            "SELECT ticket_message_id, body, received_at, kept_from"
            " FROM poller_unlinked_message_texts ORDER BY ticket_message_id"
        )
        assert [tuple(r) for r in kept] == [
            ("edited", "as received", T0, "external message replaced"),
            ("orphan", "its mail is gone", T0 + 2 * HOUR, "no external message"),
        ]

        assert await store.forget_shop_received(pool, "t", "AMAZON") == 1
        assert await pool.fetchval("SELECT count(*) FROM poller_unlinked_message_texts") == 0
    finally:
        await pool.close()
