"""A Fnac shop's story on the stack as `make up` starts it, every hop asserted from outside.

The product app creates a tenant → an agent connects the sandbox's demo Fnac shop through
oauth (its key checked by Fnac's `auth`, kept in Vault) → orders backfills the shop's
orders → a buyer writes on the Fnac double → the poller makes it a ticket beside its order
→ an agent's reply appears on the double's thread → an incident flags its order's ticket
and Fnac's customer service (CALLCENTER) is answered while it is open → disconnecting the
shop, and archiving a tenant, stop the polls.

Only clients run in this process: the services are the processes supervisord runs
(tests/stack_fixture.py), reached over HTTP, NATS and SQL. Its tests are collected by
tests/test_end_to_end.py, on the one stack a worker starts for both; each carries its own
time limit (a pytestmark here would not be read there).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from keybuzz_shared.events import TenantArchived, encode_event, event_headers

from tests.stack_fixture import (
    MadeUpStack,
    create_tenant,
    inbound_address,
    new_tenant,
    stream_events,
    wait_for,
)

DEMO_FNAC = "KeyBuzz Démo Fnac"
DEMO_DARTY = "KeyBuzz Démo Darty"
POLL = 1  # FNAC_POLL_INTERVAL_SECONDS of the test stack (tests/stack_fixture.py)
# The poller's view of a shop: polled while connected and its tenant not archived; a poll
# runs while its lease is held.
SHOP_POLLING = """
SELECT s.connection = 'CONNECTED' AND NOT coalesce(t.archived, false) AS pollable,
       s.lease_owner IS NOT NULL AND s.lease_expires_at > now() AS polling
