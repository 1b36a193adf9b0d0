"""Scale-out on NATS itself: a three-node JetStream cluster, R3 streams, two instances
of every service of the mail flow, and one NATS node killed (SIGKILL) in the middle.

The flow: the product app publishes ``tenant.created`` → tenant-sync (×2) makes the
inbound address and emits ``tenant.synced`` → the poller (×2) learns the address →
the sandbox relays buyer mails to the pollers' MX → tickets → ``message.received``
→ tenant-sync turns the address ACTIVE, orders (×2) look the order up. The node
leading the ``TENANTS`` stream is killed once the first half is through; the second
half runs on the two survivors. The figures printed at the end are in
docs/OPERATIONS.md ("Measured here").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from keybuzz_devstack import bootstrap, infra
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_shared.events import TenantCreated, encode_event, event_headers
from keybuzz_shared.settings import CommonSettings, SettingsError, load_settings
from keybuzz_shared.streams import (
    PROVISION_ANSWER_SECONDS,
    STREAMS,
    UNANSWERED,
    ensure_streams,
    ensure_streams_patiently,
)
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.js.api import ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

StartService = Callable[..., Awaitable[RunningService]]

SELLER = "A12BCIS2R7HD4D"  # the sandbox's seeded seller: its relay mails name its orders
TENANTS_PER_PHASE = 6
MAILS_PER_TENANT = 2
# A new stream leader is elected within ~5 s of the old one's death (measured); an R1
# stream on the killed node would never come back.
PUBLISH_PATIENCE_SECONDS = 20


@pytest.fixture
def nats_cluster(
    infra_root: Path, nats_users: dict[str, str]
) -> Iterator[list[infra.RunningServer]]:
    """Three nodes, started together (one alone never gets a quorum). Their ports are
    picked free then bound by the servers: another test's server may take one meanwhile,
    so a cluster that fails to start is made again on other ports (three tries)."""
    for attempt in range(3):
        root = infra_root / f"nats-cluster-{uuid.uuid4().hex[:6]}"
        root.mkdir()
        nodes = [
            infra.RunningServer(spec, root / f"{spec.name}.log")
            for spec in infra.nats_cluster_specs(root, users=nats_users)
        ]
        try:
            with ThreadPoolExecutor(len(nodes)) as starting:
                list(starting.map(lambda node: node.start(60), nodes))
            break
        except RuntimeError:
            for node in nodes:
                node.stop()
            if attempt == 2:
                raise
    yield nodes
    for node in nodes:
        node.stop()


@dataclass
class ReadinessWatch:
    """``/ready`` of every service every 0.2 s for the whole test: what answered not 200."""

    services: dict[str, RunningService]
    failures: list[tuple[str, float, str]] = field(default_factory=list)
    probes: int = 0

    async def run(self) -> None:
        # A new connection a probe: a kept-alive one the server closes as a late probe
        # reuses it (its keep-alive timeout, on a loaded machine) fails as a disconnect,
        # which says nothing of readiness. An answer is waited for up to 30 s: the services
        # share the test's loop, and a loaded machine (a second suite beside it) held a
        # ready service's answer past 5 s; a service that never answers still fails.
        no_reuse = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=30, limits=no_reuse) as http:
            while True:
                for name, service in self.services.items():
                    await self._probe(http, name, service)
                await asyncio.sleep(0.2)

    async def _probe(self, http: httpx.AsyncClient, name: str, service: RunningService) -> None:
        self.probes += 1
        try:
            response = await http.get(f"{service.url}/ready")
        except httpx.HTTPError as exc:
            self.failures.append((name, time.monotonic(), repr(exc)))
            return
        if response.status_code != 200:
            self.failures.append((name, time.monotonic(), response.text))


@contextlib.asynccontextmanager
async def watching(services: dict[str, RunningService]) -> AsyncIterator[ReadinessWatch]:
    watch = ReadinessWatch(services)
    task = asyncio.create_task(watch.run())
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def publish_created(js: Any, tenant_id: str) -> float:
    """Publish as a careful producer does: retry with the same ``Nats-Msg-Id`` until acked.

    Returns the seconds it took (long only while the stream elects a new leader).
    """
    event = TenantCreated(
        tenant_id=tenant_id,
        name=f"Shop {tenant_id}",
        plan="pro",
        status="active",
        country="FR",
        create_inbound_address=True,
    )
    started = time.monotonic()
    while True:
        try:
            await js.publish(
                event.type, encode_event(event), headers=event_headers(event), timeout=1
            )
            return time.monotonic() - started
        except (TimeoutError, NoRespondersError, NoStreamResponseError, APIError) as exc:
            if time.monotonic() - started > PUBLISH_PATIENCE_SECONDS:
                raise AssertionError(f"tenant.created not stored: {exc!r}") from exc
            await asyncio.sleep(0.1)


async def _created(js: Any, config: StreamConfig) -> None:
    """A stream created on a cluster, asked again while its creation goes unanswered (the
    same config again is accepted as is)."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(UNANSWERED),
        stop=stop_after_delay(PUBLISH_PATIENCE_SECONDS),
        reraise=True,
    ):
        with attempt:
            await js.add_stream(config)


