"""Where PostgreSQL's CPU a mail goes when the poller stores a batch: the CPU of the one
backend that runs ``store_mails`` (a unit of work a tenant's batch of parsed relay mails)
and then the outbox relay, read from ``/proc/<pid>/schedstat`` around each statement. A
one-connection pool, so every statement runs on that backend (autovacuum's workers are not
counted).

Each variant is a database of its own, stored into in turn, round after round:

- ``as-is``: the migrations and statements as they are;
- ``with-fk``: with the two foreign keys ``poller_ticket_messages`` has not (its ticket,
  its external message; migration 020): what their per-row checks cost;
- ``collate-c``: a database whose default collation is ``C`` (the dev stack's is
  ``C.UTF-8``, compared with ``strcoll``): what the text keys' comparisons cost;
- ``outbox-delete``: a published outbox row deleted at once instead of marked;
- ``outbox-hot``: the pending rows listed in a table of their own (``id``, producer, time),
  so that no index of ``event_outbox`` names ``published_at`` and its mark can be a HOT
  update (fillfactor 50: room on the page); ``outbox-queue`` the same at fillfactor 100;
- ``outbox-no-conflict``, ``outbox-unsorted``, ``outbox-no-headers``: the outbox's INSERT
  without ``ON CONFLICT``, without its ``ORDER BY``, with ``{}`` for its headers;
- ``unsorted``: the ticket messages' INSERT without its ``ORDER BY``;
- ``tickets-no-<index>``: ``poller_tickets`` without that one of its secondary indexes
  (``listing``, ``marketplace``, ``deadlines``, ``awaiting``), and ``tickets-no-secondary``
  without all four: what each costs a new ticket (the key and unique indexes stay).

``BENCH_MAIL_STORE_BACKEND_VARIANTS`` (``as-is,with-fk,collate-c``), ``_ROUNDS`` (3); 100
batches of 100 mails a round (``bench_mail_store``'s).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import asyncpg
import nats
from keybuzz_poller.reading.relay_mail import RelayMail
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.tickets import store
from keybuzz_poller.tickets.from_mails import StoreCounts, store_mails
from keybuzz_poller.tickets.ports import ExternalMessageRow, TicketMessageRow, TicketRow
from keybuzz_shared import outbox
from keybuzz_shared.db import SHARED_MIGRATIONS, apply_migrations
from keybuzz_shared.uow import StoreUnit, UnitOfWork

from bench.bench_mail_store import _batches, _relay_all
from bench.harness import BenchContext, Figure

VARIANTS = os.environ.get("BENCH_MAIL_STORE_BACKEND_VARIANTS", "as-is,with-fk,collate-c").split(",")
ROUNDS = int(os.environ.get("BENCH_MAIL_STORE_BACKEND_ROUNDS", "3"))
# The two foreign keys migration 020 drops from poller_ticket_messages.
_WITH_FK = [
    "ALTER TABLE poller_ticket_messages ADD CONSTRAINT poller_ticket_messages_ticket_id_fkey"
    " FOREIGN KEY (ticket_id) REFERENCES poller_tickets (id)",
    "ALTER TABLE poller_ticket_messages"
    " ADD CONSTRAINT poller_ticket_messages_external_message_id_fkey"
    " FOREIGN KEY (external_message_id) REFERENCES poller_external_messages (id)",
]
_SCHEMA_CHANGES = {
    "with-fk": _WITH_FK,
    "outbox-hot": [
        "ALTER TABLE event_outbox SET (fillfactor = 50)",
        "CREATE TABLE event_outbox_pending (id bigint PRIMARY KEY, producer text NOT NULL,"
        " created_at timestamptz NOT NULL)",
        "DROP INDEX event_outbox_pending_age",
    ],
}
_SCHEMA_CHANGES["outbox-queue"] = _SCHEMA_CHANGES["outbox-hot"][1:]
_TICKET_INDEXES = ("listing", "marketplace", "deadlines", "awaiting")
for _index in _TICKET_INDEXES:
    _SCHEMA_CHANGES[f"tickets-no-{_index}"] = [f"DROP INDEX poller_tickets_{_index}"]
_SCHEMA_CHANGES["tickets-no-secondary"] = [
    f"DROP INDEX poller_tickets_{index}" for index in _TICKET_INDEXES
]
_OUTBOX_SQL = {
    "outbox-hot": {
        "_INSERT": f"""WITH o AS ({outbox._INSERT} RETURNING id, producer, created_at)
            INSERT INTO event_outbox_pending SELECT id, producer, created_at FROM o""",
        "_PENDING": "SELECT o.id, o.subject, o.payload, o.headers FROM event_outbox_pending p"
        " JOIN event_outbox o ON o.id = p.id WHERE p.producer = $1 ORDER BY p.id LIMIT $2",
        "_MARK_PUBLISHED": """WITH done AS (
            DELETE FROM event_outbox_pending WHERE id = ANY($1::bigint[]) RETURNING id)
            UPDATE event_outbox o SET published_at = now(), attempts = attempts + 1
            FROM done WHERE o.id = done.id""",
    },
    "outbox-queue": {},
    "outbox-no-conflict": {
        "_INSERT": outbox._INSERT.replace("ON CONFLICT (event_id) DO NOTHING", "")
    },
    "outbox-unsorted": {
        "_INSERT": outbox._INSERT.replace("WITH ORDINALITY", "")
        .replace(", position)", ")")
        .replace("ORDER BY position", "")
    },
    "outbox-no-headers": {"_INSERT": outbox._INSERT.replace("headers::jsonb", "'{}'::jsonb")},
    "outbox-delete": {"_MARK_PUBLISHED": "DELETE FROM event_outbox WHERE id = ANY($1::bigint[])"},
}
_OUTBOX_SQL["outbox-queue"] = _OUTBOX_SQL["outbox-hot"]
_OUTBOX_AS_IS = {name: getattr(outbox, name) for name in ("_INSERT", "_PENDING", "_MARK_PUBLISHED")}


_TICKET_MESSAGES_AS_IS = store._INSERT_TICKET_MESSAGES
_TICKET_MESSAGES = {
    "unsorted": _TICKET_MESSAGES_AS_IS.replace(" WITH ORDINALITY AS m", "").replace(
        "ORDER BY m.ordinality", ""
    )
}


def _outbox_sql(variant: str) -> None:
    for name, sql in {**_OUTBOX_AS_IS, **_OUTBOX_SQL.get(variant, {})}.items():
        setattr(outbox, name, sql)
    store._INSERT_TICKET_MESSAGES = _TICKET_MESSAGES.get(variant, _TICKET_MESSAGES_AS_IS)


T = TypeVar("T")
STEPS = ("external messages", "tickets", "ticket messages", "outbox rows", "commit", "relay")


def _cpu(pid: int) -> float:
    """The process's time on a CPU, in seconds (the scheduler's count, to the nanosecond:
    ``/proc/<pid>/stat``'s ticks are 10 ms, a few batches' worth)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


