"""Event round trip through a service: publish → durable consumer → handler → row.

Uses the platform's probe service (tests/probe_service.py), whose handler
inserts one row per event, so the figure is the frame's own overhead
(decode, dispatch, ack) on top of JetStream and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time

from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_devstack.testing import run_in_process
from keybuzz_shared.events import TenantArchived, encode_event, event_headers

from bench.harness import (
    BenchContext,
    Figure,
    jetstream_round_trip_rate,
    postgres_batched_insert_rate,
)
from tests.probe_service import DEFINITION

EVENTS = 5_000


async def run(ctx: BenchContext) -> list[Figure]:
    database = await ctx.make_database("roundtrip")
    js_rate = await jetstream_round_trip_rate(ctx.nats_url, EVENTS)
    pg_rate = await postgres_batched_insert_rate(database, EVENTS)
    service = await run_in_process(
        DEFINITION,
        {
            "NATS_URL": ctx.nats_url,
            "DATABASE_URL": database,
            "VAULT_ADDR": ctx.vault_addr,
            "VAULT_TOKEN": DEV_VAULT_ROOT_TOKEN,
            "LOG_LEVEL": "WARNING",
        },
    )
    try:
        rate = await _round_trip_rate(service, EVENTS)
    finally:
        await service.stop()
    return [
        {"name": "raw JetStream publish+consume+ack", "value": js_rate, "unit": "msg/s"},
        {"name": "raw PostgreSQL batched insert", "value": pg_rate, "unit": "rows/s"},
        {
            "name": "event round trip (publish → handler → row)",
            "value": rate,
            "unit": "events/s",
            "baseline": min(js_rate, pg_rate),
            "note": f"{EVENTS} events; one INSERT per event, ack after commit",
        },
    ]


async def _round_trip_rate(service, count: int) -> float:
    js = service.runtime.js
    pool = service.runtime.pool
    events = [TenantArchived(tenant_id=f"bench-{i}") for i in range(count)]
    start = time.perf_counter()
    acks = [
        await js.publish_async(e.type, encode_event(e), headers=event_headers(e)) for e in events
    ]
    await asyncio.gather(*acks)
    # Polling the table is the measurement: the row is the end of the round trip.
    while await pool.fetchval("SELECT count(*) FROM probe_seen") < count:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return count / (time.perf_counter() - start)
