"""What writing a unit of work's events into the outbox costs, this process and its
PostgreSQL backend, each way in turn, round after round, in transactions of 100
``message.received`` events (a tenant's batch in ``bench_poller``):

- ``as-is``: ``outbox.enqueue_many`` (one array a column);
- ``records``: the same rows as one array of the table's own row type (``event_outbox``),
  which asyncpg checks four times a row against ``collections.abc``, not twice a field;
- ``trace-only``: as-is with only the trace context for headers (``{}`` without one), the
  relay to add ``Nats-Msg-Id`` and the type from the row's columns.

This process's CPU is ``time.process_time`` around the INSERT (asyncpg's encoding of the
arrays most of it); the backend's is ``/proc/<pid>/schedstat`` of the one-connection pool.
``BENCH_OUTBOX_ROWS_BATCHES`` (200) batches a round, ``_ROUNDS`` (5).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec
from keybuzz_shared import outbox, tracing
from keybuzz_shared.db import SHARED_MIGRATIONS, apply_migrations
from keybuzz_shared.events import Event, MessageReceived, encode_event, event_headers
from keybuzz_shared.ids import uuid7_strings

from bench.harness import BenchContext, Figure

BATCHES = int(os.environ.get("BENCH_OUTBOX_ROWS_BATCHES", "200"))
ROUNDS = int(os.environ.get("BENCH_OUTBOX_ROWS_ROUNDS", "5"))
EVENTS = 100

_COLUMNS_INSERT = outbox._INSERT
_RECORDS_INSERT = """
INSERT INTO event_outbox (producer, event_id, subject, payload, headers, partition_key)
SELECT producer, event_id, subject, payload, headers, partition_key
FROM unnest($1::event_outbox[]) WITH ORDINALITY AS e
ORDER BY e.ordinality
ON CONFLICT (event_id) DO NOTHING
"""


async def _records(conn: asyncpg.Connection, producer: str, events: Sequence[Event]) -> None:
    """The rows as records of ``event_outbox``, its columns in order (id, producer,
    event_id, subject, payload, created_at, published_at, attempts, last_error, headers,
    partition_key)."""
    trace = tracing.trace_headers()
    await conn.execute(
        _RECORDS_INSERT,
        [
            (
                None,
                producer,
                e.event_id,
                e.type,
                encode_event(e),
                None,
                None,
                None,
                None,
                msgspec.json.encode({**trace, **event_headers(e)}).decode(),
                e.tenant_id,
            )
            for e in events
        ],
    )


async def _trace_only(conn: asyncpg.Connection, producer: str, events: Sequence[Event]) -> None:
    """As-is, the headers only the trace context (``{}`` without one)."""
    headers = msgspec.json.encode(tracing.trace_headers()).decode()
    await conn.execute(
        _COLUMNS_INSERT,
        producer,
        [e.event_id for e in events],
        [e.type for e in events],
        [encode_event(e) for e in events],
        [headers] * len(events),
        [e.tenant_id for e in events],
    )


WAYS: dict[str, Callable[[asyncpg.Connection, str, Sequence[Event]], Awaitable[None]]] = {
    "as-is": outbox.enqueue_many,
    "records": _records,
    "trace-only": _trace_only,
}


def _backend_cpu(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def _batch(n: int) -> list[Event]:
    tenant = f"tenant-{n % 1000:04d}"
    now = datetime.now(UTC)
    return [
        MessageReceived(
            event_id=event_id,
            tenant_id=tenant,
            marketplace="AMAZON",
            external_message_id=str(uuid.uuid4()),
            ticket_id=str(uuid.uuid4()),
            ticket_message_id=str(uuid.uuid4()),
            inbound_address=f"{tenant}@in.keybuzz.test",
            order_id="402-1234567-7654321",
            received_at=now,
            preview="Bonjour, où en est ma commande 402-1234567-7654321 ? Merci.",
            language="fr",
            language_source="detected",
            topic="WHERE_IS_MY_ORDER",
            topic_source="detected",
        )
        for event_id in uuid7_strings(EVENTS)
    ]


async def run(ctx: BenchContext) -> list[Figure]:
    pool = await asyncpg.create_pool(await ctx.make_database("outbox-rows"), min_size=1, max_size=1)
    assert pool is not None
    spent: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
    try:
        await apply_migrations(pool, "keybuzz_shared", SHARED_MIGRATIONS)
        pid = await pool.fetchval("SELECT pg_backend_pid()")
        async with pool.acquire() as conn:
            for n in range(ROUNDS + 1):  # the first round warms up, unmeasured
                for way, write in WAYS.items():
                    batches = [_batch(b) for b in range(BATCHES)]
                    client = backend = 0.0
                    for events in batches:
                        async with conn.transaction():
                            before = (time.process_time(), _backend_cpu(pid))
                            await write(conn, "poller", events)
                            client += time.process_time() - before[0]
                            backend += _backend_cpu(pid) - before[1]
                    if n:
                        total = BATCHES * EVENTS
                        spent[way].append((client * 1e6 / total, backend * 1e6 / total))
    finally:
        await pool.close()
    return [
        {
            "name": f"{way}: CPU an event, this process / PostgreSQL backend",
            "value": min(c for c, _ in rounds),
            "unit": "µs",
            "note": "rounds (this process / backend): "
            + ", ".join(f"{c:.2f} / {b:.2f}" for c, b in rounds),
        }
        for way, rounds in spent.items()
    ]