FROM poller_shops s LEFT JOIN poller_tenants t ON t.tenant_id = s.tenant_id
WHERE s.poll_key = $1
"""

POLLS_OF_SHOP = (
    "SELECT claimed_at, last_due_at, last_success_at FROM poller_shops WHERE poll_key = $1"
)


async def seeded_shop(stack: MadeUpStack, name: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=20) as http:
        shops = (await http.get(f"{stack.sandbox_url}/_sandbox/fnac/shops")).json()
    [shop] = [s for s in shops if s["name"] == name]
    return dict(shop)


async def tenant_with_shop(
    stack: MadeUpStack, nc: Any, label: str, name: str
) -> tuple[str, dict[str, Any]]:
    """A new tenant, synced, with the seeded shop ``name`` connected through oauth."""
    tenant = new_tenant(label)
    await create_tenant(stack, nc, tenant)
    await inbound_address(stack, tenant)  # tenant-sync has mirrored it: the poller knows it
    shop = await seeded_shop(stack, name)
    marketplace = shop["marketplace"].lower()
    async with httpx.AsyncClient(timeout=30) as http:
        connected = await http.post(
            f"{stack.url('oauth')}/api/v1/marketplaces/{marketplace}/connection",
            headers=stack.headers(tenant),
            json={"partnerId": shop["partner_id"], "shopId": shop["shop_id"], "key": shop["key"]},
        )
    assert connected.status_code in (200, 201), connected.text
    assert shop["key"] not in connected.text
    return tenant, shop


async def buyer_writes(stack: MadeUpStack, shop: dict[str, Any], **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=20) as http:
        written = await http.post(
            f"{stack.sandbox_url}/_sandbox/fnac/shops/{shop['shop_id']}/messages",
            json={"fromType": "CLIENT", **body},
        )
    assert written.status_code == 201, written.text
    return dict(written.json())


async def ticket_of_order(
    stack: MadeUpStack, tenant: str, order_id: str, marketplace: str = "FNAC", within: float = 60
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=20) as http:

        async def found() -> dict[str, Any] | None:
            listed = await http.get(
                f"{stack.url('poller')}/api/v1/tickets",
                headers=stack.headers(tenant),
                params={"marketplace": marketplace, "orderId": order_id},
            )
            assert listed.status_code == 200, listed.text
            tickets = listed.json()["items"]
            return tickets[0] if tickets else None

        ticket = await wait_for(found, within, f"no ticket for order {order_id}", every=0.5)
        view = await http.get(
            f"{stack.url('poller')}/api/v1/tickets/{ticket['id']}", headers=stack.headers(tenant)
        )
    assert view.status_code == 200, view.text
    return dict(view.json())


async def sent_on_double(stack: MadeUpStack, shop: dict[str, Any]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=20) as http:
        sent = await http.get(f"{stack.sandbox_url}/_sandbox/fnac/shops/{shop['shop_id']}/sent")
    assert sent.status_code == 200, sent.text
    return list(sent.json()["sent"])


async def reply(stack: MadeUpStack, tenant: str, ticket: dict[str, Any], text: str) -> None:
    async with httpx.AsyncClient(timeout=20) as http:
        queued = await http.post(
            f"{stack.url('poller')}/api/v1/tickets/{ticket['id']}/replies",
            headers=stack.headers(tenant),
            json={"text": text},
        )
    assert queued.status_code == 202, queued.text


@pytest.fixture(scope="module")
async def fnac_tenant(made_up_stack: MadeUpStack) -> tuple[str, dict[str, Any]]:
    async with made_up_stack.nats() as nc:
        tenant, shop = await tenant_with_shop(made_up_stack, nc, "e2e-fnac", DEMO_FNAC)
        [event] = await wait_for(
            lambda: _connected_events(nc, tenant), 30, "no connection.connected for the shop"
        )
    assert event["marketplace"] == "FNAC" and event["sellerId"] == shop["shop_id"]
    assert shop["key"] not in str(event)
    await backfill_imports_the_shops_orders(made_up_stack, tenant, shop)
    return tenant, shop


async def backfill_imports_the_shops_orders(
    stack: MadeUpStack, tenant: str, shop: dict[str, Any]
) -> None:
    """orders backfills the shop's 90 days on connection.connected: every order once."""
    async with httpx.AsyncClient(base_url=stack.url("orders"), timeout=20) as http:

        async def completed() -> dict[str, Any] | None:
            listed = await http.get("/api/v1/orders/backfill", headers=stack.headers(tenant))
            assert listed.status_code == 200, listed.text
            jobs = [j for j in listed.json()["jobs"] if j["marketplace"] == "FNAC"]
            return jobs[0] if jobs and jobs[0]["status"] == "COMPLETED" else None

        job = await wait_for(completed, 120, "the shop's backfill never completed", every=1)
    rows = await stack.fetch(
        stack.backend_db,
        "SELECT external_order_id FROM orders WHERE tenant_id = $1 AND marketplace = 'FNAC'",
        tenant,
    )
    ids = [r["external_order_id"] for r in rows]
    assert len(ids) == len(set(ids)) >= shop["orders"] and job["errors"] == 0, job


async def order_beside(stack: MadeUpStack, tenant: str, order_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.url("orders"), timeout=20) as http:
        found = await http.get(
            f"/api/v1/orders/{order_id}",
            headers=stack.headers(tenant),
            params={"marketplace": "FNAC"},
        )
    assert found.status_code == 200, found.text
    return dict(found.json())


async def _connected_events(nc: Any, tenant: str) -> list[dict[str, Any]]:
    events = await stream_events(nc, "CONNECTIONS", "connection.connected")
    return [e for e in events if e["tenantId"] == tenant]