async def _stored_once(js: Any, subject: str, msg_id: str) -> Any:
    """A publish to a stream a new cluster has just created: until its leader is elected
    it has no responder (seen once in a full run), so it is asked again, the same
    ``Nats-Msg-Id`` keeping it stored once."""
    started = time.monotonic()
    while True:
        try:
            return await js.publish(subject, b"{}", headers={"Nats-Msg-Id": msg_id}, timeout=2)
        except (TimeoutError, NoRespondersError, NoStreamResponseError) as exc:
            if time.monotonic() - started > PUBLISH_PATIENCE_SECONDS:
                raise AssertionError(f"{subject} not stored: {exc!r}") from exc
            await asyncio.sleep(0.1)


async def publish_rate(js: Any, count: int = 300) -> float:
    """Acknowledged publishes per second to an R3 stream, all in flight together."""
    started = time.monotonic()
    await asyncio.gather(*(js.publish(f"probe.{i}", b"x", timeout=10) for i in range(count)))
    return count / (time.monotonic() - started)


async def addresses(pool: Any, tenants: list[str]) -> dict[str, str]:
    rows = await pool.fetch(
        "SELECT tenant_id, email FROM poller_inbound_addresses WHERE tenant_id = ANY($1)", tenants
    )
    return {row["tenant_id"]: row["email"] for row in rows}


async def relay(sandbox: httpx.AsyncClient, address: str, mx_port: int) -> list[str]:
    """The sandbox relays buyer mails to the inbound address through one poller's MX."""
    response = await sandbox.post(
        "/_sandbox/messages",
        json={
            "sellingPartnerId": SELLER,
            "to": address,
            "count": MAILS_PER_TENANT,
            "smtpHost": "127.0.0.1",
            "smtpPort": mx_port,
        },
    )
    assert response.status_code == 200, response.text
    return [sent["messageId"] for sent in response.json()["sent"]]


async def stream_events(nc: Client, stream: str, subject: str) -> list[dict[str, Any]]:
    """Every message of ``subject`` stored in ``stream`` (an ephemeral consumer from the start)."""
    import json

    js = nc.jetstream()
    # After a node is killed the stream's new leader may still be settling: JetStream
    # answers 503 (no leader yet) for a moment; the reading waits for it, the flow under
    # test is checked by what it then reads.
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(ServiceUnavailableError),
        wait=wait_fixed(0.5),
        stop=stop_after_delay(15),
        reraise=True,
    ):
        with attempt:
            total = (await js.stream_info(stream)).state.messages
            sub = await js.pull_subscribe(
                subject, stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
            )
    events: list[dict[str, Any]] = []
    try:
        while True:
            try:
                batch = await sub.fetch(256, timeout=1)
            except TimeoutError:  # nats-py raises its own subclass or asyncio's
                break
            for message in batch:
                events.append(json.loads(message.data))
                await message.ack()
            if len(events) >= total:
                break
    finally:
        await sub.unsubscribe()
    return events


async def drained(js: Any) -> list[str]:
    """Durable consumers that still have something to deliver or to be acknowledged."""
    busy = []
    for stream in STREAMS:
        for consumer in await js.consumers_info(stream):
            if consumer.num_pending or consumer.num_ack_pending:
                busy.append(f"{stream}/{consumer.name}")
    return busy


