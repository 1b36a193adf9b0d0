"""Consuming events on the frame: batches, per-tenant order, leases, outages, dead letters.

Each test runs a small service of its own (a ServiceDefinition made here) on a
private NATS server and a fresh database, and asserts rows and stream contents.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
import pytest
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN as ROOT_TOKEN
from keybuzz_devstack.outage import Outage
from keybuzz_devstack.testing import collected_nats_task, consumer_drained, eventually
from keybuzz_shared.errors import DependencyUnavailable
from keybuzz_shared.events import TenantArchived, encode_event, event_headers
from keybuzz_shared.messaging import (
    ORIGINAL_SEQUENCE_HEADER,
    REASON_HEADER,
    TRUNCATED_HEADER,
    Delivered,
    Delivery,
    EventSubscription,
    PermanentEventError,
)
from keybuzz_shared.service import Runtime, ServiceDefinition
from keybuzz_shared.settings import CommonSettings
from keybuzz_shared.streams import ensure_streams
from keybuzz_shared.uow import UnitOfWork
from nats.aio.msg import Msg

SEEN_TABLE = (
    "CREATE TABLE IF NOT EXISTS seen (event_id text PRIMARY KEY, tenant_id text, "
    "n integer, attempt integer, at timestamptz DEFAULT clock_timestamp())"
)
BATCH_FAILED = "a batch failed outside its handlers"  # keybuzz_shared.messaging's log
IDLE = "probe-idle"  # the idle consumer's durable name
HOLDING = "a dependency is down; holding the event"  # keybuzz_shared.messaging's log


class Settings(CommonSettings, kw_only=True, frozen=True):
    pass


def definition(register: Callable[[Runtime[Any]], None]) -> ServiceDefinition[Any]:
    async def create_table(runtime: Runtime[Any]) -> None:
        await runtime.pool.execute(SEEN_TABLE)

    return ServiceDefinition(
        name="probe",
        description="consumption test service",
        settings_type=Settings,
        migrations=None,
        register_subscribers=register,
        on_startup=[create_table],
    )


async def start(start_service, private_nats, register, **env: str):
    return await start_service(
        definition(register), NATS_URL=private_nats.spec.url, VAULT_TOKEN=ROOT_TOKEN, **env
    )


def archived(tenant: str, n: int, **fields: Any) -> TenantArchived:
    return TenantArchived(tenant_id=tenant, reason=str(n), **fields)


async def publish_all(js, events: Sequence[TenantArchived]) -> None:
    for event in events:
        await js.publish(event.type, encode_event(event), headers=event_headers(event))


async def rows(pool, count: int, within: float = 20.0) -> list[Any]:
    async def enough():
        found = await pool.fetch("SELECT * FROM seen ORDER BY at")
        return found if len(found) >= count else None

    return await eventually(enough, within=within)


async def dead_letters(js, count: int) -> list[Any]:
    sub = await js.pull_subscribe("deadletter.probe.>", stream="DEADLETTER")
    found: list[Any] = []
    with contextlib.suppress(Exception):
        while len(found) < count:
            found += await sub.fetch(count - len(found), timeout=10)
    await sub.unsubscribe()
    return found


# --- ordering -----------------------------------------------------------------------------


async def test_events_of_one_tenant_keep_their_order_while_tenants_run_concurrently(
    start_service, private_nats
):
    in_flight = {"now": 0, "max": 0}

    def register(runtime: Runtime[Any]) -> None:
        async def handle(event: TenantArchived, delivery: Delivery) -> None:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
            await asyncio.sleep(random.uniform(0, 0.02))
            await runtime.pool.execute(
                "INSERT INTO seen (event_id, tenant_id, n) VALUES ($1, $2, $3)",
                event.event_id,
                event.tenant_id,
                int(event.reason or 0),
            )
            in_flight["now"] -= 1

        EventSubscription(runtime, event_type=TenantArchived, handler=handle, purpose="order")

    service = await start(start_service, private_nats, register)
    tenants = [f"tenant-{i}" for i in range(5)]
    events = [archived(t, n) for n in range(30) for t in tenants]  # interleaved
    await publish_all(service.runtime.js, events)

    found = await rows(service.runtime.pool, len(events))
    for tenant in tenants:
        assert [r["n"] for r in found if r["tenant_id"] == tenant] == list(range(30))
    assert in_flight["max"] > 1, "different tenants were never handled concurrently"


# --- batch handlers -----------------------------------------------------------------------


def batch_register(log: list[int], poison: set[str]) -> Callable[[Runtime[Any]], None]:
    def register(runtime: Runtime[Any]) -> None:
        async def handle(uow: UnitOfWork, batch: Sequence[Delivered[TenantArchived]]) -> None:
            log.append(len(batch))
            await uow.conn.executemany(
                "INSERT INTO seen (event_id, tenant_id, n, attempt) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (event_id) DO NOTHING",
                [
                    (
                        d.event.event_id,
                        d.event.tenant_id,
                        int(d.event.reason or 0),
                        d.delivery.attempt,
                    )
                    for d in batch
                ],
            )
            if any(d.event.tenant_id in poison for d in batch):
                raise PermanentEventError("poisoned tenant")

        EventSubscription(
            runtime,
            event_type=TenantArchived,
            batch_handler=handle,
            purpose="batch",
            batch_size=50,
        )

    return register


async def test_batch_handler_takes_many_events_in_one_transaction(start_service, private_nats):
    sizes: list[int] = []
    service = await start(start_service, private_nats, batch_register(sizes, set()))
    events = [archived(f"t{i % 7}", i) for i in range(300)]
    await publish_all(service.runtime.js, events)

    found = await rows(service.runtime.pool, 300)
    assert sorted(r["n"] for r in found) == list(range(300))
    assert max(sizes) > 1 and len(sizes) < 300, sizes
    info = await service.runtime.js.consumer_info("TENANTS", "probe-batch")
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_poison_event_in_a_batch_is_isolated_and_the_rest_commit(start_service, private_nats):
    sizes: list[int] = []
    service = await start(start_service, private_nats, batch_register(sizes, {"bad"}))
    js = service.runtime.js
    # Publish before the consumer can take them one by one: all in one fetched batch.
    events = [archived("good", i) for i in range(20)]
    events.insert(10, archived("bad", 99))
    await publish_all(js, events)

    await rows(service.runtime.pool, 20)
    await consumer_drained(js, "TENANTS", "probe-batch")  # poison included: all settled
    found = await service.runtime.pool.fetch("SELECT * FROM seen")
    assert sorted(r["n"] for r in found) == list(range(20)), "the good events are there, once"
    assert all(r["tenant_id"] == "good" for r in found), "the poison one rolled back"
    [letter] = await dead_letters(js, 1)
    assert json.loads(letter.data)["tenantId"] == "bad"
    assert letter.headers[REASON_HEADER].startswith("rejected tenant.archived: poisoned tenant")


# --- leases -------------------------------------------------------------------------------


async def test_a_handler_slower_than_ack_wait_keeps_its_lease(start_service, private_nats):
    calls: list[int] = []
    ack_wait = 1.0
    loop = asyncio.get_running_loop()
    started: list[float] = []
    outlived = asyncio.Event()  # a renewal came after the lease, un-renewed, would have ended

    async def renewed(msg: Msg) -> None:
        if msg.data == b"+WPI" and started and loop.time() - started[0] > 1.5 * ack_wait:
            outlived.set()

    def register(runtime: Runtime[Any]) -> None:
        async def handle(event: TenantArchived, delivery: Delivery) -> None:
            calls.append(delivery.attempt)
            started.append(loop.time())
            # At work until JetStream is told so past one and a half ack_waits: the lease
            # was renewed, or the rival asking below was handed the event.
            await asyncio.wait_for(outlived.wait(), 60)
            await runtime.pool.execute(
                "INSERT INTO seen (event_id, tenant_id, attempt) VALUES ($1, $2, $3)",
                event.event_id,
                event.tenant_id,
                delivery.attempt,
            )

        EventSubscription(
            runtime, event_type=TenantArchived, handler=handle, purpose="slow", ack_wait=ack_wait
        )

    service = await start(start_service, private_nats, register)
    js = service.runtime.js
    # The consumer's acknowledgements, "still at work" (+WPI) among them, as the server gets them.
    await service.runtime.nc.subscribe("$JS.ACK.TENANTS.probe-slow.>", cb=renewed)
    await publish_all(js, [archived("slow", 1)])
    await eventually(_async(lambda: calls))  # the handler is at work
    # Another instance asks for work meanwhile: a lapsed lease would hand it the event.
    rival = await js.pull_subscribe_bind("probe-slow", "TENANTS")
    asking = asyncio.create_task(rival.fetch(1, timeout=60))
    try:
        [row] = await rows(service.runtime.pool, 1)
        assert not asking.done(), "the event was redelivered while its handler was still working"
        info = await consumer_drained(js, "TENANTS", "probe-slow")
    finally:
        asking.cancel()
        await asyncio.gather(asking, return_exceptions=True)
        await rival.unsubscribe()
    assert info.delivered.consumer_seq == 1 and info.num_redelivered == 0, "delivered once"
    assert calls == [1] and row["attempt"] == 1


# --- failures -----------------------------------------------------------------------------


async def test_a_handler_that_always_fails_is_dead_lettered_not_retried_forever(
    start_service, private_nats
):
    calls: list[int] = []

    def register(runtime: Runtime[Any]) -> None:
        async def handle(event: TenantArchived, delivery: Delivery) -> None:
            calls.append(delivery.attempt)
            raise RuntimeError("always broken")

        EventSubscription(
            runtime,
            event_type=TenantArchived,
            handler=handle,
            purpose="broken",
            max_deliveries=3,
            retry_backoff=0.1,
        )

    service = await start(start_service, private_nats, register)
    js = service.runtime.js
    await publish_all(js, [archived("doomed", 1)])
    [letter] = await dead_letters(js, 1)
    assert letter.headers[REASON_HEADER].startswith("failed 3 times: RuntimeError: always broken")
    # The original is acknowledged right after its dead letter is stored: settled, not
    # delivered a fourth time (consumer_drained fails if it stays pending).
    info = await consumer_drained(js, "TENANTS", "probe-broken")
    assert calls == [1, 2, 3]
    assert info.config.max_deliver and info.config.max_deliver > 3, "a finite backstop"


@pytest.fixture
async def cut_database(make_database) -> AsyncIterator[tuple[str, Outage]]:
    url = await make_database("outage")
    parts = urlsplit(url)
    relay = Outage(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.up()
    netloc = parts.netloc.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{relay.port}")
    yield urlunsplit(parts._replace(netloc=netloc)), relay
    with contextlib.suppress(Exception):
        await relay.down()


async def test_a_database_outage_holds_the_event_instead_of_dead_lettering_it(
    start_service, private_nats, cut_database, caplog
):
    url, relay = cut_database
    register = recording_impatient_consumer("outage")
    service = await start(start_service, private_nats, register, DATABASE_URL=url)

    async def held_past_its_deliveries() -> bool:
        assert not await _dead_letter_count(service.runtime.js), "parked during the outage"
        # what the consumer logs at each try that found the database down
        holds = sum(r.getMessage() == HOLDING and _ours(r, "probe-outage") for r in caplog.records)
        return holds > 2

    async with service.client() as http:
        await relay.down()
        await publish_all(service.runtime.js, [archived("patient", 1)])
        await eventually(lambda: _not_ready(http))
        # The outage lasts: the event must wait, not be parked. Tried more times than this
        # consumer's two deliveries (not holding it, it parked it at the second), still held.
        await eventually(held_past_its_deliveries)
        await relay.up()
        [row] = await rows(service.runtime.pool, 1, within=60)
        assert (await http.get("/ready")).status_code == 200
    assert row["tenant_id"] == "patient" and row["attempt"] == 1
    info = await service.runtime.js.stream_info("DEADLETTER")
    assert info.state.messages == 0


async def test_a_service_stopped_while_an_outage_holds_its_events_gives_them_back_in_order(
    start_service, private_nats, caplog
):
    """Stopping does not wait out an outage: the event held is given back to JetStream at
    once, the later events of its key with it untried, and the next instance handles them in
    their order — not after the lease (ack_wait, 300 s here) runs out."""
    outage = {"on": True}
    attempted: list[int] = []
    register = recording_patient_consumer("release", attempted, outage)
    publisher = await nats.connect(private_nats.spec.url)
    try:  # in the stream before the consumer exists: its first batch holds all three
        await ensure_streams(publisher.jetstream())
        await publish_all(publisher.jetstream(), [archived("kept", n) for n in (1, 2, 3)])
    finally:
        await publisher.close()
    first = await start(start_service, private_nats, register)

    async def held() -> bool:
        return any(r.getMessage() == HOLDING and _ours(r, "probe-release") for r in caplog.records)

    await eventually(held)
    await first.stop()
    # Tried after the first was given back, the later ones would be handled before it
    # whenever the dependency came back meanwhile.
    assert set(attempted) == {1}, attempted
    outage["on"] = False
    second = await start(start_service, private_nats, register)
    found = await rows(second.runtime.pool, 3, within=60)
    assert [(row["tenant_id"], row["n"]) for row in found] == [("kept", n) for n in (1, 2, 3)]


def recording_patient_consumer(
    purpose: str, attempted: list[int], outage: dict[str, bool]
) -> Callable[[Runtime[Any]], None]:
    """A consumer that records each event's number (in ``attempted`` at each try, in
    ``seen`` once handled), its dependency down while ``outage["on"]``, with a 300-s lease:
    an event it held and did not give back would reach the next instance only then."""

    def register(runtime: Runtime[Any]) -> None:
        async def handle(event: TenantArchived, delivery: Delivery) -> None:
            attempted.append(int(event.reason))
            if outage["on"]:
                raise DependencyUnavailable("the probe's dependency is down")
            await runtime.pool.execute(
                "INSERT INTO seen (event_id, tenant_id, n) VALUES ($1, $2, $3)",
                event.event_id,
                event.tenant_id,
                int(event.reason),
            )

        EventSubscription(
            runtime, event_type=TenantArchived, handler=handle, purpose=purpose, ack_wait=300
        )

    return register


def recording_impatient_consumer(purpose: str) -> Callable[[Runtime[Any]], None]:
    """A consumer that records each event it handles, and gives up after two failures:
    without holding, an outage would dead-letter its event within ~3 s."""

    def register(runtime: Runtime[Any]) -> None:
        async def handle(event: TenantArchived, delivery: Delivery) -> None:
            await runtime.pool.execute(
                "INSERT INTO seen (event_id, tenant_id, attempt) VALUES ($1, $2, $3)",
                event.event_id,
                event.tenant_id,
                delivery.attempt,
            )

        EventSubscription(
            runtime,
            event_type=TenantArchived,
            handler=handle,
            purpose=purpose,
            max_deliveries=2,
            retry_backoff=0.5,
        )

    return register


def recording(purpose: str) -> Callable[[Runtime[Any]], None]:
    """A consumer of tenant.archived that stores each event it handles in ``seen``."""

    def register(runtime: Runtime[Any]) -> None:
        async def handle(event: TenantArchived, delivery: Delivery) -> None:
            await runtime.pool.execute(
                "INSERT INTO seen (event_id, tenant_id) VALUES ($1, $2)",
                event.event_id,
                event.tenant_id,
            )

        EventSubscription(runtime, event_type=TenantArchived, handler=handle, purpose=purpose)

    return register


async def _not_ready(http) -> bool | None:
    return True if (await http.get("/ready")).status_code == 503 else None


async def test_a_consumer_a_slow_jetstream_left_unmade_is_asked_for_again(
    start_service, private_nats, caplog
):
    """NATS silent past the JetStream API's timeout as a starting service creates its
    consumer (a loaded server): the request is asked again once it answers, the service
    starts and its consumer takes events."""
    process = private_nats.process
    assert process is not None
    thaws: list[asyncio.TimerHandle] = []

    async def freeze_nats_a_while(runtime: Runtime[Any]) -> None:
        # The service's own set-up is the last step before its consumers are created.
        process.send_signal(signal.SIGSTOP)  # the first request goes unanswered for its 5 s
        # Stopped only when it says so: a request sent the moment before is still answered.
        _, status = await asyncio.to_thread(os.waitpid, process.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)
        thaws.append(asyncio.get_running_loop().call_later(6, process.send_signal, signal.SIGCONT))

    probe = definition(recording("slow-js"))
    frozen_at_start = dataclasses.replace(
        probe, on_startup=[*probe.on_startup, freeze_nats_a_while]
    )
    try:
        service = await start_service(
            frozen_at_start, NATS_URL=private_nats.spec.url, VAULT_TOKEN=ROOT_TOKEN
        )
    finally:
        for thaw in thaws:
            thaw.cancel()
        process.send_signal(signal.SIGCONT)
    assert thaws, "NATS was not frozen while the service started"
    asked_again = [r for r in caplog.records if "asking again" in r.getMessage()]
    assert [r.attempt for r in asked_again] == [1]  # the creation's request, asked twice
    [subscription] = service.runtime.subscriptions
    info = await service.runtime.js.consumer_info(subscription.stream, subscription.durable)
    assert info.config.durable_name == subscription.durable
    await publish_all(service.runtime.js, [archived("after-the-freeze", 1)])
    [row] = await rows(service.runtime.pool, 1)
    assert row["tenant_id"] == "after-the-freeze"


# --- hostile input ------------------------------------------------------------------------


async def test_an_oversized_bad_event_is_dead_lettered_without_freezing_the_service(
    start_service, private_nats
):
    service = await start(start_service, private_nats, recording("big"))
    js = service.runtime.js
    max_payload = service.runtime.nc.max_payload
    filler = "x" * (max_payload - 200)
    big = json.dumps({"tenantId": "not a valid id!", "reason": filler}).encode()
    assert len(big) < max_payload
    sent = await js.publish("tenant.archived", big)
    await publish_all(js, [archived("after-big", 1)])

    [row] = await rows(service.runtime.pool, 1)
    assert row["tenant_id"] == "after-big"
    [letter] = await dead_letters(js, 1)
    assert letter.headers[TRUNCATED_HEADER] == str(len(big))
    assert letter.headers[ORIGINAL_SEQUENCE_HEADER] == str(sent.seq)
    async with service.client() as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/ready")).status_code == 200


async def test_occurred_at_up_to_five_minutes_ahead_is_handled_beyond_is_dead_lettered(
    start_service, private_nats
):
    """The documented tolerance for a clock running ahead, at its edges: 15 s either side
    of 5 minutes (room for a slow machine between publishing and decoding)."""

    service = await start(start_service, private_nats, recording("skew"))
    js = service.runtime.js
    now = datetime.now(UTC)
    inside = archived("ahead-inside", 1, occurred_at=now + timedelta(minutes=4, seconds=45))
    beyond = archived("ahead-beyond", 2, occurred_at=now + timedelta(minutes=5, seconds=15))
    await publish_all(js, [beyond, inside])

    [row] = await rows(service.runtime.pool, 1)
    assert row["tenant_id"] == "ahead-inside"
    [letter] = await dead_letters(js, 1)
    assert json.loads(letter.data)["tenantId"] == "ahead-beyond"
    reason = letter.headers[REASON_HEADER]
    assert reason.startswith("undecodable tenant.archived: occurredAt 20"), reason
    assert "is in the future: more than 300 s ahead of this service's clock" in reason
    await consumer_drained(js, "TENANTS", "probe-skew")
    assert await service.runtime.pool.fetchval("SELECT count(*) FROM seen") == 1


async def test_redrive_replays_dead_letters_once(start_service, private_nats):
    rejected = {"later-ok"}
    handled: list[str] = []  # deliveries taken once the cause is fixed

    def register(runtime: Runtime[Any]) -> None:
        async def handle(event: TenantArchived, delivery: Delivery) -> None:
            if event.tenant_id in rejected:
                raise PermanentEventError("not yet")
            handled.append(event.tenant_id)
            await runtime.pool.execute(
                "INSERT INTO seen (event_id, tenant_id) VALUES ($1, $2)",
                event.event_id,
                event.tenant_id,
            )

        EventSubscription(runtime, event_type=TenantArchived, handler=handle, purpose="redrive")

    service = await start(start_service, private_nats, register)
    nc, js = service.runtime.nc, service.runtime.js
    await publish_all(js, [archived("later-ok", 1)])
    await eventually(lambda: _dead_letter_count(js))

    rejected.clear()  # the cause is fixed; the operator replays
    reply = await nc.request("keybuzz.probe.redrive", b'{"subject": "tenant.archived"}', 10)
    assert json.loads(reply.data) == {"redriven": 1, "lost": 0, "remaining": 0}
    [row] = await rows(service.runtime.pool, 1)
    assert row["tenant_id"] == "later-ok"

    again = await nc.request("keybuzz.probe.redrive", b"{}", 10)
    assert json.loads(again.data)["redriven"] == 0
    await consumer_drained(js, "TENANTS", "probe-redrive")  # all it was given is handled
    assert handled == ["later-ok"], "replayed more than once"
    assert await service.runtime.pool.fetchval("SELECT count(*) FROM seen") == 1


async def test_a_batch_that_fails_outside_its_handlers_does_not_stop_the_consumer(
    start_service, private_nats, caplog
):
    """The dead-letter stream is gone (an operator deleted it): parking the undecodable
    event fails, which fails its batch outside any handler. The consumer keeps pulling:
    the good event is handled and, once the stream is back, the bad one parked."""
    service = await start(start_service, private_nats, recording("no-dlq"))
    operator = (await service.operator()).jetstream()
    await operator.delete_stream("DEADLETTER")
    await operator.publish("tenant.archived", b"{not json")
    await publish_all(operator, [archived("after-bad", 1)])

    def failed_batches() -> int:  # what the consumer logs at each
        return sum(r.getMessage().startswith(BATCH_FAILED) for r in caplog.records)

    await eventually(_async(lambda: failed_batches() >= 2))  # a few, not seconds slept

    await ensure_streams(operator)
    [row] = await rows(service.runtime.pool, 1)
    assert row["tenant_id"] == "after-bad"
    [letter] = await dead_letters(operator, 1)
    assert letter.data == b"{not json"


def _async(check: Callable[[], Any]) -> Callable[[], Any]:  # eventually() polls coroutines
    async def probe() -> Any:
        return check()

    return probe


async def _dead_letter_count(js) -> int | None:
    info = await js.stream_info("DEADLETTER")
    return info.state.messages or None


async def test_a_connection_closed_for_good_stops_the_service(start_service, private_nats):
    """A max_payload violation makes the server close the connection; nats-py won't return."""

    def register(runtime: Runtime[Any]) -> None:
        async def handle(event: TenantArchived, delivery: Delivery) -> None:
            pass

        EventSubscription(runtime, event_type=TenantArchived, handler=handle, purpose="closed")

    service = await start(start_service, private_nats, register)
    nc = service.runtime.nc
    async with service.client() as http:
        assert (await http.get("/health")).status_code == 200
        # The client checks the payload alone; headers push the message over the limit.
        with contextlib.suppress(Exception):
            await nc.publish("x", b"a" * (nc.max_payload - 10), headers={"h": "v" * 2000})
            await nc.flush(2)
        await eventually(lambda: _stopped(service))
    assert service.runtime.failure == "the NATS connection was closed and will not reconnect"


