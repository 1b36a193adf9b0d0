"""The outbox relay against real PostgreSQL and a NATS server of each test's own.

What is asserted is what reaches JetStream (messages, their headers and order,
and every copy on the wire) and what the outbox rows say afterwards.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import signal
import time
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import nats
import pytest
from keybuzz_devstack.testing import eventually
from keybuzz_shared import outbox, tracing
from keybuzz_shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from keybuzz_shared.events import ConnectionDisconnected, Event, TenantArchived
from keybuzz_shared.outbox import STOP_ATTEMPT_SECONDS, OutboxRelay, backlog, enqueue_many
from keybuzz_shared.streams import STREAMS, ensure_streams
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy

PRODUCER = "probe"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OUTBOX_MIGRATIONS = {"keybuzz_shared": SHARED_MIGRATIONS}  # a copy of a database migrated once


@pytest.fixture
async def pool(make_database) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(await make_database("outbox", OUTBOX_MIGRATIONS))
    yield pool
    await pool.close()


async def _connect(url: str) -> Client:
    # Reconnect quickly and forever: these tests stop and restart the server.
    nc = await nats.connect(url, reconnect_time_wait=0.2, max_reconnect_attempts=-1)
    await ensure_streams(nc.jetstream())
    return nc


@pytest.fixture
async def nc(private_nats) -> AsyncIterator[Client]:
    nc = await _connect(private_nats.spec.url)
    yield nc
    await nc.close()


async def commit(pool: asyncpg.Pool, events: list[Event]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_many(conn, PRODUCER, events)


async def in_stream(nc: Client, stream: str) -> list[Msg]:
    """Every message the stream holds, in stream order."""
    js = nc.jetstream()
    total = (await js.stream_info(stream)).state.messages
    if not total:
        return []
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE)
    sub = await js.pull_subscribe(STREAMS[stream][0], stream=stream, config=config)
    messages: list[Msg] = []
    while len(messages) < total:
        messages += await sub.fetch(total - len(messages), timeout=5)
    await sub.unsubscribe()
    return messages


def event_ids(messages: list[Msg]) -> list[str]:
    return [(m.headers or {}).get("Nats-Msg-Id", "(no Nats-Msg-Id)") for m in messages]


async def rows(pool: asyncpg.Pool) -> dict[str, asyncpg.Record]:
    found = await pool.fetch(
        "SELECT event_id, published_at, attempts, last_error, partition_key, headers "
        "FROM event_outbox ORDER BY id"
    )
    return {r["event_id"]: r for r in found}


async def test_relay_sends_the_stored_headers_in_enqueue_order(pool, nc, monkeypatch):
    # The trace context current when the unit of work commits is the one sent.
    monkeypatch.setattr(tracing, "trace_headers", lambda: {"traceparent": TRACEPARENT})
    events: list[Event] = [TenantArchived(tenant_id="t-1", reason=str(i)) for i in range(5)]
    await commit(pool, events)
    monkeypatch.setattr(tracing, "trace_headers", lambda: {})  # the relay's own context

    outcome = await OutboxRelay(pool, PRODUCER, lambda: nc).relay_pending()

    assert (outcome.published, outcome.error) == (5, None)
    messages = await in_stream(nc, "TENANTS")
    assert [m.headers for m in messages] == [
        {
            "Nats-Msg-Id": e.event_id,
            "KeyBuzz-Event-Type": "tenant.archived",
            "traceparent": TRACEPARENT,
        }
        for e in events
    ]
    assert [msgspec.json.decode(m.data)["reason"] for m in messages] == ["0", "1", "2", "3", "4"]
    stored = await rows(pool)
    assert all(r["published_at"] is not None and r["attempts"] == 1 for r in stored.values())
    assert {r["partition_key"] for r in stored.values()} == {"t-1"}


async def test_wakes_before_a_rounds_read_get_no_round_of_their_own(make_database, nc, monkeypatch):
    """Units of work committing while a round starts: their rows are in its read, and no
    round follows for their wakes alone (it would read nothing: four round trips)."""
    monkeypatch.setattr(outbox, "IDLE_POLL_SECONDS", 60.0)  # only woken rounds
    statements: list[str] = []
    # One connection, the relay's and the writer's in turn, each statement on it seen.
    one = await asyncpg.create_pool(
        await make_database("outbox_wakes", OUTBOX_MIGRATIONS),
        min_size=1,
        max_size=1,
        init=lambda conn: _logged(conn, statements),
    )
    assert one is not None
    relay = OutboxRelay(one, PRODUCER, lambda: nc)
    try:
        relay.start()
        await eventually(_async(lambda: statements.count(outbox._PENDING) == 1))
        held = await one.acquire()
        # The round the first wake starts waits for the connection while the second
        # unit of work commits: both wakes come before its read.
        for event in (TenantArchived(tenant_id="t-a"), TenantArchived(tenant_id="t-b")):
            async with held.transaction():
                await enqueue_many(held, PRODUCER, [event])
            relay.wake()
        await one.release(held)
        await eventually(_async(lambda: "COMMIT;" in _after(statements, outbox._MARK_PUBLISHED)))
        for _ in range(20):  # a round the wakes would start: asked for the connection now
            await asyncio.sleep(0)
        async with one.acquire():  # after any such round's end
            pass
        assert statements.count(outbox._PENDING) == 2, "a round read nothing"
    finally:
        await relay.stop()
        await one.close()
    assert len(await in_stream(nc, "TENANTS")) == 2


async def test_an_idle_relay_polls_with_one_statement_and_still_finds_unwoken_rows(
    make_database, nc, monkeypatch
):
    """With nothing pending, a round no wake asked for is one statement, no transaction;
    a row committed without a wake (another instance's) still goes out at the next poll."""
    monkeypatch.setattr(outbox, "IDLE_POLL_SECONDS", 0.01)
    statements: list[str] = []
    logged = await asyncpg.create_pool(
        await make_database("outbox_idle", OUTBOX_MIGRATIONS),
        init=lambda conn: _logged(conn, statements),
    )
    assert logged is not None
    relay = OutboxRelay(logged, PRODUCER, lambda: nc)
    try:
        relay.start()
        await eventually(_async(lambda: statements.count(outbox._ANY_PENDING) >= 3))
        # The pool's reset on release aside (asyncpg's own), nothing but the one read.
        idle = {q for q in _after(statements, outbox._ANY_PENDING) if "RESET ALL" not in q}
        assert idle == {outbox._ANY_PENDING}, "an idle round did more than one statement"
        async with logged.acquire() as conn, conn.transaction():
            await enqueue_many(conn, PRODUCER, [TenantArchived(tenant_id="t-unwoken")])
        await eventually(_async(lambda: len(_after(statements, outbox._MARK_PUBLISHED)) > 0))
    finally:
        await relay.stop()
        await logged.close()
    assert len(await in_stream(nc, "TENANTS")) == 1


def _after(statements: list[str], statement: str) -> list[str]:
    return statements[statements.index(statement) :] if statement in statements else []


async def _logged(conn: asyncpg.Connection, statements: list[str]) -> None:
    conn.add_query_logger(lambda record: statements.append(record.query))


async def test_a_row_sent_twice_is_stored_once(pool, nc):
    """Nats-Msg-Id is what makes a re-send (crash between publish and mark) harmless."""
    event = TenantArchived(tenant_id="t-dup")
    await commit(pool, [event])
    relay = OutboxRelay(pool, PRODUCER, lambda: nc)
    assert (await relay.relay_pending()).published == 1
    # As if the process died after the publish, before its mark committed.
    await pool.execute("UPDATE event_outbox SET published_at = NULL")

    assert (await relay.relay_pending()).published == 1
    messages = await in_stream(nc, "TENANTS")
    assert len(messages) == 1, "the re-send was stored again"
    assert event_ids(messages) == [event.event_id]


async def test_a_failed_publish_keeps_its_row_and_the_later_ones_pending(pool, nc):
    js = nc.jetstream()
    await js.delete_stream("CONNECTIONS")  # JetStream refuses connection.* events
    first = TenantArchived(tenant_id="t-a", reason="1")
    failing = ConnectionDisconnected(tenant_id="t-a", reason="2")
    later = TenantArchived(tenant_id="t-a", reason="3")
    await commit(pool, [first, failing, later])
    relay = OutboxRelay(pool, PRODUCER, lambda: nc)

    outcome = await relay.relay_pending()

    assert outcome.published == 1 and outcome.error and "NoStreamResponseError" in outcome.error
    stored = await rows(pool)
    assert stored[first.event_id]["published_at"] is not None
    assert stored[failing.event_id]["published_at"] is None
    assert stored[failing.event_id]["attempts"] == 1
    assert "NoStreamResponseError" in stored[failing.event_id]["last_error"]
    assert stored[later.event_id]["published_at"] is None  # may be in the stream already
    assert await backlog(pool, PRODUCER) == (2, pytest.approx(0, abs=30))

    await ensure_streams(js)
    assert (await relay.relay_pending()).published == 2
    assert all(r["published_at"] is not None for r in (await rows(pool)).values())
    assert event_ids(await in_stream(nc, "TENANTS")) == [first.event_id, later.event_id]
    assert event_ids(await in_stream(nc, "CONNECTIONS")) == [failing.event_id]


async def test_a_publish_jetstream_refuses_is_kept_with_its_reason_at_once(pool, nc):
    """JetStream's own refusal (here the stream is full) is the row's last_error, known from
    the answer, not a missing acknowledgement found when the wait runs out."""
    js = nc.jetstream()
    config = await js.stream_info("TENANTS")
    await js.update_stream(config.config.evolve(max_msgs=1, discard=DiscardPolicy.NEW))
    stored, refused = (
        TenantArchived(tenant_id="t-full", reason="1"),
        TenantArchived(tenant_id="t-full", reason="2"),
    )
    await commit(pool, [stored, refused])

    outcome = await OutboxRelay(pool, PRODUCER, lambda: nc, ack_timeout=3).relay_pending()

    assert outcome.published == 1
    assert outcome.error and "maximum messages exceeded" in outcome.error, outcome.error
    row = (await rows(pool))[refused.event_id]
    assert row["published_at"] is None and "maximum messages exceeded" in row["last_error"]
    assert event_ids(await in_stream(nc, "TENANTS")) == [stored.event_id]


async def test_event_committed_while_nats_is_stopped_goes_out_once_it_is_back(
    pool, nc, private_nats, caplog
):
    caplog.set_level(logging.INFO, logger="keybuzz_shared.outbox")
    relay = OutboxRelay(pool, PRODUCER, lambda: nc, ack_timeout=1)
    relay.start()
    try:
        private_nats.stop()
        await eventually(_async(lambda: not nc.is_connected))
        event = TenantArchived(tenant_id="t-down")
        await commit(pool, [event])
        relay.wake()

        async def failed_at_least_twice() -> asyncpg.Record | None:
            row = (await rows(pool))[event.event_id]
            return row if row["attempts"] >= 2 else None

        row = await eventually(failed_at_least_twice)
        assert row["published_at"] is None and row["last_error"]

        private_nats.start()

        async def published() -> bool:
            return (await rows(pool))[event.event_id]["published_at"] is not None

        await eventually(published)
    finally:
        await relay.stop()
    assert event_ids(await in_stream(nc, "TENANTS")) == [event.event_id]
    # One warning for the outage and one line for the recovery, not one per retry.
    ours = relay_logs(caplog)
    failures = [r.getMessage() for r in ours if r.levelno >= logging.WARNING]
    assert failures == ["outbox publishing failed; events kept for retry"]
    assert not any(r.exc_info for r in ours)
    assert "outbox publishing again" in [r.getMessage() for r in ours]


async def test_two_relays_publish_each_tenant_in_order_exactly_once(make_database, private_nats):
    """Two service instances (own pools, own connections) relaying the same producer."""
    database = await make_database("outbox2", OUTBOX_MIGRATIONS)
    pools = [await create_pool(database) for _ in range(2)]
    conns = [await _connect(private_nats.spec.url) for _ in range(2)]
    wire = await nats.connect(private_nats.spec.url)
    on_the_wire: collections.Counter[str] = collections.Counter()

    async def count(msg: Msg) -> None:  # core NATS sees every publish, duplicates included
        on_the_wire[msg.headers["Nats-Msg-Id"] if msg.headers else "?"] += 1

    counter = await wire.subscribe("tenant.>", cb=count)
    await wire.flush()
    relays = [
        OutboxRelay(pools[i], PRODUCER, lambda i=i: conns[i], batch_size=20) for i in range(2)
    ]
    tenants, per_tenant = 4, 150

    async def writer(tenant: int) -> None:
        sent = 0
        while sent < per_tenant:  # transactions of 1 to 3 events, like units of work
            size = min(1 + sent % 3, per_tenant - sent)
            batch = [
                TenantArchived(tenant_id=f"t{tenant}", reason=str(sent + k)) for k in range(size)
            ]
            await commit(pools[tenant % 2], list(batch))
            relays[(tenant + sent) % 2].wake()
            sent += size

    try:
        for relay in relays:
            relay.start()
        await asyncio.gather(*(writer(t) for t in range(tenants)))

        async def drained() -> bool:
            return await backlog(pools[0], PRODUCER) == (0, None)

        await eventually(drained)
        await eventually(_async(lambda: len(on_the_wire) == tenants * per_tenant))
    finally:
        for relay in relays:
            await relay.stop()
    try:
        # No relay publishes any more: a round trip on every connection brings what they
        # sent (a late duplicate included) to the counter, which then has nothing queued.
        for c in [*conns, wire]:
            await c.flush()
        await eventually(_async(lambda: counter.pending_msgs == 0))
        assert set(on_the_wire.values()) == {1}, "an event was published twice"
        by_tenant: dict[str, list[int]] = collections.defaultdict(list)
        for msg in await in_stream(conns[0], "TENANTS"):
            body = msgspec.json.decode(msg.data)
            by_tenant[body["tenantId"]].append(int(body["reason"]))
        assert by_tenant == {f"t{t}": list(range(per_tenant)) for t in range(tenants)}
    finally:
        for c in [*conns, wire]:
            await c.close()
        for p in pools:
            await p.close()


@pytest.mark.parametrize("failure", ["nats stopped", "nats frozen"])
async def test_stop_is_bounded_and_quiet_when_nats_is_gone_or_slow(
    pool, nc, private_nats, caplog, failure
):
    caplog.set_level(logging.INFO, logger="keybuzz_shared.outbox")
    event = TenantArchived(tenant_id="t-stop")
    relay = OutboxRelay(pool, PRODUCER, lambda: nc)
    process = private_nats.process
    assert process is not None
    if failure == "nats stopped":
        private_nats.stop()
        await eventually(_async(lambda: not nc.is_connected))
    else:  # connected, but nothing is answered: acks never come
        process.send_signal(signal.SIGSTOP)
    try:
        await commit(pool, [event])
        started = time.monotonic()
        await asyncio.wait_for(relay.stop(), STOP_ATTEMPT_SECONDS + 3)
        assert time.monotonic() - started <= STOP_ATTEMPT_SECONDS + 1
    finally:
        if failure == "nats frozen":
            process.send_signal(signal.SIGCONT)
    [record] = relay_logs(caplog)
    assert record.levelname == "INFO" and not record.exc_info
    assert record.getMessage().startswith("outbox relay stopped; unpublished events stay")
    assert (await rows(pool))[event.event_id]["published_at"] is None  # left for the next start

    if failure == "nats stopped":
        private_nats.start()
    await eventually(_async(lambda: nc.is_connected))
    assert (await OutboxRelay(pool, PRODUCER, lambda: nc).relay_pending()).published == 1
    assert event_ids(await in_stream(nc, "TENANTS")) == [event.event_id]


async def test_backlog_counts_pending_rows_and_the_oldest_age(pool, nc):
    assert await backlog(pool, PRODUCER) == (0, None)
    await commit(pool, [TenantArchived(tenant_id="t-b", reason=str(i)) for i in range(3)])
    await pool.execute(
        "UPDATE event_outbox SET created_at = now() - interval '90 seconds' "
        "WHERE id = (SELECT min(id) FROM event_outbox)"
    )
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_many(conn, "someone-else", [TenantArchived(tenant_id="t-b")])

    pending, age = await backlog(pool, PRODUCER)
    assert pending == 3 and age == pytest.approx(90, abs=15)

    await OutboxRelay(pool, PRODUCER, lambda: nc).relay_pending()
    assert await backlog(pool, PRODUCER) == (0, None)
    assert (await backlog(pool, "someone-else"))[0] == 1


async def test_rows_pending_before_the_upgrade_get_their_headers(make_database, nc, tmp_path):
    """Migration 002 fills in what the relay used to send for rows written by the old code."""
    (tmp_path / "001_event_outbox.sql").write_text(
        (SHARED_MIGRATIONS / "001_event_outbox.sql").read_text()
    )
    pool = await create_pool(await make_database("outbox-upgrade"))
    try:
        await apply_migrations(pool, "keybuzz_shared", tmp_path)
        event = TenantArchived(tenant_id="t-old")
        await pool.execute(
            "INSERT INTO event_outbox (producer, event_id, subject, payload) VALUES ($1,$2,$3,$4)",
            PRODUCER,
            event.event_id,
            event.type,
            msgspec.json.encode(event),
        )
        assert await apply_migrations(pool, "keybuzz_shared", SHARED_MIGRATIONS) == [2]
        assert (await rows(pool))[event.event_id]["partition_key"] == "t-old"

        assert (await OutboxRelay(pool, PRODUCER, lambda: nc).relay_pending()).published == 1
        [message] = await in_stream(nc, "TENANTS")
        assert message.headers == {"Nats-Msg-Id": event.event_id, "KeyBuzz-Event-Type": event.type}
    finally:
        await pool.close()


def relay_logs(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "keybuzz_shared.outbox"]


def _async(check):  # eventually() polls coroutines
    async def probe() -> bool:
        return bool(check())

    return probe
