"""Outbox relay throughput: rows committed → acknowledged by JetStream → marked published.

Next to it, in the same run, raw pipelined JetStream publishing (nats-py
``publish_async``, every ack awaited) of the same number of messages with the
same headers to a stream configured like ours (file storage, de-duplication
window): the relay's ceiling, since it adds one SELECT and one UPDATE per batch
and a transaction holding the producer's advisory lock.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import nats
from keybuzz_shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from keybuzz_shared.events import TenantArchived, encode_event
from keybuzz_shared.outbox import BATCH_SIZE, OutboxRelay, backlog, enqueue_many, publish_headers
from keybuzz_shared.streams import ensure_streams, stream_config

from bench.harness import BenchContext, Figure

EVENTS = 20_000
ROUNDS = 3
TENANTS = 50
PRODUCER = "bench"


async def run(ctx: BenchContext) -> list[Figure]:
    nc = await nats.connect(ctx.nats_url)
    pool = await create_pool(await ctx.make_database("outbox"))
    try:
        await ensure_streams(nc.jetstream())
        await apply_migrations(pool, "keybuzz_shared", SHARED_MIGRATIONS)
        # Interleaved, best of ROUNDS each: other work on a shared machine hits every figure.
        raws, windowed, enqueues, relays, relay_cpu = [], [], [], [], []
        for _ in range(ROUNDS):
            raws.append(await _raw_pipelined_publish_rate(nc, EVENTS, window=EVENTS))
            windowed.append(await _raw_pipelined_publish_rate(nc, EVENTS, window=BATCH_SIZE))
            enqueues.append(EVENTS / await _enqueue(pool, EVENTS))
            cpu_before = time.process_time()
            relays.append(await _relay_rate(pool, nc, EVENTS))
            relay_cpu.append((time.process_time() - cpu_before) * 1e6 / EVENTS)
        raw, raw_windowed, enqueue, relay = max(raws), max(windowed), max(enqueues), max(relays)
    finally:
        await pool.close()
        await nc.close()
    return [
        {
            "name": "raw JetStream pipelined publish",
            "value": raw,
            "unit": "msg/s",
            "note": f"{EVENTS:,} publish_async with Nats-Msg-Id, then all acks "
            f"(nats-py keeps at most 4,000 in flight); best of {ROUNDS}: "
            f"{', '.join(f'{r:.0f}' for r in raws)}",
        },
        {
            "name": f"raw JetStream publish, windows of {BATCH_SIZE}",
            "value": raw_windowed,
            "unit": "msg/s",
            "baseline": raw,
            "note": "the relay's shape without the database: a batch in flight, then its acks",
        },
        {
            "name": "outbox enqueue (one unit of work)",
            "value": enqueue,
            "unit": "rows/s",
            "note": f"{EVENTS:,} events in one transaction (enqueue_many)",
        },
        {
            "name": "outbox relay (committed → published)",
            "value": relay,
            "unit": "events/s",
            "baseline": raw,
            "note": f"{EVENTS:,} pending rows of {TENANTS} tenants; batches of {BATCH_SIZE}; "
            f"best of {ROUNDS}: {', '.join(f'{r:.0f}' for r in relays)}",
        },
        {
            # Less swamped by other load than the rate: the relay's own work, its SQL's
            # client side and nats-py's, an event.
            "name": "outbox relay: CPU per event in this process",
            "value": min(relay_cpu),
            "unit": "µs",
            "note": f"least of {ROUNDS}: {', '.join(f'{c:.1f}' for c in relay_cpu)}",
        },
    ]


def _events(count: int) -> list[TenantArchived]:
    return [TenantArchived(tenant_id=f"bench-{i % TENANTS}", reason=str(i)) for i in range(count)]


async def _raw_pipelined_publish_rate(nc: nats.NATS, count: int, window: int) -> float:
    js = nc.jetstream()
    stream = f"BENCH_{uuid.uuid4().hex[:6]}"
    await js.add_stream(stream_config(stream, [f"{stream}.>"]))
    messages = [(encode_event(e), publish_headers(e)) for e in _events(count)]
    try:
        start = time.perf_counter()
        for first in range(0, count, window):
            acks = [
                await js.publish_async(f"{stream}.x", body, headers=headers)
                for body, headers in messages[first : first + window]
            ]
            await asyncio.gather(*acks)
        return count / (time.perf_counter() - start)
    finally:
        await js.delete_stream(stream)


async def _enqueue(pool: asyncpg.Pool, count: int) -> float:
    events = _events(count)
    start = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_many(conn, PRODUCER, events)
    return time.perf_counter() - start


async def _relay_rate(pool: asyncpg.Pool, nc: nats.NATS, count: int) -> float:
    relay = OutboxRelay(pool, PRODUCER, lambda: nc)
    start = time.perf_counter()
    relay.start()
    relay.wake()
    try:
        # Polling the backlog is the measurement: 0 pending is the end of the relay's work.
        while (await backlog(pool, PRODUCER))[0]:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        seconds = time.perf_counter() - start
    finally:
        await relay.stop()
    return count / seconds