def polls_overlapping(records: list[logging.LogRecord]) -> list[str]:
    """Tenants two polls of which overlapped in time (from the poller's ``tenant polled``)."""
    by_tenant: dict[str, list[tuple[float, float]]] = {}
    for record in records:
        if record.getMessage() == "tenant polled":
            fields = vars(record)
            start = fields["started_at"]  # the span ends before the lease is released
            by_tenant.setdefault(fields["tenant_id"], []).append((start, start + fields["seconds"]))
    overlapping = []
    for tenant, spans in by_tenant.items():
        spans.sort()
        # `seconds` is rounded to the millisecond: allow that much.
        if any(nxt < end - 0.002 for (_, end), (nxt, _) in zip(spans, spans[1:], strict=False)):
            overlapping.append(tenant)
    return overlapping


async def test_a_nats_node_killed_mid_flow_loses_and_duplicates_nothing(
    nats_cluster: list[infra.RunningServer],
    nats_users: dict[str, str],
    start_service: StartService,
    make_database: Callable[[str], Awaitable[str]],
    dovecot: MailServer,
    sandbox_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="keybuzz_poller.polling")
    urls = [node.spec.url for node in nats_cluster]
    # as the deployment's nats-provision Job does, with NATS_STREAM_REPLICAS=3
    infra.provision_streams(",".join(urls), nats_users, replicas=3)
    product = await make_database("product")
    await bootstrap.seed_product_database(product)
    shared = {
        "NATS_URL": ",".join(urls),
        "NATS_STREAM_REPLICAS": "3",
        "DATABASE_URL": await make_database("cluster"),  # one keybuzz_backend, as in production
        "PRODUCT_DATABASE_URL": product,
    }
    # A lease is as long as the interval, renewed while its poll runs: 3 s, so that a renewal
    # a busy machine delays does not let the other instance poll the same tenant meanwhile.
    poller_env = {"POLL_INTERVAL_SECONDS": "3", **dovecot.settings, **shared}
    orders_env = {"LWA_ENDPOINT": f"{sandbox_url}/auth/o2/token", "SPAPI_ENDPOINT": sandbox_url}
    services = {
        "tenant-sync-1": await start_service(TENANT_SYNC, **shared),
        "tenant-sync-2": await start_service(TENANT_SYNC, **shared),
        "poller-1": await start_service(POLLER, **poller_env),
        "poller-2": await start_service(POLLER, **poller_env),
        "orders-1": await start_service(ORDERS, **orders_env, **shared),
        "orders-2": await start_service(ORDERS, **orders_env, **shared),
    }
    pool = services["poller-1"].runtime.pool
    mx_ports = [services[p].runtime.settings.mx_port for p in ("poller-1", "poller-2")]
    product_app = await nats.connect(
        servers=urls, max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )
    js = product_app.jetstream()
    streams = {name: await js.stream_info(name) for name in STREAMS}
    assert {name: info.config.num_replicas for name, info in streams.items()} == dict.fromkeys(
        STREAMS, 3
    )
    await _created(js, StreamConfig(name="PROBE", subjects=["probe.>"], num_replicas=3))
    # A new R3 stream has no responder until its raft group elects a leader: one publish is
    # asked again until stored, then the first burst waits only for what it measures.
    await _stored_once(js, "probe.first", "probe-first")
    await publish_rate(js, 50)
    sandbox = httpx.AsyncClient(base_url=sandbox_url, timeout=30)
    phases = [[f"t-cl{p}-{uuid.uuid4().hex[:8]}" for _ in range(TENANTS_PER_PHASE)] for p in (1, 2)]
    sent: dict[str, list[str]] = {}

    async def run_phase(tenants: list[str]) -> tuple[float, float]:
        """tenant.created for each → address known to the pollers → mails relayed.

        Returns the seconds until every publish was acknowledged, and until every
        address had reached the pollers.
        """
        started = time.monotonic()
        await asyncio.gather(*(publish_created(js, tenant) for tenant in tenants))
        published = time.monotonic() - started

        async def all_known() -> dict[str, str] | None:
            known = await addresses(pool, tenants)
            return known if len(known) == len(tenants) else None

        known = await eventually(all_known)
        synced = time.monotonic() - started
        for index, tenant in enumerate(tenants):
            sent[tenant] = await relay(sandbox, known[tenant], mx_ports[index % 2])
        return published, synced

    try:
        async with watching(services) as readiness:
            _, before = await run_phase(phases[0])
            rate_before = await publish_rate(js)
            leader = (await js.stream_info("TENANTS")).cluster
            assert leader is not None and leader.leader is not None
            victim = next(n for n in nats_cluster if n.spec.name == leader.leader)
            assert victim.process is not None
            victim.process.kill()  # SIGKILL: no goodbye to its peers or clients
            killed_at = time.monotonic()
            failover, after = await run_phase(phases[1])  # published while a leader is elected
            await eventually(lambda: _led_by_survivor(js, "PROBE", victim.spec.name))
            rate_after = await publish_rate(js)

            everyone = phases[0] + phases[1]

            async def all_stored() -> bool:
                count = await pool.fetchval(
                    "SELECT count(*) FROM poller_ticket_messages WHERE tenant_id = ANY($1)",
                    everyone,
                )
                return bool(count == len(everyone) * MAILS_PER_TENANT)

            await eventually(all_stored)

            async def all_active() -> bool:
                count = await pool.fetchval(
                    "SELECT count(*) FROM inbound_addresses"
                    " WHERE tenant_id = ANY($1) AND status = 'ACTIVE'",
                    everyone,
                )
                return bool(count == len(everyone))

            await eventually(all_active)
            busy = await eventually(lambda: _none_busy(js))
            assert busy == "drained"
        # --- exactly once, nothing lost ------------------------------------------------
        tenants = await pool.fetch("SELECT id FROM tenants WHERE id = ANY($1)", everyone)
        assert sorted(r["id"] for r in tenants) == sorted(everyone)
        per_tenant = await pool.fetch(
            """
            SELECT t.tenant_id,
                   array_agg(e.external_id ORDER BY e.external_id) AS external_ids
            FROM poller_ticket_messages m
            JOIN poller_tickets t ON t.id = m.ticket_id
            JOIN poller_external_messages e ON e.id = m.external_message_id
            WHERE t.tenant_id = ANY($1) GROUP BY t.tenant_id
            """,
            everyone,
        )
        for row in per_tenant:
            mails = sorted(mid.strip("<>") for mid in sent[row["tenant_id"]])
            assert sorted(x.strip("<>") for x in row["external_ids"]) == mails
        assert len(per_tenant) == len(everyone)
        inbound = await pool.fetch(
            "SELECT tenant_id, count(*) AS n FROM inbound_addresses"
            " WHERE tenant_id = ANY($1) GROUP BY tenant_id",
            everyone,
        )
        assert {r["tenant_id"]: r["n"] for r in inbound} == dict.fromkeys(everyone, 1)
        created = [
            e
            for e in await stream_events(product_app, "TENANTS", "tenant.created")
            if e["tenantId"] in everyone
        ]
        assert sorted(e["tenantId"] for e in created) == sorted(everyone)  # retries de-duplicated
        received = [
            e
            for e in await stream_events(product_app, "MESSAGES", "message.received")
            if e["tenantId"] in everyone
        ]
        assert len(received) == len(everyone) * MAILS_PER_TENANT
        assert len({e["ticketMessageId"] for e in received}) == len(received)
        assert (await js.stream_info("DEADLETTER")).state.messages == 0
        assert not polls_overlapping(caplog.records)
        assert {vars(r)["instance"] for r in caplog.records if r.getMessage() == "tenant polled"}
        assert not _outside(readiness.failures, killed_at), readiness.failures
        print(
            f"\nNATS cluster: kill of the TENANTS leader → every publish acked {failover:.2f} s; "
            f"{TENANTS_PER_PHASE} tenants created → "
            f"addresses known to the pollers: {before:.2f} s before, {after:.2f} s after; "
            f"R3 publishes/s {rate_before:.0f} (3 servers) → {rate_after:.0f} (2 servers); "
            f"/ready probes {readiness.probes}, not ready {len(readiness.failures)} "
            f"{[(name, round(at - killed_at, 2)) for name, at, _ in readiness.failures]}"
        )
    finally:
        await sandbox.aclose()
        await product_app.close()