class _Backend:
    """The backend's CPU spent by each step, summed."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.spent = dict.fromkeys(STEPS, 0.0)

    async def timed(self, step: str, call: Awaitable[T]) -> T:
        before = _cpu(self.pid)
        result = await call
        self.spent[step] += _cpu(self.pid) - before
        return result


class _Measured(store.PostgresTickets):
    """The store, each write's backend CPU counted."""

    def __init__(self, db: asyncpg.Connection, backend: _Backend) -> None:
        super().__init__(db)
        self.backend = backend

    async def insert_external_messages(self, rows: Sequence[ExternalMessageRow]) -> set[str]:
        return await self.backend.timed("external messages", super().insert_external_messages(rows))

    async def upsert_tickets(self, tickets: Sequence[TicketRow]) -> dict[tuple[str, str], str]:
        return await self.backend.timed("tickets", super().upsert_tickets(tickets))

    async def insert_ticket_messages(self, messages: Sequence[TicketMessageRow]) -> None:
        await self.backend.timed("ticket messages", super().insert_ticket_messages(messages))


async def _database(ctx: BenchContext, variant: str) -> tuple[asyncpg.Pool, int]:
    name = f"backend_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(f"{ctx.postgres_url}/postgres")
    try:
        collation = "TEMPLATE template0 LC_COLLATE 'C'" if variant == "collate-c" else ""
        await conn.execute(f'CREATE DATABASE "{name}" {collation}')
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(f"{ctx.postgres_url}/{name}", min_size=1, max_size=1)
    assert pool is not None and DEFINITION.migrations is not None
    await apply_migrations(pool, "keybuzz_shared", SHARED_MIGRATIONS)
    await apply_migrations(pool, DEFINITION.name, DEFINITION.migrations)
    for statement in _SCHEMA_CHANGES.get(variant, []):
        await pool.execute(statement)
    return pool, await pool.fetchval("SELECT pg_backend_pid()")


