"""Starts the embedded stack on free ports and measures the baselines every figure is compared to.

Machines here are noisy, so a figure alone means little: each benchmark reports
its number next to raw JetStream and PostgreSQL rates measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import nats
from keybuzz_devstack import bootstrap, infra
from keybuzz_shared.events import InboundAddressInfo, TenantSynced
from nats.js.api import StreamConfig


@dataclass
class BenchContext:
    nats_url: str
    postgres_url: str  # server URL, no database
    vault_addr: str
    root: Path

    async def make_database(self, label: str = "bench") -> str:
        return await bootstrap.create_scratch_database(self.postgres_url, label)


Figure = dict[str, Any]  # name, value, unit, and optionally baseline, note


def start_stack(root: Path) -> tuple[BenchContext, list[infra.RunningServer]]:
    servers = [
        infra.RunningServer(infra.nats_spec(root / "nats", infra.free_port()), root / "nats.log"),
        infra.RunningServer(_postgres_spec(root), root / "pg.log"),
        infra.RunningServer(infra.openbao_spec(infra.free_port()), root / "bao.log"),
    ]
    for server in servers:
        server.start(timeout=60)
    nats_server, pg, vault = servers
    infra.provision_streams(nats_server.spec.url)  # the services only wait for their streams
    bootstrap.seed_vault(vault.spec.url, infra.DEV_VAULT_ROOT_TOKEN)
    return BenchContext(nats_server.spec.url, pg.spec.url, vault.spec.url, root), servers


# BENCH_STATEMENTS=1: PostgreSQL counts each statement (``pg_stat_statements``), for a
# bench that breaks its figures down by statement; off by default, as it costs a little.
STATEMENTS = os.environ.get("BENCH_STATEMENTS", "") == "1"


def _postgres_spec(root: Path) -> infra.ServerSpec:
    spec = infra.postgres_spec(root / "pg" / "data", infra.free_port())
    if STATEMENTS:
        spec.command += [
            "-c",
            "shared_preload_libraries=pg_stat_statements",
            # Nested statements too: the foreign keys' checks a row, a function's queries.
            "-c",
            "pg_stat_statements.track=all",
        ]
    return spec


async def timed(action: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await action()
    return time.perf_counter() - start


async def jetstream_round_trip_rate(nats_url: str, count: int) -> float:
    """Messages per second: publish ``count`` to a stream, then consume and ack them all."""
    return (await jetstream_round_trip(nats_url, count)).rate


@dataclass
class JetStreamRoundTrip:
    """``jetstream_round_trip``'s measure: the rate, and the CPU seconds each program
    (``cpu_spent_by_process``) spent in each of its two phases."""

    rate: float  # messages a second, the first publish to the last ack
    publish_cpu: dict[str, float]  # publishing every message, each one's ack awaited
    consume_cpu: dict[str, float]  # fetching them all and acking each


async def jetstream_round_trip(nats_url: str, count: int) -> JetStreamRoundTrip:
    """Publish ``count`` messages to a stream, then consume and ack them all: the rate over
    both, and the CPU each program spent in each (read between the phases, off the clock)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = f"BENCH_{uuid.uuid4().hex[:6]}"
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{stream}.>"]))
    try:

        async def publish() -> None:
            acks = [js.publish_async(f"{stream}.x", b'{"n":1}') for _ in range(count)]
            await asyncio.gather(*[await a for a in acks])

        async def consume() -> None:
            sub = await js.pull_subscribe(f"{stream}.>", durable="bench", stream=stream)
            received = 0
            while received < count:
                batch = await sub.fetch(min(256, count - received), timeout=5)
                await asyncio.gather(*(m.ack() for m in batch))
                received += len(batch)

        before = cpu_seconds_by_process()
        seconds = await timed(publish)
        published = cpu_seconds_by_process()
        seconds += await timed(consume)
        consumed = cpu_seconds_by_process()
    finally:
        await js.delete_stream(stream)
        await nc.close()
    return JetStreamRoundTrip(
        count / seconds,
        cpu_spent_by_process(before, published),
        cpu_spent_by_process(published, consumed),
    )


async def postgres_batched_insert_rate(database_url: str, count: int) -> float:
    """Rows per second inserted with one executemany of ``count`` rows."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_rows (id text PRIMARY KEY, v int)")
        rows = [(uuid.uuid4().hex, i) for i in range(count)]
        seconds = await timed(
            lambda: conn.executemany("INSERT INTO bench_rows (id, v) VALUES ($1, $2)", rows)
        )
        await conn.execute("DROP TABLE bench_rows")
    finally:
        await conn.close()
    return count / seconds


def tenant_synced(tenant_id: str, address: str, marketplace: str = "AMAZON") -> TenantSynced:
    """tenant-sync's event for an active tenant with one active FR inbound address."""
    return TenantSynced(
        tenant_id=tenant_id,
        name="Bench",
        plan="PRO",
        status="ACTIVE",
        occurred_at=datetime.now(UTC),
        inbound_addresses=[
            InboundAddressInfo(
                marketplace=marketplace, country="FR", email=address, status="ACTIVE"
            )
        ],
    )


# Polls are read back to this much before the newest seen: commits land out of order
# (last_poll_at is when a poll's transaction started).
_POLLS_MARGIN = timedelta(seconds=30)


