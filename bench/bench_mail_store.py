"""The poller's writes for a batch of relay mails, alone: ``store_mails`` in a unit of work
(external messages, tickets, ticket messages, the outbox rows), against PostgreSQL, with
the mails parsed beforehand. CPU per mail of this process and of PostgreSQL, for each
SQL shape of the ticket messages' INSERT, the shapes taking turns in the same run:

- ``linked``: ``tickets.store``'s, a link to the external message (its body and time
  stay there: migration 021). Until 2026-11-27 two shapes took turns here, the body sent
  and stored a second time or read back from the external message (docs/BENCHMARKS.md).

Then the outbox relay publishing those rows to JetStream, for each way of recording that
a row was published, taking turns likewise:

- ``update``: ``published_at`` set (``keybuzz_shared.outbox``; the row is kept 7 days);
- ``delete``: the row deleted at once.

``BENCH_MAIL_STORE_TENANTS`` × ``BENCH_MAIL_STORE_MAILS`` mails a round (defaults 100 × 100,
one batch a tenant as a poll stores them), ``BENCH_MAIL_STORE_ROUNDS`` rounds a shape.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
import nats
from keybuzz_poller.reading.relay_mail import RelayMail, parse
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.tickets import store
from keybuzz_poller.tickets.from_mails import StoreCounts, store_mails
from keybuzz_shared import outbox
from keybuzz_shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from keybuzz_shared.uow import store_unit_of_work, unit_of_work

from bench.bench_poller import _mail, _tenant
from bench.harness import BenchContext, Figure, cpu_seconds_by_program, cpu_spent

TENANTS = int(os.environ.get("BENCH_MAIL_STORE_TENANTS", "100"))
MAILS = int(os.environ.get("BENCH_MAIL_STORE_MAILS", "100"))
ROUNDS = int(os.environ.get("BENCH_MAIL_STORE_ROUNDS", "3"))

MARKS = {
    "update": outbox._MARK_PUBLISHED,
    "delete": "DELETE FROM event_outbox WHERE id = ANY($1::bigint[])",
}


def _batches(label: str) -> list[tuple[str, list[RelayMail]]]:
    """Each tenant's batch, parsed (the parse is not measured); Message-IDs new each call."""
    batches = []
    for i in range(TENANTS):
        tenant_id, address = _tenant(i)
        mails = [parse(_mail(address, i * MAILS + m)) for m in range(MAILS)]
        batches.append((f"{label}-{tenant_id}", mails))
    return batches


async def _store(pool: asyncpg.Pool, batches: list[tuple[str, list[RelayMail]]]) -> float:
    units = store_unit_of_work(
        lambda: unit_of_work(pool, "poller", lambda: None), store.PostgresTickets
    )
    start = time.perf_counter()
    for tenant_id, mails in batches:
        async with units() as unit:
            counts = StoreCounts()
            await store_mails(unit.store, unit, tenant_id, mails, counts, datetime.now(UTC))
            assert counts.stored == len(mails), counts
    return time.perf_counter() - start


async def run(ctx: BenchContext) -> list[Figure]:
    pool = await create_pool(await ctx.make_database("mailstore"))
    await apply_migrations(pool, "keybuzz_shared", SHARED_MIGRATIONS)
    assert DEFINITION.migrations is not None
    await apply_migrations(pool, DEFINITION.name, DEFINITION.migrations)
    total = TENANTS * MAILS
    runs: list[tuple[float, float, float]] = []
    try:
        await _store(pool, _batches("warm"))
        for n in range(ROUNDS):
            batches = _batches(f"linked{n}-{uuid.uuid4().hex[:6]}")
            before = cpu_seconds_by_program()
            seconds = await _store(pool, batches)
            cpu = cpu_spent(before, cpu_seconds_by_program())
            runs.append((total / seconds, cpu["bench process"] / total, cpu["postgres"] / total))
        marks = await _relay_rounds(ctx, pool)
    finally:
        await pool.close()
    return [
        *_figures("ticket messages linked", runs),
        *(figure for name in MARKS for figure in _figures(f"outbox relay, {name}", marks[name])),
    ]


async def _relay_rounds(
    ctx: BenchContext, pool: asyncpg.Pool
) -> dict[str, list[tuple[float, float, float]]]:
    """Each round: the batches stored (not measured), then relayed with each mark in turn."""
    nc = await nats.connect(ctx.nats_url)
    relay = outbox.OutboxRelay(pool, "poller", lambda: nc)
    total = TENANTS * MAILS
    marks: dict[str, list[tuple[float, float, float]]] = {name: [] for name in MARKS}
    try:
        await _relay_all(relay)  # the earlier phase's rows
        for n in range(ROUNDS):
            for name, mark in MARKS.items():
                await _store(pool, _batches(f"relay-{name}{n}-{uuid.uuid4().hex[:6]}"))
                outbox._MARK_PUBLISHED = mark
                before = cpu_seconds_by_program()
                start = time.perf_counter()
                assert await _relay_all(relay) == total
                seconds = time.perf_counter() - start
                cpu = cpu_spent(before, cpu_seconds_by_program())
                marks[name].append(
                    (total / seconds, cpu["bench process"] / total, cpu["postgres"] / total)
                )
    finally:
        outbox._MARK_PUBLISHED = MARKS["update"]
        await nc.close()
    return marks


async def _relay_all(relay: outbox.OutboxRelay) -> int:
    published = 0
    while (done := await relay.relay_pending()).published:
        assert done.error is None, done.error
        published += done.published
    return published


def _figures(name: str, runs: list[tuple[float, float, float]]) -> list[Figure]:
    rates, mine, postgres = zip(*runs, strict=True)
    size = f"{TENANTS} batches of {MAILS} mails"

    def listed(values: Sequence[float], scale: float) -> str:
        return ", ".join(f"{v * scale:.0f}" for v in values)

    return [
        {
            "name": f"{name}: mails/s",
            "value": max(rates),
            "unit": "mails/s",
            "note": f"{size}; best of {ROUNDS}: {listed(rates, 1)}",
        },
        {
            "name": f"{name}: CPU per mail, this process",
            "value": min(mine) * 1e6,
            "unit": "µs",
            "note": f"least of {ROUNDS}: {listed(mine, 1e6)}",
        },
        {
            "name": f"{name}: CPU per mail, PostgreSQL",
            "value": min(postgres) * 1e6,
            "unit": "µs",
            "note": f"least of {ROUNDS}: {listed(postgres, 1e6)}",
        },
    ]