async def _store(
    pool: asyncpg.Pool, pid: int, batches: list[tuple[str, list[RelayMail]]]
) -> dict[str, float]:
    """The batches stored as a poll stores them (``uow.unit_of_work``), step by step."""
    backend = _Backend(pid)
    for tenant_id, mails in batches:
        async with pool.acquire() as conn:
            unit = UnitOfWork(conn)
            transaction = conn.transaction()
            await transaction.start()
            tickets = _Measured(conn, backend)
            writes = StoreUnit(tickets, unit.events)
            await store_mails(tickets, writes, tenant_id, mails, StoreCounts(), datetime.now(UTC))
            await writes.settle()
            await backend.timed("outbox rows", outbox.enqueue_many(conn, "poller", unit.events))
            await backend.timed("commit", transaction.commit())
    return backend.spent


async def run(ctx: BenchContext) -> list[Figure]:
    databases = {variant: await _database(ctx, variant) for variant in VARIANTS}
    nc = await nats.connect(ctx.nats_url)
    relays = {
        v: outbox.OutboxRelay(pool, "poller", lambda: nc) for v, (pool, _) in databases.items()
    }
    spent: dict[str, list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
    try:
        for variant, (pool, pid) in databases.items():  # warm: plans cached, tables not empty
            _outbox_sql(variant)
            await _store(pool, pid, _batches(f"warm-{variant}"))
            await _relay_all(relays[variant])
        for n in range(ROUNDS):
            for variant, (pool, pid) in databases.items():
                _outbox_sql(variant)
                batches = _batches(f"{variant}{n}-{uuid.uuid4().hex[:6]}")
                steps = await _store(pool, pid, batches)
                before = _cpu(pid)
                assert await _relay_all(relays[variant]) == sum(len(m) for _, m in batches)
                steps["relay"] = _cpu(pid) - before
                mails = sum(len(m) for _, m in batches)
                spent[variant].append({k: v * 1e6 / mails for k, v in steps.items()})
        updates = {
            v: await pool.fetchrow(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                " WHERE relname = 'event_outbox'"
            )
            for v, (pool, _) in databases.items()
        }
    finally:
        _outbox_sql("as-is")
        await nc.close()
        for pool, _ in databases.values():
            await pool.close()
    return [
        figure
        for variant in VARIANTS
        for figure in _figures(variant, spent[variant], updates[variant])
    ]


def _figures(variant: str, rounds: list[dict[str, float]], updates: asyncpg.Record) -> list[Figure]:
    totals = [sum(r.values()) for r in rounds]
    best = rounds[totals.index(min(totals))]
    means = {step: sum(r[step] for r in rounds) / len(rounds) for step in best}
    return [
        {
            "name": f"{variant}: PostgreSQL backend CPU a mail, store + relay",
            "value": min(totals),
            "unit": "µs",
            "note": f"least of {len(rounds)}: {', '.join(f'{t:.0f}' for t in totals)}; "
            f"that round: {', '.join(f'{k} {v:.1f}' for k, v in best.items())}; "
            f"mean of the rounds {sum(totals) / len(totals):.1f}: "
            f"{', '.join(f'{k} {v:.1f}' for k, v in means.items())}; "
            f"outbox rows updated {updates['n_tup_upd']}, of them HOT {updates['n_tup_hot_upd']}",
        }
    ]
