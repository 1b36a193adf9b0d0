"""The shared service frame with real NATS, PostgreSQL and OpenBao."""

import asyncio
import json

import nats
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN as ROOT_TOKEN
from keybuzz_devstack.testing import eventually
from keybuzz_shared.events import TenantArchived, encode_event
from keybuzz_shared.messaging import REASON_HEADER
from nats.js.api import ConsumerConfig, DeliverPolicy

from tests.probe_service import DEFINITION


async def _publish(js, body: bytes, msg_id: str | None = None):
    headers = {"Nats-Msg-Id": msg_id} if msg_id else None
    return await js.publish("tenant.archived", body, headers=headers)


async def test_malformed_event_is_dead_lettered_and_consumer_keeps_going(
    start_service, private_nats
):
    service = await start_service(
        DEFINITION, NATS_URL=private_nats.spec.url, VAULT_TOKEN=ROOT_TOKEN
    )
    js = service.runtime.js
    dead = await js.pull_subscribe("deadletter.probe.>", stream="DEADLETTER")

    await _publish(js, b"{this is not json")
    await _publish(js, b'{"tenantId": "poison"}')
    good = TenantArchived(tenant_id="after-bad")
    await _publish(js, encode_event(good), good.event_id)

    pool = service.runtime.pool
    await eventually(
        lambda: pool.fetchval("SELECT count(*) FROM probe_seen WHERE tenant_id='after-bad'")
    )
    parked = await dead.fetch(2, timeout=5)
    reasons = sorted(m.headers[REASON_HEADER] for m in parked)
    assert reasons[0].startswith("rejected tenant.archived: tenant poison is not accepted")
    assert reasons[1].startswith("undecodable tenant.archived")
    assert {m.subject for m in parked} == {"deadletter.probe.tenant.archived"}
    assert b"{this is not json" in [m.data for m in parked]
    # Parked and acknowledged: nothing is pending on the consumer any more.
    info = await js.consumer_info("TENANTS", "probe-seen")
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_redelivery_and_transient_failure_do_not_duplicate(start_service, private_nats):
    service = await start_service(
        DEFINITION, NATS_URL=private_nats.spec.url, VAULT_TOKEN=ROOT_TOKEN
    )
    js = service.runtime.js
    event = TenantArchived(tenant_id="flaky-1")
    for _ in range(3):  # the same event published three times
        await _publish(js, encode_event(event), event.event_id)
    pool = service.runtime.pool
    row = await eventually(
        lambda: pool.fetchrow("SELECT attempt FROM probe_seen WHERE tenant_id='flaky-1'"), 15
    )
    assert row["attempt"] == 2  # failed once, handled on redelivery
    assert await pool.fetchval("SELECT count(*) FROM probe_seen WHERE tenant_id='flaky-1'") == 1


async def test_ready_follows_nats_outage(start_service, private_nats):
    service = await start_service(
        DEFINITION, NATS_URL=private_nats.spec.url, VAULT_TOKEN=ROOT_TOKEN
    )
    async with service.client() as http:
        assert (await http.get("/ready")).status_code == 200
        private_nats.stop()

        async def not_ready():
            response = await http.get("/ready")
            return response.status_code == 503 and response.json()["checks"]["nats"] is False

        await eventually(not_ready)
        assert (await http.get("/health")).status_code == 200  # process still up
        private_nats.start()

        async def ready_again():
            return (await http.get("/ready")).status_code == 200

        await eventually(ready_again)


async def test_event_committed_while_nats_is_down_is_published_later(start_service, private_nats):
    service = await start_service(
        DEFINITION, NATS_URL=private_nats.spec.url, VAULT_TOKEN=ROOT_TOKEN
    )
    async with service.client() as http:
        private_nats.stop()
        response = await http.post("/archive", json={"tenantId": "outbox-1"})
        assert response.status_code == 201
        event_id = response.json()["eventId"]
        pool = service.runtime.pool
        assert (
            await pool.fetchval("SELECT count(*) FROM probe_archived WHERE tenant_id='outbox-1'")
            == 1
        )
        # The relay tries (its failed try counted on the row) and keeps the row.
        await eventually(
            lambda: pool.fetchval(
                "SELECT attempts > 0 FROM event_outbox WHERE event_id=$1", event_id
            )
        )
        assert await pool.fetchval(
            "SELECT published_at IS NULL FROM event_outbox WHERE event_id=$1", event_id
        )
        private_nats.start()
        await eventually(
            lambda: pool.fetchval(
                "SELECT published_at IS NOT NULL FROM event_outbox WHERE event_id=$1", event_id
            ),
            30,
        )
    nc = await nats.connect(private_nats.spec.url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            "tenant.archived",
            stream="TENANTS",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        messages = await sub.fetch(10, timeout=5)
        ids = [json.loads(m.data)["eventId"] for m in messages]
        assert ids.count(event_id) == 1
    finally:
        await nc.close()


async def test_micro_service_answers_operator_requests(start_service, private_nats):
    service = await start_service(
        DEFINITION, NATS_URL=private_nats.spec.url, VAULT_TOKEN=ROOT_TOKEN
    )
    reply = await service.runtime.nc.request("keybuzz.probe.count", b"{}", timeout=5)
    assert json.loads(reply.data) == {"seen": 0}
    info = await service.runtime.nc.request("$SRV.INFO.keybuzz-probe", b"", timeout=5)
    endpoints = json.loads(info.data)["endpoints"]
    assert [e["subject"] for e in endpoints] == ["keybuzz.probe.count", "keybuzz.probe.redrive"]


async def test_the_pool_holds_database_pool_size_connections_at_most(start_service, private_nats):
    service = await start_service(
        DEFINITION, NATS_URL=private_nats.spec.url, VAULT_TOKEN=ROOT_TOKEN, DATABASE_POOL_SIZE="3"
    )
    assert service.runtime.pool.get_max_size() == 3


async def test_bad_http_body_gets_a_json_400(start_service, private_nats):
    service = await start_service(
        DEFINITION, NATS_URL=private_nats.spec.url, VAULT_TOKEN=ROOT_TOKEN
    )
    async with service.client() as http:
        response = await http.post(
            "/archive", content=b"{nope", headers={"content-type": "application/json"}
        )
        missing = await http.post("/archive", json={})
    assert response.status_code == 400 and response.json()["error"] == "bad_request"
    assert missing.status_code == 400 and "tenantId" in json.dumps(missing.json())


def test_service_waiting_for_nats_still_stops_on_sigterm(tmp_path):
    """Ctrl-C/`make down` while a dependency is missing must not hang the process."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from keybuzz_devstack.infra import free_port
    from keybuzz_devstack.testing import until_the_limit

    env = {
        **os.environ,
        "NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "POLLER_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "keybuzz_poller"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60  # a loaded machine imports slowly
    while "waiting for NATS" not in process.stderr.readline():
        assert process.poll() is None and time.monotonic() < deadline
    process.send_signal(signal.SIGTERM)
    # A hang's bound: a process that ignored SIGTERM would wait for ever.
    assert process.wait(timeout=until_the_limit()) != 0
    assert "stopped during start-up" in process.stderr.read()


async def test_the_tests_run_on_the_event_loop_production_runs() -> None:
    """uvicorn runs every service on uvloop (``EVENT_LOOP``), and the services the tests
    start in-process share the test's loop: so the tests must run on uvloop too. Its
    transports and timers differ from asyncio's own (the MX's 421s crashed on it)."""
    import uvloop
    from keybuzz_shared.service import EVENT_LOOP

    assert EVENT_LOOP == "uvloop"
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