async def sample_poll_lags(
    db: Any,
    interval: float,
    duration: float,
    started: datetime,
    every: float = 0.5,
    on_sample: Callable[[], None] = lambda: None,
    table: tuple[str, str] = ("poller_poll_status", "tenant_id"),
    start_lags: list[float] | None = None,
    where: str = "true",
) -> tuple[list[float], int]:
    """The poller's polls for ``duration`` s: the lag of every poll completed since
    ``started`` (completed − scheduled), and how many lost their place. ``table``: the
    schedule's table and key column (the shops': ``("poller_shops", "poll_key")``);
    ``start_lags``, if given, gets the same polls' start lags (claimed − scheduled);
    ``where``: an SQL condition on the rows sampled (all by default).

    A successful poll sets ``last_poll_at`` (completion) and ``last_due_at`` (when it was
    scheduled); a poll later than a whole interval is counted apart. Read
    every ``every`` s, incrementally (so a read stays small at 20,000 tenants);
    ``on_sample`` runs after each read.
    """
    name, key_column = table
    seen: dict[tuple[str, datetime], float] = {}
    started_at: dict[tuple[str, datetime], float] = {}
    displaced: set[tuple[str, datetime]] = set()
    since = started
    loop = asyncio.get_running_loop()
    end = loop.time() + duration
    while loop.time() < end:
        rows = await db.fetch(
            f"""
            SELECT {key_column} AS key, last_poll_at,
                   extract(epoch FROM last_poll_at - last_due_at)::float8 AS lag,
                   extract(epoch FROM claimed_at - last_due_at)::float8 AS start_lag
            FROM {name} WHERE last_poll_at > $1 AND last_due_at IS NOT NULL AND ({where})
            """,
            max(started, since - _POLLS_MARGIN),
        )
        for row in rows:
            key = (row["key"], row["last_poll_at"])
            if 0 <= row["lag"] <= interval:
                seen[key] = row["lag"]
                # The first read of a poll: a later one may see the next poll's claim.
                started_at.setdefault(key, row["start_lag"])
            else:
                displaced.add(key)
            since = max(since, row["last_poll_at"])
        on_sample()
        await asyncio.sleep(every)
    if start_lags is not None:
        start_lags.extend(started_at.values())
    return list(seen.values()), len(displaced - set(seen))


# --- CPU per program ---------------------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds_by_program() -> dict[str, float]:
    """CPU seconds (user + system) so far of this process and each of its descendants
    (the embedded servers, Dovecot's children, worker processes), summed per program.

    This process is ``"bench process"``; ``multiprocessing`` children (the poller's parse
    workers) are ``"worker processes"``; a ``python -m <module>`` child is its module
    (``keybuzz_poller``); the others go by their program (``postgres``, ``lmtp``…). The
    difference of two calls is what each spent in between (a process that ended meanwhile
    is not counted: servers and their workers outlive a measured phase).
    """
    totals: dict[str, float] = {}
    for name, seconds in cpu_seconds_by_process().values():
        totals[name] = totals.get(name, 0.0) + seconds
    return totals


def cpu_seconds_by_process() -> dict[int, tuple[str, float]]:
    """``cpu_seconds_by_program``'s processes one by one: pid → (program, CPU seconds).
    With ``cpu_spent_by_process``, a process that ended between two calls (a pooled
    connection's backend closed) takes nothing away from its program's figure."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            comm_end = stat.rindex(")")
            fields = stat[comm_end + 2 :].split()
            program = stat[stat.index("(") + 1 : comm_end]
            seconds = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
            stats[int(entry.name)] = (int(fields[1]), program, seconds)  # ppid
    mine = {os.getpid()}
    for _ in range(8):  # descendants, a few generations deep
        mine |= {pid for pid, (ppid, _, _) in stats.items() if ppid in mine}
    processes = {}
    for pid in mine & stats.keys():
        _, program, seconds = stats[pid]
        name = "bench process" if pid == os.getpid() else _named(pid, program)
        processes[pid] = (name, seconds)
    return processes


def cpu_spent_by_process(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """Seconds each program spent between two ``cpu_seconds_by_process`` calls, summed
    over the processes alive at the second (those started meanwhile: all they spent)."""
    spent: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        earlier = before.get(pid)
        since = seconds - earlier[1] if earlier and earlier[0] == name else seconds
        spent[name] = spent.get(name, 0.0) + since
    return spent


def _named(pid: int, program: str) -> str:
    try:
        command = (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return program
    if b"multiprocessing" in command:
        return "worker processes"
    arguments = command.split(b"\0")
    if b"-m" in arguments[:-1]:  # python -m keybuzz_poller: the service it runs
        return arguments[arguments.index(b"-m") + 1].decode(errors="replace")
    return program


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has been busy so far (``/proc/stat``: all but
    idle and I/O wait), whoever's process: beside ``cpu_seconds_by_program``'s, how much
    of the cores others took over a phase."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Seconds each program spent between two ``cpu_seconds_by_program`` calls."""
    return {name: after[name] - before.get(name, 0.0) for name in after}


def cpu_figures(
    prefix: str,
    cpu: dict[str, float],
    count: int,
    scale: float = 1e6,
    unit: str = "µs",
    per: str = "mail",
) -> list[Figure]:
    """``<prefix>: CPU per <per>, <program>`` for each program that spent at least 1 % of
    the total (seconds × ``scale`` / ``count``), the largest first: where the cores went."""
    total = sum(cpu.values())
    spent = sorted(((s, name) for name, s in cpu.items() if s >= total / 100), reverse=True)
    return [
        {"name": f"{prefix}: CPU per {per}, {name}", "value": s * scale / count, "unit": unit}
        for s, name in spent
    ]
