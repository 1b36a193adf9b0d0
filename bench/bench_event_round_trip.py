"""Event round trip through a service: publish → durable consumer → handler → row.

Two services on the frame, each writing one row per event: one with a
single-event handler (one INSERT and one ack per event; events of different
tenants run concurrently), one with a batch handler (the fetched batch in one
transaction, acks after the commit). The figures are the frame's overhead on
top of JetStream and PostgreSQL, next to raw JetStream measured in the same run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import nats
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_devstack.testing import RunningService, run_in_process
from keybuzz_shared.events import TenantArchived, encode_event, event_headers
from keybuzz_shared.messaging import Delivered, Delivery, EventSubscription
from keybuzz_shared.service import Runtime, ServiceDefinition
from keybuzz_shared.settings import CommonSettings
from keybuzz_shared.streams import ensure_streams
from keybuzz_shared.uow import UnitOfWork

from bench.harness import (
    BenchContext,
    Figure,
    jetstream_round_trip_rate,
    postgres_batched_insert_rate,
)

EVENTS = 10_000
TENANTS = 100
TABLE = "CREATE TABLE IF NOT EXISTS seen (event_id text PRIMARY KEY, tenant_id text NOT NULL)"
INSERT = "INSERT INTO seen (event_id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"


class BenchSettings(CommonSettings, kw_only=True, frozen=True):
    pass


def _single(runtime: Runtime[Any]) -> None:
    async def handle(event: TenantArchived, delivery: Delivery) -> None:
        await runtime.pool.execute(INSERT, event.event_id, event.tenant_id)

    EventSubscription(runtime, event_type=TenantArchived, handler=handle, purpose="single")


def _batch(runtime: Runtime[Any]) -> None:
    async def handle(uow: UnitOfWork, batch: Sequence[Delivered[TenantArchived]]) -> None:
        await uow.conn.executemany(INSERT, [(d.event.event_id, d.event.tenant_id) for d in batch])

    EventSubscription(
        runtime, event_type=TenantArchived, batch_handler=handle, purpose="batch", batch_size=256
    )


def _definition(name: str, register: Any) -> ServiceDefinition[BenchSettings]:
    async def create_table(runtime: Runtime[Any]) -> None:
        await runtime.pool.execute(TABLE)

    return ServiceDefinition(
        name=name,
        description="event round-trip benchmark",
        settings_type=BenchSettings,
        migrations=None,
        register_subscribers=register,
        on_startup=[create_table],
    )


async def run(ctx: BenchContext) -> list[Figure]:
    js_rate = await jetstream_round_trip_rate(ctx.nats_url, EVENTS)
    pg_rate = await postgres_batched_insert_rate(await ctx.make_database("pg"), EVENTS)
    figures: list[Figure] = [
        {"name": "raw JetStream publish+consume+ack", "value": js_rate, "unit": "msg/s"},
        {"name": "raw PostgreSQL batched insert", "value": pg_rate, "unit": "rows/s"},
    ]
    for name, kind, register, note in (
        ("bench-single", "single-event handler", _single, "one INSERT and one ack per event"),
        ("bench-batch", "batch handler", _batch, "up to 256 events a transaction, acks after"),
    ):
        await _purge_tenant_events(ctx.nats_url)  # only this run's events reach the table
        service = await _start(ctx, name, register)
        try:
            rate = await _round_trip_rate(service, EVENTS)
        finally:
            await service.stop()
        figures.append(
            {
                "name": f"event round trip, {kind} (publish → handler → row)",
                "value": rate,
                "unit": "events/s",
                "baseline": js_rate,
                "note": f"{EVENTS} events of {TENANTS} tenants; {note}",
            }
        )
    return figures


async def _purge_tenant_events(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await ensure_streams(nc.jetstream())
        await nc.jetstream().purge_stream("TENANTS")
    finally:
        await nc.close()


async def _start(ctx: BenchContext, name: str, register: Any) -> RunningService:
    return await run_in_process(
        _definition(name, register),
        {
            "NATS_URL": ctx.nats_url,
            "DATABASE_URL": await ctx.make_database(name.replace("-", "_")),
            "VAULT_ADDR": ctx.vault_addr,
            "VAULT_TOKEN": DEV_VAULT_ROOT_TOKEN,
            "LOG_LEVEL": "WARNING",
        },
    )


async def _round_trip_rate(service: RunningService, count: int) -> float:
    js = service.runtime.js
    pool = service.runtime.pool
    events = [TenantArchived(tenant_id=f"bench-{i % TENANTS}") for i in range(count)]
    start = time.perf_counter()
    acks = [
        await js.publish_async(e.type, encode_event(e), headers=event_headers(e)) for e in events
    ]
    await asyncio.gather(*acks)
    # Polling the table is the measurement: the row is the end of the round trip.
    while await pool.fetchval("SELECT count(*) FROM seen") < count:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    return count / (time.perf_counter() - start)