async def _led_by_survivor(js: Any, stream: str, dead: str) -> bool:
    try:
        cluster = (await js.stream_info(stream)).cluster
    except (TimeoutError, APIError):  # JetStream answers 503 while it elects leaders
        return False
    return bool(cluster and cluster.leader and cluster.leader != dead)


async def _none_busy(js: Any) -> str | None:
    try:
        return None if await drained(js) else "drained"
    except (TimeoutError, APIError):  # JetStream answers 503 while it elects leaders
        return None


def _outside(failures: list[tuple[str, float, str]], killed_at: float) -> list[str]:
    """Readiness failures other than a service's reconnect in the 3 s after the kill."""
    return [f"{name}: {why}" for name, at, why in failures if not 0 <= at - killed_at <= 3]


async def test_existing_streams_are_scaled_to_the_replica_setting_in_place(
    nats_cluster: list[infra.RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    nc = await nats.connect(servers=[node.spec.url for node in nats_cluster])
    # A new cluster's first stream creations go through its meta group's consensus: past
    # nats-py's 5 s on a loaded 2-core machine, or unanswered (as the provisioning Job does).
    js = nc.jetstream(timeout=PROVISION_ANSWER_SECONDS)
    try:
        await ensure_streams_patiently(js)  # as a single-server deployment left them: R1
        stored = await _stored_once(js, "tenant.created", "before")
        await ensure_streams_patiently(js, replicas=3)
        for name in STREAMS:
            assert (await js.stream_info(name)).config.num_replicas == 3
        kept = await js.get_msg("TENANTS", stored.seq)
        assert kept.headers is not None and kept.headers["Nats-Msg-Id"] == "before"
        caplog.set_level(logging.INFO, logger="keybuzz_shared.streams")
        caplog.clear()
        await ensure_streams(js, replicas=3)  # every later start: nothing to change
        assert not [r for r in caplog.records if r.getMessage().startswith("stream ")]
    finally:
        await nc.close()


async def test_provisioning_outlasts_a_cluster_without_a_leader(
    nats_cluster: list[infra.RunningServer], caplog: pytest.LogCaptureFixture
) -> None:
    """Two nodes of three frozen: the survivor can elect no leader and a stream creation
    goes unanswered. Provisioning gives up past its patience with that error, and begun
    again it outlasts the outage: once the two nodes are back, every stream is R3."""
    survivor, *frozen = nats_cluster
    nc = await nats.connect(servers=[survivor.spec.url])
    js = nc.jetstream(timeout=2)
    caplog.set_level(logging.WARNING, logger="keybuzz_shared.streams")
    for node in frozen:
        assert node.process is not None
        node.process.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(UNANSWERED):
            await ensure_streams_patiently(js, replicas=3, patience=1)
        caplog.clear()
        provisioning = asyncio.create_task(ensure_streams_patiently(js, replicas=3))
        await eventually(lambda: _asked_again(caplog.records, provisioning))
    finally:
        for node in frozen:
            assert node.process is not None
            node.process.send_signal(signal.SIGCONT)
    try:
        await provisioning
        for name in STREAMS:
            assert (await js.stream_info(name)).config.num_replicas == 3
    finally:
        await nc.close()


async def _asked_again(records: list[logging.LogRecord], provisioning: asyncio.Task[None]) -> bool:
    """An answer missed and asked again (or the provisioning over: its error is raised)."""
    return provisioning.done() or any(
        r.getMessage().startswith("JetStream did not answer") for r in records
    )


def test_nats_url_lists_the_servers_of_a_cluster_and_replicas_are_bounded() -> None:
    urls = "nats://n1:4222, nats://n2:4222,nats://n3:4222"
    settings = load_settings(CommonSettings, {"NATS_URL": urls, "NATS_STREAM_REPLICAS": "3"})
    assert settings.nats_servers == ["nats://n1:4222", "nats://n2:4222", "nats://n3:4222"]
    assert settings.nats_stream_replicas == 3
    assert load_settings(CommonSettings, {}).nats_stream_replicas == 1
    for wrong in ("0", "6", "three"):
        with pytest.raises(SettingsError, match="NATS_STREAM_REPLICAS"):
            load_settings(CommonSettings, {"NATS_STREAM_REPLICAS": wrong})