@pytest.mark.timeout(300)
async def test_a_buyers_message_becomes_a_ticket_and_the_reply_reaches_fnacs_thread(
    made_up_stack: MadeUpStack, fnac_tenant: tuple[str, dict[str, Any]]
) -> None:
    stack, (tenant, shop) = made_up_stack, fnac_tenant
    written = await buyer_writes(stack, shop, description="Où en est ma commande ?")
    ticket = await ticket_of_order(stack, tenant, written["orderId"])
    assert ticket["marketplace"] == "FNAC"
    [message] = [m for m in ticket["messages"] if m["externalId"] == written["messageId"]]
    assert message["senderType"] == "BUYER" and "Où en est ma commande" in message["body"]

    async with stack.nats() as nc:
        received = [
            e
            for e in await stream_events(nc, "MESSAGES", "message.received")
            if e["tenantId"] == tenant and e.get("orderId") == written["orderId"]
        ]
    assert received and received[0]["marketplace"] == "FNAC"
    order = await order_beside(stack, tenant, written["orderId"])  # the order the buyer names
    assert order["marketplace"] == "FNAC"

    await reply(stack, tenant, ticket, "Bonjour, votre commande part demain.")

    async def on_thread() -> list[dict[str, Any]]:
        return [
            s
            for s in await sent_on_double(stack, shop)
            if s["description"] == "Bonjour, votre commande part demain."
        ]

    [sent] = await wait_for(on_thread, 60, "the reply never reached Fnac's thread", every=0.5)
    assert sent["action"] == "reply" and sent["messageTo"] == "CLIENT"
    await a_poll_ended(stack, f"FNAC:{tenant}")  # one begun now has read our reply back
    again = await ticket_of_order(stack, tenant, written["orderId"])
    ours = [m for m in again["messages"] if m["body"] == "Bonjour, votre commande part demain."]
    assert len(ours) == 1 and ours[0]["direction"] == "OUTBOUND"


@pytest.mark.timeout(300)
async def test_an_incident_flags_its_ticket_and_customer_service_is_answered(
    made_up_stack: MadeUpStack, fnac_tenant: tuple[str, dict[str, Any]]
) -> None:
    stack, (tenant, shop) = made_up_stack, fnac_tenant
    async with httpx.AsyncClient(timeout=20) as http:
        some_order = (await buyer_writes(stack, shop, description="Une question"))["orderId"]
        await ticket_of_order(stack, tenant, some_order)
        opened = await http.post(
            f"{stack.sandbox_url}/_sandbox/fnac/shops/{shop['shop_id']}/incidents",
            json={"orderId": some_order},
        )
    assert opened.status_code == 201, opened.text

    async def flagged() -> dict[str, Any] | None:
        ticket = await ticket_of_order(stack, tenant, some_order)
        return ticket if ticket["incidentStatus"] == "OPENED" else None

    ticket = await wait_for(flagged, 60, "the incident never flagged its order's ticket")
    notice = [m for m in ticket["messages"] if m["externalId"] == opened.json()["messageId"]]
    assert len(notice) <= 1  # the "Nouvelle réclamation" message, once at most

    support = await buyer_writes(
        stack, shop, orderId=some_order, fromType="CALLCENTER", description="Le client attend."
    )

    async def from_support() -> list[dict[str, Any]]:
        view = await ticket_of_order(stack, tenant, some_order)
        return [m for m in view["messages"] if m["externalId"] == support["messageId"]]

    [message] = await wait_for(from_support, 60, "Fnac's customer service never showed")
    assert message["senderType"] == "MARKETPLACE_SUPPORT"

    await reply(stack, tenant, ticket, "Nous remboursons le client.")

    async def to_callcenter() -> list[dict[str, Any]]:
        sent = await sent_on_double(stack, shop)
        return [s for s in sent if s["description"] == "Nous remboursons le client."]

    [sent] = await wait_for(to_callcenter, 60, "the reply never reached Fnac", every=0.5)
    assert sent["messageTo"] == "CALLCENTER"


