"""The projection of the oauth service's connection.* events, read by the status endpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
    Event,
    encode_event,
)
from keybuzz_shared.messaging import REASON_HEADER
from tenant_sync_support import INTERNAL, processed, publish, tenant_id

SELLER = "A12BCIS2R7HD4D"
FR, DE = "A13V1IB3VIYZZH", "A1PA6795UKMFR9"
DURABLES = {
    ConnectionConnected: "tenant-sync-connection-connected",
    ConnectionDisconnected: "tenant-sync-connection-disconnected",
    ConnectionReauthRequired: "tenant-sync-connection-reauth-required",
}


def connected(tenant: str, at: datetime, *marketplace_ids: str) -> ConnectionConnected:
    return ConnectionConnected(
        tenant_id=tenant,
        occurred_at=at,
        connection_id=f"conn-{tenant}",
        seller_id=SELLER,
        marketplace_ids=list(marketplace_ids or [FR]),
        region="eu",
    )


def disconnected(tenant: str, at: datetime) -> ConnectionDisconnected:
    return ConnectionDisconnected(
        tenant_id=tenant,
        occurred_at=at,
        connection_id=f"conn-{tenant}",
        seller_id=SELLER,
        reason="disconnected by user u-1",
    )


async def deliver(js: Any, event: Event) -> None:
    """Publish as oauth's relay would (minus Nats-Msg-Id: a redelivery is stored again)
    and wait until tenant-sync's consumer of that subject has acknowledged it."""
    seq = await publish(js, event.type, encode_event(event))
    await processed(js, DURABLES[type(event)], seq, stream="CONNECTIONS")


async def connections(service: Any, tenant: str) -> list[dict[str, Any]]:
    async with service.client(headers=INTERNAL) as http:
        response = await http.get(f"/api/v1/tenants/status/{tenant}")
    assert response.status_code == 200, response.text
    return response.json()["marketplaceConnections"]


async def projection_row(service: Any, tenant: str) -> dict[str, Any]:
    row = await service.runtime.pool.fetchrow(
        "SELECT * FROM tenant_sync_connections WHERE tenant_id = $1", tenant
    )
    return dict(row)


async def test_connected_event_shows_in_status(service, js):
    tenant, at = tenant_id(), datetime.now(UTC)
    await deliver(js, connected(tenant, at, DE, FR))

    assert await connections(service, tenant) == [
        {
            "marketplace": "AMAZON",
            "status": "CONNECTED",
            "connectionId": f"conn-{tenant}",
            "sellerId": SELLER,
            "marketplaceIds": [DE, FR],
            "region": "eu",
            "connectedAt": at.isoformat().replace("+00:00", "Z"),
            "reason": None,
            "asOf": at.isoformat().replace("+00:00", "Z"),
        }
    ]


async def test_disconnected_after_connected(service, js):
    tenant, at = tenant_id(), datetime.now(UTC)
    await deliver(js, connected(tenant, at))
    await deliver(js, disconnected(tenant, at + timedelta(seconds=1)))

    [shown] = await connections(service, tenant)
    assert (shown["status"], shown["reason"]) == ("DISCONNECTED", "disconnected by user u-1")
    # What was connected stays visible: the seller and marketplaces it had.
    assert (shown["sellerId"], shown["marketplaceIds"]) == (SELLER, [FR])


async def test_older_event_after_a_newer_one_changes_nothing(service, js):
    tenant, at = tenant_id(), datetime.now(UTC)
    # Each subject has its own consumer: a disconnection can be handled before the
    # connection that preceded it.
    await deliver(js, disconnected(tenant, at))
    before = await projection_row(service, tenant)
    await deliver(js, connected(tenant, at - timedelta(minutes=1)))

    assert await projection_row(service, tenant) == before
    assert [c["status"] for c in await connections(service, tenant)] == ["DISCONNECTED"]


async def test_redelivery_changes_nothing(service, js):
    tenant, at = tenant_id(), datetime.now(UTC)
    connection, disconnection = (
        connected(tenant, at),
        disconnected(tenant, at + timedelta(seconds=1)),
    )
    await deliver(js, connection)
    await deliver(js, disconnection)
    before = await projection_row(service, tenant)

    await deliver(js, disconnection)
    await deliver(js, connection)

    assert await projection_row(service, tenant) == before  # updated_at included
    assert before["status"] == "DISCONNECTED"


async def test_refused_token_marks_the_connection_made_before_it(service, js):
    tenant, other, at = tenant_id(), tenant_id(), datetime.now(UTC)

    # The refusal handled first, the older connection after (separate consumers).
    await deliver(js, ConnectionReauthRequired(tenant_id=tenant, occurred_at=at, reason="revoked"))
    await deliver(js, connected(tenant, at - timedelta(seconds=5)))
    [shown] = await connections(service, tenant)
    assert (shown["status"], shown["reason"]) == ("REAUTH_REQUIRED", "revoked")

    # A refusal older than the connection, or naming another seller, does not count.
    stale = ConnectionReauthRequired(tenant_id=other, occurred_at=at - timedelta(seconds=5))
    await deliver(js, stale)
    await deliver(js, connected(other, at))
    await deliver(
        js,
        ConnectionReauthRequired(
            tenant_id=other, occurred_at=at + timedelta(seconds=1), seller_id="B9"
        ),
    )
    assert [c["status"] for c in await connections(service, other)] == ["CONNECTED"]

    # A new consent after the refusal connects again.
    await deliver(js, connected(tenant, at + timedelta(seconds=5)))
    assert [c["status"] for c in await connections(service, tenant)] == ["CONNECTED"]


async def test_malformed_connection_event_is_dead_lettered(service, js, watch):
    dead = await watch("deadletter.tenant-sync.connection.connected")
    tenant = tenant_id()
    nameless = {"tenantId": tenant, "connectionId": "c1", "marketplaceIds": [FR], "region": "eu"}
    await publish(js, "connection.connected", nameless)

    parked = await dead.next(lambda m: tenant.encode() in m.data)
    reason = parked.headers[REASON_HEADER]
    assert reason.startswith("undecodable connection.connected: ")
    assert reason.endswith("Object missing required field `sellerId`")
    assert await connections(service, tenant) == []
