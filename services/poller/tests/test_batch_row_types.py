"""The composite types a poll's batch is written as (migration 014, ``tickets/store.py``)
hold their row struct's fields, by name and in order: asyncpg fills a record by position,
so a field moved in one and not the other would store each value in the wrong column."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
import pytest
from keybuzz_poller.tickets.ports import ExternalMessageRow, TicketMessageRow, TicketRow
from mailkit import migrated_pool

ROW_TYPES: dict[str, type[msgspec.Struct]] = {
    "poller_external_message_row": ExternalMessageRow,
    "poller_ticket_row": TicketRow,
    "poller_ticket_message_row": TicketMessageRow,
}


@pytest.mark.parametrize("type_name", ROW_TYPES)
async def test_a_batch_row_type_has_its_structs_fields_in_order(
    make_database: Callable[[str], Awaitable[str]], type_name: str
) -> None:
    pool = await migrated_pool(make_database)
    try:
        fields = await pool.fetch(
            """
            SELECT a.attname FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid
            WHERE t.typname = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """,
            type_name,
        )
    finally:
        await pool.close()
    assert [f["attname"] for f in fields] == list(ROW_TYPES[type_name].__struct_fields__)