async def _stopped(service) -> bool | None:
    return True if service.task.done() else None


async def test_an_idle_consumer_and_a_clean_stop_log_no_warning(
    start_service, private_nats, caplog
):
    def register(runtime: Runtime[Any]) -> None:
        async def handle(event: TenantArchived, delivery: Delivery) -> None:
            pass

        EventSubscription(runtime, event_type=TenantArchived, handler=handle, purpose="idle")

    # Its long polls (a second each) expire idle, twice at least: the server's two "408
    # Request Timeout" answers to its pull requests, seen on the inbox they name.
    watcher = await nats.connect(private_nats.spec.url)
    inboxes: set[str] = set()
    expired: list[Any] = []

    async def answered(answer: Any) -> None:
        if (answer.headers or {}).get("Status") == "408":
            expired.append(answer)

    async def asked(request: Any) -> None:
        if request.reply not in inboxes:
            inboxes.add(request.reply)
            await watcher.subscribe(request.reply, cb=answered)

    await watcher.subscribe(f"$JS.API.CONSUMER.MSG.NEXT.TENANTS.{IDLE}", cb=asked)
    await watcher.flush()
    try:
        service = await start(start_service, private_nats, register, EVENT_LONG_POLL_SECONDS="1")
        caplog.set_level("INFO")
        await eventually(_async(lambda: len(expired) >= 2))
    finally:
        await watcher.close()
    await service.stop()
    nc = service.runtime.nc
    assert nc.is_closed and not nc._subs  # our connection closed, no subscription left behind
    noisy = [
        r
        for r in caplog.records
        if r.levelno >= 30 and not collected_nats_task(r.name, r.getMessage()) and _ours(r, IDLE)
    ]
    assert not noisy, [f"{r.name}: {r.getMessage()}" for r in noisy]


def _ours(record: logging.LogRecord, durable: str) -> bool:
    """Not a line another test's consumer wrote while it still ran in this process (such
    lines name their consumer; the rest of the process's lines all count)."""
    consumer = getattr(record, "consumer", None)
    return consumer is None or consumer == durable