@pytest.mark.timeout(300)
async def test_disconnecting_the_shop_or_archiving_the_tenant_stops_the_polls(
    made_up_stack: MadeUpStack, fnac_tenant: tuple[str, dict[str, Any]]
) -> None:
    stack = made_up_stack
    healthy = f"FNAC:{fnac_tenant[0]}"  # another tenant's shop, polled throughout
    async with stack.nats() as nc:
        tenant, shop = await tenant_with_shop(stack, nc, "e2e-darty", DEMO_DARTY)
        first = await buyer_writes(stack, shop, description="Avant")
        await ticket_of_order(stack, tenant, first["orderId"], "DARTY")  # polled while connected

        async with httpx.AsyncClient(timeout=20) as http:
            gone = await http.delete(
                f"{stack.url('oauth')}/api/v1/marketplaces/darty/connection",
                headers=stack.headers(tenant),
            )
        assert gone.status_code in (200, 204), gone.text
        await polls_stopped(stack, tenant, "DARTY")  # a poll already running has ended
        after = await buyer_writes(stack, shop, description="Après la déconnexion")
        await poller_went_round(stack, healthy, f"DARTY:{tenant}")
        assert await _ticket_messages_of(stack, tenant, after) == []

        # Connected again, then the tenant archived by the product app: no more polls.
        await _reconnect(stack, tenant, shop)
        await ticket_of_order(stack, tenant, after["orderId"], "DARTY")  # read once reconnected
        archived = TenantArchived(tenant_id=tenant, reason="e2e")
        await nc.jetstream().publish(
            archived.type, encode_event(archived), headers=event_headers(archived)
        )
        await polls_stopped(stack, tenant, "DARTY")
        late = await buyer_writes(stack, shop, description="Après l'archivage")
        await poller_went_round(stack, healthy, f"DARTY:{tenant}")
        assert await _ticket_messages_of(stack, tenant, late) == []


async def polls_stopped(stack: MadeUpStack, tenant: str, marketplace: str) -> None:
    """The poller has taken the shop out of its polls (disconnected, or its tenant archived)
    and no poll of it runs any more: one running then could still read a later message."""

    async def stopped() -> bool:
        [shop] = await stack.fetch(stack.backend_db, SHOP_POLLING, f"{marketplace}:{tenant}")
        return not shop["pollable"] and not shop["polling"]

    await wait_for(stopped, 30, f"the poller still polls {marketplace} for {tenant}")


async def poller_went_round(stack: MadeUpStack, healthy: str, stopped: str) -> None:
    """The poller has claimed, since now, what a shop it still polled would have been due
    for, and did not claim ``stopped``: a poll of the ``healthy`` shop due more than an
    interval from now has ended (a shop polled still was due within an interval of its
    last poll, which ended before now, and claims take the oldest due first)."""
    since = await a_poll_ended(stack, healthy, due_later_than=POLL)
    [row] = await stack.fetch(stack.backend_db, POLLS_OF_SHOP, stopped)
    assert not (row["claimed_at"] and row["claimed_at"] > since), f"{stopped} polled: {row}"


async def a_poll_ended(
    stack: MadeUpStack, key: str, due_later_than: float | None = None
) -> datetime:
    """Now (the database's clock), once a poll of the shop ``key`` claimed after now has
    ended, or with ``due_later_than``, one due more than that many seconds after now."""
    [[now]] = await stack.fetch(stack.backend_db, "SELECT now()")

    async def ended() -> bool:
        [row] = await stack.fetch(stack.backend_db, POLLS_OF_SHOP, key)
        claimed, due, done = row["claimed_at"], row["last_due_at"], row["last_success_at"]
        if not (claimed and done and done >= claimed):
            return False  # never polled, or a poll runs
        if due_later_than is None:
            return bool(claimed > now)
        return bool(due > now + timedelta(seconds=due_later_than))

    await wait_for(ended, 30, f"{key} not polled since {now}")
    return now


async def _reconnect(stack: MadeUpStack, tenant: str, shop: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        connected = await http.post(
            f"{stack.url('oauth')}/api/v1/marketplaces/darty/connection",
            headers=stack.headers(tenant),
            json={"partnerId": shop["partner_id"], "shopId": shop["shop_id"], "key": shop["key"]},
        )
    assert connected.status_code in (200, 201), connected.text


async def _ticket_messages_of(
    stack: MadeUpStack, tenant: str, written: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = await stack.fetch(
        stack.backend_db,
        "SELECT id FROM poller_external_messages WHERE tenant_id = $1 AND external_id = $2",
        tenant,
        written["messageId"],
    )
    return [dict(r) for r in rows]
