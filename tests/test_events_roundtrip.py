"""Every event type travels through real JetStream and decodes with its schema."""

import asyncio
from datetime import UTC, datetime

import nats
import pytest
from keybuzz_shared import events as ev
from keybuzz_shared.messaging import _delivery_of, decode_delivered, publish_event
from keybuzz_shared.streams import STREAMS, ensure_streams, stream_for
from nats.js.api import ConsumerConfig, DeliverPolicy

NEW_ONLY = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)

SAMPLES: list[ev.Event] = [
    ev.TenantCreated(tenant_id="kbz-005", name="Shop", plan="pro", status="active", country="FR"),
    ev.TenantUpdated(tenant_id="kbz-005", name="Shop 2", plan="starter", status="active"),
    ev.TenantArchived(tenant_id="kbz-005", reason="closed"),
    ev.TenantSynced(
        tenant_id="kbz-005",
        name="Shop",
        plan="PRO",
        status="ACTIVE",
        inbound_addresses=[
            ev.InboundAddressInfo(
                marketplace="AMAZON", country="FR", email="a@b.test", status="PENDING"
            )
        ],
    ),
    ev.InboundAddressReceiving(
        tenant_id="kbz-005", email="a@b.test", marketplace="AMAZON", country="FR"
    ),
    ev.ConnectionConnected(
        tenant_id="kbz-005",
        connection_id="c1",
        seller_id="A12BCIS2R7HD4D",
        marketplace_ids=["A13V1IB3VIYZZH"],
        region="eu",
    ),
    ev.ConnectionDisconnected(tenant_id="kbz-005", seller_id="A12BCIS2R7HD4D"),
    ev.ConnectionReauthRequired(tenant_id="kbz-005", reason="invalid_grant"),
    ev.MessageReceived(
        tenant_id="kbz-005",
        external_message_id="<m1@marketplace.amazon.fr>",
        ticket_id="t1",
        ticket_message_id="tm1",
        order_id="171-3125066-7920325",
    ),
    ev.MessageSent(
        tenant_id="kbz-005",
        ticket_id="t1",
        ticket_message_id="tm2",
        message_id="<reply-tm2@inbound.keybuzz.test>",
        order_id="171-3125066-7920325",
        sent_at=datetime(2026, 11, 22, 8, 0, tzinfo=UTC),
    ),
    ev.MessageBounced(
        tenant_id="kbz-005",
        ticket_id="t1",
        ticket_message_id="tm3",
        message_id="<reply-tm3@inbound.keybuzz.test>",
        reason="The sender address is not approved",
        status_code="5.7.1",
    ),
    ev.TicketResponseDue(
        tenant_id="kbz-005",
        ticket_id="t1",
        respond_by=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        lead_seconds=7200,
    ),
    ev.TicketResponseOverdue(
        tenant_id="kbz-005", ticket_id="t1", respond_by=datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    ),
    ev.OrderBackfillCompleted(
        tenant_id="kbz-005", job_id="j1", days=90, counts=ev.BackfillCounts(fetched=94, created=94)
    ),
    ev.OrderBackfillFailed(
        tenant_id="kbz-005", job_id="j2", days=90, counts=ev.BackfillCounts(), reason="no creds"
    ),
]


def test_every_subject_has_a_sample():
    assert {s.type for s in SAMPLES} == set(ev.EVENT_TYPES)


@pytest.fixture
async def js(stack):
    nc = await nats.connect(stack.nats_url)
    jetstream = nc.jetstream()
    await ensure_streams(jetstream)
    yield jetstream
    await nc.close()


async def test_each_event_round_trips_through_jetstream(js):
    for sample in SAMPLES:
        stream = stream_for(sample.type)
        sub = await js.pull_subscribe(sample.type, stream=stream, config=NEW_ONLY)
        await publish_event(js, sample)
        [msg] = await sub.fetch(1, timeout=5)
        await msg.ack()
        decoded = decode_delivered(msg.data, ev.EVENT_TYPES[msg.subject], _delivery_of(msg, stream))
        assert decoded == sample
        assert msg.headers["Nats-Msg-Id"] == sample.event_id
        await sub.unsubscribe()


async def test_republishing_the_same_event_is_deduplicated(js):
    event = ev.TenantArchived(tenant_id="dup-1")
    first = await js.publish(event.type, ev.encode_event(event), headers=ev.event_headers(event))
    second = await js.publish(event.type, ev.encode_event(event), headers=ev.event_headers(event))
    assert second.duplicate and second.seq == first.seq


async def test_hand_written_event_gets_envelope_from_the_stream(js):
    """What `nats pub tenant.created '{...}'` sends: no eventId, no occurredAt."""
    sub = await js.pull_subscribe("tenant.created", stream="TENANTS", config=NEW_ONLY)
    await js.publish(
        "tenant.created",
        b'{"tenantId":"kbz-009","name":"Shop","plan":"pro","status":"active","extra":1}',
    )
    [msg] = await sub.fetch(1, timeout=5)
    delivery = _delivery_of(msg, "TENANTS")
    first = decode_delivered(msg.data, ev.TenantCreated, delivery)
    again = decode_delivered(msg.data, ev.TenantCreated, delivery)
    # stable across redeliveries, unique across streams re-created with the same sequence
    assert first.event_id == again.event_id
    assert first.event_id.startswith(f"TENANTS-{delivery.stream_sequence}-")
    assert first.occurred_at == delivery.published_at
    assert first.type == "tenant.created" and first.name == "Shop"
    await msg.ack()


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json", "malformed"),
        (b"[1,2]", "expected a JSON object"),
        (b'{"name":"x","plan":"pro","status":"active"}', "tenantId"),
        (b'{"tenantId":"a.b","name":"x","plan":"pro","status":"active"}', "tenantId"),
        (
            b'{"tenantId":"t","type":"tenant.updated","name":"x","plan":"p","status":"s"}',
            "does not match",
        ),
        (
            b'{"tenantId":"t","name":"x","plan":"p","status":"s","occurredAt":"2026-01-01T00:00:00"}',
            "time zone",
        ),
        (b"[" * 100_000 + b"]" * 100_000, ""),  # too deep: RecursionError or a depth error
        (b'{"tenantId":"t","name":"\xff\xfe","plan":"p","status":"s"}', ""),  # bad UTF-8
        (b'{"tenantId":"t","name":"a\\u0000b","plan":"p","status":"s"}', "NUL"),
        (b'{"tenantId":"t","name":"\\ud800","plan":"p","status":"s"}', "surrogate"),
        (
            b'{"tenantId":"t","name":"x","plan":"p","status":"s","occurredAt":"2999-01-01T00:00:00Z"}',
            "in the future",
        ),
    ],
)
def test_bad_bodies_are_rejected_with_a_reason(body, reason):
    from keybuzz_shared.messaging import Delivery, UndecodableEvent

    delivery = Delivery("tenant.created", "TENANTS", 1, datetime.now(UTC), 1)
    with pytest.raises(UndecodableEvent) as info:
        decode_delivered(body, ev.TenantCreated, delivery)
    assert reason.lower() in str(info.value).lower()


async def test_streams_provisioning_is_idempotent_and_concurrent(stack):
    conns = [await nats.connect(stack.nats_url) for _ in range(3)]
    try:
        await asyncio.gather(*(ensure_streams(c.jetstream()) for c in conns))
        names = {s.config.name for s in await conns[0].jetstream().streams_info()}
        assert set(STREAMS) <= names
    finally:
        for c in conns:
            await c.close()
