"""tenant.created/updated/archived and message.received, end to end on real NATS and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from keybuzz_shared.events import MessageReceived, encode_event
from keybuzz_shared.messaging import REASON_HEADER
from tenant_sync_support import eventually, processed, publish, tenant_id

CREATED = "tenant-sync-tenant-created"
UPDATED = "tenant-sync-tenant-updated"
ACTIVATION = "tenant-sync-inbound-activation"


def body(tenant: str, **fields: object) -> dict[str, object]:
    """What ``nats pub tenant.created '{...}'`` sends: no envelope but tenantId."""
    return {"tenantId": tenant, "name": "Shop", "plan": "pro", "status": "active", **fields}


async def tenant_row(service, tenant: str):
    return await service.runtime.pool.fetchrow("SELECT * FROM tenants WHERE id = $1", tenant)


async def addresses(service, tenant: str) -> list:
    return await service.runtime.pool.fetch(
        "SELECT * FROM inbound_addresses WHERE tenant_id = $1 ORDER BY country", tenant
    )


async def test_created_event_upserts_maps_and_creates_address(service, js, watch):
    synced = await watch("tenant.synced")
    tenant = tenant_id()
    await publish(
        js, "tenant.created", body(tenant, country="FR", createInboundAddress=True, extra="ignored")
    )

    event = await synced.for_tenant(tenant)
    row = await tenant_row(service, tenant)
    assert (row["name"], row["plan"], row["status"]) == ("Shop", "PRO", "ACTIVE")
    # No occurredAt in the body: the JetStream timestamp orders it.
    assert abs((datetime.now(UTC) - row["last_event_at"]).total_seconds()) < 30
    [address] = await addresses(service, tenant)
    assert re.fullmatch(
        rf"amazon\.{tenant}\.fr\.[a-z2-7]{{16}}@inbound\.keybuzz\.test", address["email"]
    )
    assert (address["country"], address["status"], address["marketplace"]) == (
        "FR",
        "PENDING",
        "AMAZON",
    )
    connection = await service.runtime.pool.fetchrow(
        "SELECT * FROM inbound_connections WHERE id = $1", address["connection_id"]
    )
    assert (connection["tenant_id"], connection["status"]) == (tenant, "ACTIVE")
    assert event["type"] == "tenant.synced" and (event["plan"], event["status"]) == (
        "PRO",
        "ACTIVE",
    )
    assert event["inboundAddresses"] == [
        {
            "marketplace": "AMAZON",
            "country": "FR",
            "email": address["email"],
            "status": "PENDING",
            "receiving": False,
        }
    ]


async def test_updated_event_changes_tenant_and_adds_countries(service, js, watch):
    synced = await watch("tenant.synced")
    tenant = tenant_id()
    await publish(js, "tenant.created", body(tenant, country="FR", createInboundAddress=True))
    await synced.for_tenant(tenant)
    [fr] = await addresses(service, tenant)

    update = body(tenant, name="Shop 2", plan="Enterprise", status="suspended")
    await publish(
        js, "tenant.updated", {**update, "countries": ["de", "FR"], "createInboundAddress": True}
    )

    event = await synced.for_tenant(tenant)
    row = await tenant_row(service, tenant)
    assert (row["name"], row["plan"], row["status"]) == ("Shop 2", "ENTERPRISE", "SUSPENDED")
    de, fr_again = await addresses(service, tenant)
    assert fr_again["email"] == fr["email"]  # never regenerated
    assert de["email"].startswith(f"amazon.{tenant}.de.") and de["token"] != fr["token"]
    assert [a["country"] for a in event["inboundAddresses"]] == ["DE", "FR"]


async def test_archived_event_disables_addresses_and_connection(service, js, watch):
    synced = await watch("tenant.synced")
    tenant = tenant_id()
    await publish(
        js, "tenant.created", body(tenant, countries=["FR", "ES"], createInboundAddress=True)
    )
    await synced.for_tenant(tenant)

    await publish(js, "tenant.archived", {"tenantId": tenant, "reason": "closed"})

    event = await synced.for_tenant(tenant)
    assert event["status"] == "ARCHIVED"
    assert {a["status"] for a in event["inboundAddresses"]} == {"DISABLED"}
    assert (await tenant_row(service, tenant))["status"] == "ARCHIVED"
    assert {a["status"] for a in await addresses(service, tenant)} == {"DISABLED"}
    connections = await service.runtime.pool.fetch(
        "SELECT status FROM inbound_connections WHERE tenant_id = $1", tenant
    )
    assert [c["status"] for c in connections] == ["DISABLED"]

    # Reactivated in the product: the addresses come back (PENDING: no mail yet).
    await publish(js, "tenant.updated", body(tenant))
    await synced.for_tenant(tenant)
    assert {a["status"] for a in await addresses(service, tenant)} == {"PENDING"}


async def test_archiving_a_tenant_not_yet_seen_takes_it_from_the_product(service, js, watch):
    synced = await watch("tenant.synced")
    await publish(js, "tenant.archived", {"tenantId": "kbz-003"})

    event = await synced.for_tenant("kbz-003")
    assert (event["name"], event["plan"], event["status"]) == ("KeyBuzz Demo 3", "PRO", "ARCHIVED")
    assert (await tenant_row(service, "kbz-003"))["status"] == "ARCHIVED"


async def test_redelivered_event_is_applied_once(service, js, watch):
    synced = await watch("tenant.synced")
    tenant = tenant_id()
    event = body(
        tenant,
        eventId=f"evt-{tenant}",
        occurredAt=datetime.now(UTC).isoformat(),
        country="FR",
        createInboundAddress=True,
    )
    await publish(js, "tenant.created", event)
    await synced.for_tenant(tenant)
    [first] = await addresses(service, tenant)

    # No Nats-Msg-Id: JetStream stores it again, as after its de-duplication window.
    seq = await publish(js, "tenant.created", event)
    await processed(js, CREATED, seq)

    [again] = await addresses(service, tenant)
    assert (again["id"], again["email"]) == (first["id"], first["email"])
    outbox = await service.runtime.pool.fetch(
        "SELECT event_id FROM event_outbox WHERE subject = 'tenant.synced' AND event_id LIKE $1",
        f"evt-{tenant}%",
    )
    assert [r["event_id"] for r in outbox] == [f"evt-{tenant}:synced"]


async def test_older_event_does_not_overwrite_newer_data(service, js, watch):
    synced = await watch("tenant.synced")
    tenant = tenant_id()
    now = datetime.now(UTC)
    newer = body(tenant, name="Newer", plan="pro", occurredAt=now.isoformat())
    older = body(
        tenant, name="Older", plan="free", occurredAt=(now - timedelta(minutes=5)).isoformat()
    )
    await publish(js, "tenant.updated", newer)
    await synced.for_tenant(tenant)

    seq = await publish(js, "tenant.updated", older)
    await processed(js, UPDATED, seq)
    stale_archive = {"tenantId": tenant, "occurredAt": (now - timedelta(minutes=1)).isoformat()}
    seq = await publish(js, "tenant.archived", stale_archive)
    await processed(js, "tenant-sync-tenant-archived", seq)

    row = await tenant_row(service, tenant)
    assert (row["name"], row["plan"], row["status"]) == ("Newer", "PRO", "ACTIVE")
    assert row["last_event_at"] == now

    # A stale event's address request is still honoured: an address overwrites nothing.
    await publish(js, "tenant.created", {**older, "country": "IT", "createInboundAddress": True})
    event = await synced.for_tenant(tenant)
    assert (event["name"], [a["country"] for a in event["inboundAddresses"]]) == ("Newer", ["IT"])
    assert (await tenant_row(service, tenant))["name"] == "Newer"


async def test_bad_events_are_dead_lettered_and_the_consumer_goes_on(service, js, watch):
    dead = await watch("deadletter.tenant-sync.>")
    synced = await watch("tenant.synced")
    gold, nameless, good = tenant_id("gold"), tenant_id("nameless"), tenant_id("good")

    await publish(js, "tenant.created", b"{not json")
    await publish(js, "tenant.created", {"tenantId": nameless, "plan": "pro", "status": "active"})
    await publish(js, "tenant.created", body(gold, plan="gold"))
    await publish(js, "tenant.updated", body(gold, status="deleted"))
    await publish(js, "tenant.created", body(good))

    parked = [await dead.next(lambda m: True) for _ in range(4)]
    # Two consumers (created, updated) park in parallel: match by body, not by order.
    reason = {m.data: (m.subject, m.headers[REASON_HEADER]) for m in parked}
    # The frame may name the decoder's exception class before its message: match both parts.
    malformed = reason[b"{not json"][1]
    assert malformed.startswith("undecodable tenant.created: ") and "JSON is malformed" in malformed
    nameless_reason = next(r for d, r in reason.items() if nameless.encode() in d)
    assert nameless_reason[1].startswith("undecodable tenant.created: ")
    assert nameless_reason[1].endswith("Object missing required field `name`")
    gold_created, gold_updated = sorted(r for d, r in reason.items() if gold.encode() in d)
    assert gold_created == (
        "deadletter.tenant-sync.tenant.created",
        "rejected tenant.created: unknown plan 'gold' "
        "(expected one of free, starter, pro, enterprise)",
    )
    assert gold_updated[0] == "deadletter.tenant-sync.tenant.updated"
    assert "unknown status 'deleted'" in gold_updated[1]

    await synced.for_tenant(good)
    assert await tenant_row(service, good)
    assert await tenant_row(service, gold) is None and await tenant_row(service, nameless) is None


async def test_first_buyer_mail_activates_the_address(service, js, watch):
    synced = await watch("tenant.synced")
    tenant, other = tenant_id(), tenant_id()
    for t in (tenant, other):
        await publish(js, "tenant.created", body(t, country="FR", createInboundAddress=True))
        await synced.for_tenant(t)
    [address] = await addresses(service, tenant)

    def mail(to_tenant: str, email: str) -> MessageReceived:
        return MessageReceived(
            tenant_id=to_tenant,
            external_message_id=f"m-{email}",
            ticket_id="ticket-1",
            ticket_message_id="tm-1",
            inbound_address=email.upper(),
        )

    # A mail claiming another tenant's address changes nothing.
    seq = await publish(js, "message.received", encode_event(mail(other, address["email"])))
    await processed(js, ACTIVATION, seq, stream="MESSAGES")
    assert [a["status"] for a in await addresses(service, tenant)] == ["PENDING"]

    await publish(js, "message.received", encode_event(mail(tenant, address["email"])))

    async def active():
        [row] = await addresses(service, tenant)
        return row if row["status"] == "ACTIVE" else None

    row = await eventually(active)
    assert row["activated_at"] is not None


async def test_a_clock_running_ahead_cannot_outrank_a_later_archive(service, js, watch):
    """An update 4 minutes in the future (inside the tolerance), then an archive: archived.

    Before: the update's occurredAt outranked the archive published right after it, which
    was ignored. Within the tolerance the stream's order decides.
    """
    synced = await watch("tenant.synced")
    tenant = tenant_id()
    ahead = datetime.now(UTC) + timedelta(minutes=4)
    await publish(js, "tenant.updated", body(tenant, name="Ahead", occurredAt=ahead.isoformat()))
    await synced.for_tenant(tenant)
    archive = {"tenantId": tenant, "occurredAt": datetime.now(UTC).isoformat()}
    seq = await publish(js, "tenant.archived", archive)
    await processed(js, "tenant-sync-tenant-archived", seq)

    row = await tenant_row(service, tenant)
    assert (row["name"], row["status"]) == ("Ahead", "ARCHIVED")
    assert row["last_event_at"] < ahead  # capped at the moment the stream stored it
