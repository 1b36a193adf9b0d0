"""Every subject a service consumes (contracts.ROUTES), fed malformed and hostile bodies.

The four services run for real on a NATS server of this test's own (so nobody
else's consumers see the junk, and the dead-letter stream holds only ours).
For each consumed subject, in this order:

1. ``REFUSED`` bodies: not JSON, empty, wrong root type, wrong types, missing
   fields, a 300 kB string, nesting 5,000 deep, NUL, a lone surrogate, invalid
   UTF-8, ``occurredAt`` a day ahead. Each must be parked on
   ``deadletter.<service>.<subject>`` by every consumer of the subject, with its
   reason and original subject in the headers;
2. ``HARMLESS`` bodies, well formed but hostile in meaning: a tenant nobody
   knows, and one event delivered twice with the same ``eventId`` (no
   ``Nats-Msg-Id``, so JetStream keeps both): handled (acknowledged), never
   dead-lettered, never retried forever;
3. a valid event, which must be handled after all of them: no consumer is stuck.

Then no consumer has anything pending, and every service answers ``/health``.
Counts come from each service's ``keybuzz_events_total`` (deltas: the counters
live as long as the test process) and from the ``DEADLETTER`` stream.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
from keybuzz_devstack import bootstrap
from keybuzz_devstack.testing import eventually
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_shared.contracts import ROUTES
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
    Event,
    InboundAddressReceiving,
    MessageReceived,
    TenantArchived,
    TenantCreated,
    TenantSynced,
    TenantUpdated,
    encode_event,
)
from keybuzz_shared.messaging import ORIGINAL_SUBJECT_HEADER, REASON_HEADER
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC
from prometheus_client.parser import text_string_to_metric_families

DEFINITIONS = {d.name: d for d in (OAUTH, POLLER, ORDERS, TENANT_SYNC)}
CONSUMED = {subject: route.consumers for subject, route in ROUTES.items() if route.consumers}


def valid_event(subject: str, tenant: str) -> Event:
    """A well-formed event of ``subject`` about ``tenant``."""
    events: dict[str, Event] = {
        "tenant.created": TenantCreated(tenant_id=tenant, name="Fuzz", plan="pro", status="active"),
        "tenant.updated": TenantUpdated(tenant_id=tenant, name="Fuzz", plan="pro", status="active"),
        "tenant.archived": TenantArchived(tenant_id=tenant, reason="fuzz"),
        "tenant.synced": TenantSynced(tenant_id=tenant, name="Fuzz", plan="pro", status="active"),
        "tenant.inbound_address.receiving": InboundAddressReceiving(
            tenant_id=tenant,
            email=f"amazon.{tenant}.fr.fuzz@inbound.keybuzz.test",
            marketplace="AMAZON",
            country="FR",
        ),
        "connection.connected": ConnectionConnected(
            tenant_id=tenant,
            connection_id=str(uuid.uuid4()),
            seller_id="A12BCIS2R7HD4D",
            marketplace_ids=["A13V1IB3VIYZZH"],
            region="eu",
        ),
        "connection.disconnected": ConnectionDisconnected(tenant_id=tenant, reason="fuzz"),
        "connection.reauth_required": ConnectionReauthRequired(tenant_id=tenant, reason="fuzz"),
        "message.received": MessageReceived(
            tenant_id=tenant,
            external_message_id=f"<{uuid.uuid4()}@fuzz>",
            ticket_id=str(uuid.uuid4()),
            ticket_message_id=str(uuid.uuid4()),
            order_id="171-1234567-1234567",
        ),
    }
    event = events[subject]
    assert event.type == subject
    return event


def _with(subject: str, **changes: Any) -> bytes:
    body = json.loads(encode_event(valid_event(subject, f"t-{uuid.uuid4().hex[:10]}")))
    body.update(changes)
    return json.dumps(body, ensure_ascii=False).encode()


def refused_bodies(subject: str) -> list[bytes]:
    base = encode_event(valid_event(subject, "t-base"))
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return [
        b"not json at all",
        b"",
        b"[1, 2, 3]",
        _with(subject, tenantId=12345),  # wrong type
        json.dumps({"type": subject}).encode(),  # missing fields
        _with(subject, tenantId="t" * 300_000),  # huge string (and not a tenant id)
        _with(subject, tenantId="t-deep").replace(
            b"{", b'{"deep": ' + b"[" * 5000 + b"]" * 5000 + b", ", 1
        ),
        _with(subject, tenantId="t-nul\u0000"),  # NUL: PostgreSQL cannot store it
        _with(subject, tenantId="t-surrogate").replace(
            b"t-surrogate", b"t-\\ud800"
        ),  # lone surrogate
        base.replace(b"t-base", b"t-\xff\xfe"),  # invalid UTF-8
        _with(subject, occurredAt=future),  # from the future
    ]


def harmless_bodies(subject: str) -> list[bytes]:
    twice = encode_event(valid_event(subject, f"t-{uuid.uuid4().hex[:10]}"))
    return [encode_event(valid_event(subject, "t-nobody-knows")), twice, twice]


async def _events_total(service: Any) -> Counter[tuple[str, str]]:
    async with service.client() as http:
        text = (await http.get("/metrics")).text
    counts: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name == "keybuzz_events":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = (sample.labels["subject"], sample.labels["outcome"])
                    counts[key] += int(sample.value)
    return counts


async def _dead_letters(nats_url: str) -> dict[str, list[Any]]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe("deadletter.>", stream="DEADLETTER")
        found: dict[str, list[Any]] = {}
        while True:
            try:
                batch = await sub.fetch(256, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                return found
            for msg in batch:
                found.setdefault(msg.subject, []).append(msg)
                await msg.ack()
    finally:
        await nc.close()


async def _start_all(start_service, make_database, dovecot, nats_url: str) -> dict[str, Any]:
    product = await make_database("product")
    await bootstrap.seed_product_database(product)
    env = {"NATS_URL": nats_url}
    extra = {"poller": dovecot.settings, "tenant-sync": {"PRODUCT_DATABASE_URL": product}}
    return {
        name: await start_service(definition, **env, **extra.get(name, {}))
        for name, definition in DEFINITIONS.items()
    }


async def test_hostile_events_are_dead_lettered_and_consumers_go_on(
    private_nats, dovecot, make_database, start_service
):  # private_nats first: it is stopped after the services
    url = private_nats.spec.url
    services = await _start_all(start_service, make_database, dovecot, url)
    before = {name: await _events_total(s) for name, s in services.items()}
    nc = await nats.connect(url)
    js = nc.jetstream()
    finals: dict[str, str] = {}
    for subject in CONSUMED:
        for body in refused_bodies(subject) + harmless_bodies(subject):
            await js.publish(subject, body)  # no Nats-Msg-Id: every copy is delivered
        final = valid_event(subject, f"t-final-{uuid.uuid4().hex[:8]}")
        await js.publish(subject, encode_event(final))
        finals[subject] = final.tenant_id
    await nc.close()

    refused = len(refused_bodies("tenant.created"))
    handled = len(harmless_bodies("tenant.created")) + 1  # and the final valid one

    async def settled() -> dict[str, Counter[tuple[str, str]]] | None:
        deltas = {}
        for name, service in services.items():
            now = await _events_total(service)
            now.subtract(before[name])
            deltas[name] = now
        done = all(
            deltas[name][(subject, "dead_lettered")] >= refused
            and deltas[name][(subject, "ok")] >= handled
            for subject, consumers in CONSUMED.items()
            for name in consumers
        )
        return deltas if done else None

    deltas = await eventually(settled)
    for subject, consumers in CONSUMED.items():
        for name in consumers:
            assert deltas[name][(subject, "dead_lettered")] == refused, (name, subject)
            ok = deltas[name][(subject, "ok")]
            # tenant-sync publishes tenant.synced itself for the valid tenant.* events.
            assert ok == handled or (ok > handled and subject == "tenant.synced"), (name, subject)

    letters = await _dead_letters(url)
    for subject, consumers in CONSUMED.items():
        for name in consumers:
            parked = letters.get(f"deadletter.{name}.{subject}", [])
            assert len(parked) == refused, (name, subject, len(parked))
            for letter in parked:
                assert letter.headers[REASON_HEADER], (name, subject)
                assert letter.headers[ORIGINAL_SUBJECT_HEADER] == subject

    # The final valid tenant.created was applied, once, after all the junk.
    async with services["tenant-sync"].client() as http:
        status = await http.get(
            f"/api/v1/tenants/status/{finals['tenant.created']}",
            headers={"X-Internal-Key": "keybuzz-dev-internal"},
        )
    assert status.status_code == 200, status.text
    for name, service in services.items():
        async with service.client() as http:
            assert (await http.get("/health")).status_code == 200, name
        for consumer in await _consumers(service):
            assert consumer.num_pending == 0 and consumer.num_ack_pending == 0, consumer.name


async def _consumers(service: Any) -> list[Any]:
    js = (await service.operator()).jetstream()
    found = []
    for stream in ("TENANTS", "CONNECTIONS", "MESSAGES"):
        for info in await js.consumers_info(stream):
            if info.name.startswith(f"{service.runtime.name}-"):
                found.append(info)
    await asyncio.sleep(0)
    return found
