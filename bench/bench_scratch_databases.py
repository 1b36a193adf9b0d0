"""What a test's service database costs the suite (``keybuzz_devstack.testing.start_on_stack``).

Before: an empty database the service migrated at its start, and an empty product
database, whichever the service. Now: a file_copy of a template its migrations were applied
to once, on which the service's start finds nothing left to apply (product database for
tenant-sync alone). CPU of this process (asyncpg, the migrations' reading) and of
PostgreSQL (the postmaster, its exited backends and its live children, from /proc), a
database of each of the four services a round, rounds alternated; and an empty database
copied with each strategy (``STRATEGY wal_log``, PostgreSQL's default, and ``file_copy``).
Autovacuum is off while it runs: its visits to the databases of earlier rounds landed in
whichever round was running (PostgreSQL's CPU a round went 422 → 112 ms over five). Its
own cost a database, not counted here: 100 databases migrated from empty (the poller's),
then idle, cost PostgreSQL 5.8 + 1.2 CPU-s in the next two minutes (an analyze of the
catalogs the migrations changed); 100 copies of its template, migrations found applied,
0.2 + 0.6.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import asyncpg
from keybuzz_devstack import bootstrap
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC

from bench.harness import BenchContext, Figure

DEFINITIONS = (ORDERS, POLLER, OAUTH, TENANT_SYNC)
ROUNDS = 5
EMPTY_COPIES = 20
TICK = os.sysconf("SC_CLK_TCK")


def _postgres_cpu(postmaster: int) -> float:
    """CPU-seconds of the server: the postmaster, its children reaped, its children alive."""

    def stat(pid: str | int) -> list[str]:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

    total = sum(int(x) for x in stat(postmaster)[11:15])
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = stat(entry)
            except OSError:
                continue
            if fields[1] == str(postmaster):
                total += int(fields[11]) + int(fields[12])
    return total / TICK


async def _migrate(url: str, definition: object) -> None:
    """What a service's start does to its database (``keybuzz_shared.service``)."""
    pool = await create_pool(url, max_size=2)
    try:
        await apply_migrations(pool, "keybuzz_shared", SHARED_MIGRATIONS)
        await apply_migrations(pool, definition.name, definition.migrations)  # type: ignore[attr-defined]
    finally:
        await pool.close()


async def _before(ctx: BenchContext, definition: object) -> None:
    url = await _create(ctx.postgres_url, "before", "template1", "wal_log")
    await _create(ctx.postgres_url, "product", "template1", "wal_log")
    await _migrate(url, definition)


async def _after(ctx: BenchContext, definition: object) -> None:
    migrations = {
        "keybuzz_shared": SHARED_MIGRATIONS,
        definition.name: definition.migrations,  # type: ignore[attr-defined]
    }
    url = await bootstrap.create_scratch_database(ctx.postgres_url, "after", migrations)
    if definition is TENANT_SYNC:
        await bootstrap.create_scratch_database(ctx.postgres_url, "product")
    await _migrate(url, definition)


async def _create(server: str, label: str, template: str, strategy: str) -> str:
    name = f"{label}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY {strategy}')
    finally:
        await conn.close()
    return f"{server}/{name}"


async def run(ctx: BenchContext) -> list[Figure]:
    postmaster = int((ctx.root / "pg" / "data" / "postmaster.pid").read_text().split()[0])
    await _autovacuum(ctx, "off")
    try:
        return await _measured(ctx, postmaster)
    finally:
        await _autovacuum(ctx, "on")


async def _autovacuum(ctx: BenchContext, state: str) -> None:
    conn = await asyncpg.connect(f"{ctx.postgres_url}/postgres")
    try:
        await conn.execute(f"ALTER SYSTEM SET autovacuum = {state}")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def _measured(ctx: BenchContext, postmaster: int) -> list[Figure]:
    for definition in DEFINITIONS:  # the templates made, outside the figures
        await _after(ctx, definition)
    spent: dict[str, list[tuple[float, float]]] = {}

    async def measure(name: str, action: object, count: int) -> None:
        python, server = time.process_time(), _postgres_cpu(postmaster)
        for _ in range(count):
            await action()  # type: ignore[operator]
        python, server = time.process_time() - python, _postgres_cpu(postmaster) - server
        spent.setdefault(name, []).append((python * 1e3 / count, server * 1e3 / count))

    for _ in range(ROUNDS):
        for name, how in (("before", _before), ("after", _after)):

            async def four(how: object = how) -> None:
                for definition in DEFINITIONS:
                    await how(ctx, definition)  # type: ignore[operator]

            await measure(f"a service's databases, {name}", four, 1)
        for strategy in ("wal_log", "file_copy"):

            async def empty(strategy: str = strategy) -> None:
                await _create(ctx.postgres_url, "empty", "template1", strategy)

            await measure(f"an empty database, {strategy}", empty, EMPTY_COPIES)
    figures: list[Figure] = []
    for name, rounds in spent.items():
        per = len(DEFINITIONS) if name.startswith("a service") else 1
        python = sorted(p / per for p, _ in rounds)[len(rounds) // 2]
        server = sorted(s / per for _, s in rounds)[len(rounds) // 2]
        figures.append(
            {
                "name": f"{name}: python + PostgreSQL CPU",
                "value": python + server,
                "unit": "ms a service" if per > 1 else "ms a database",
                "note": f"median of {ROUNDS} rounds: python {python:.1f} ms, PostgreSQL "
                f"{server:.1f} ms; PostgreSQL's by round "
                f"{', '.join(f'{s / per:.0f}' for _, s in rounds)}",
            }
        )
    return figures
