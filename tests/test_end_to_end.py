"""The whole story on the stack as `make up` starts it: every hop asserted from outside.

The product app creates a tenant → tenant-sync gives it an inbound address → the
seller connects Amazon on the sandbox's consent page (driven like a browser) → orders
backfills the seller's 94 orders → buyer messages relayed by the sandbox to the inbound
address become tickets linked to their orders → the address turns ACTIVE → an agent's
reply reaches the buyer's inbox in the sandbox.

Nothing runs in this process but clients: the services are the four processes
supervisord runs (tests/stack_fixture.py), reached over HTTP, NATS, SQL and Vault.

The stack's other tests, Fnac's story (tests/end_to_end_fnac.py) and the crash test
(tests/crash_safety.py), are collected here too: pytest-xdist (``--dist loadfile``) hands
out files, and in files of their own they ran on two or three workers, each starting a
stack of its own (~20 s); here one worker starts one.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import aiosmtplib
import httpx
import hvac
import pytest
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN, port_open

from tests import crash_safety, end_to_end_fnac
from tests.stack_fixture import (
    CANDIDATE_OFFSETS,
    DEFAULT_PORTS,
    FR,
    INBOUND_DOMAIN,
    OAUTH_API,
    SELLER,
    SERVICE_PORTS,
    MadeUpStack,
    connect_amazon,
    create_tenant,
    inbound_address,
    new_tenant,
    refill_rate_limits,
    relay,
    stream_events,
    tenant_status,
    wait_for,
)

pytestmark = pytest.mark.timeout(240)

SEEDED_ORDERS = 94  # the sandbox's FR seller, last 90 days (docs/CONTRACTS.md, "Development stack")
SEEDED_CANCELLED = 6
BUYER_MESSAGES = 4
ADDRESS = re.compile(r"^amazon\.([a-z0-9-]+)\.fr\.[a-z2-7]{16}@" + re.escape(INBOUND_DOMAIN) + "$")


@dataclass
class Story:
    """What the story produced, for the hops that come after it."""

    tenant: str
    address: str
    relayed: list[dict[str, Any]]  # the sandbox's `sent` entries
    tickets: list[dict[str, Any]]


# --- hop 2: tenant-sync gives the new tenant an inbound address ----------------------------


async def tenant_is_synced(stack: MadeUpStack, nc: Any, tenant: str) -> str:
    async def synced() -> dict[str, Any] | None:
        # The status reads the tenant and its addresses apart: the whole state, once there.
        status = await tenant_status(stack, tenant)
        whole = status.get("inboundAddresses") and status["marketplace"]["exists"]
        return status if whole and status["inSync"] else None

    status = await wait_for(synced, 30, f"tenant-sync never synced {tenant}")
    assert status["product"]["exists"] and status["marketplace"]["exists"] and status["inSync"]
    assert status["marketplace"]["plan"] == "PRO" and status["marketplace"]["status"] == "ACTIVE"
    [address] = status["inboundAddresses"]
    assert address["status"] == "PENDING" and address["country"] == "FR"
    match = ADDRESS.match(address["email"])
    assert match and match.group(1) == tenant, address["email"]
    rows = await stack.fetch(
        stack.backend_db, "SELECT email, status FROM inbound_addresses WHERE tenant_id = $1", tenant
    )
    assert [(r["email"], r["status"]) for r in rows] == [(address["email"], "PENDING")]
    synced_events = [
        e for e in await stream_events(nc, "TENANTS", "tenant.synced") if e["tenantId"] == tenant
    ]
    assert len(synced_events) == 1, synced_events
    assert [a["email"] for a in synced_events[0]["inboundAddresses"]] == [address["email"]]
    return str(address["email"])


# --- hop 3: the seller connects Amazon on the consent page ---------------------------------


async def seller_connects_amazon(stack: MadeUpStack, nc: Any, tenant: str) -> None:
    """The browser round trip: start → Seller Central's consent page → callback → CONNECTED."""
    landed_on = await connect_amazon(stack, tenant)
    assert "status=connected" in landed_on, landed_on

    oauth = stack.url("oauth")
    async with httpx.AsyncClient(timeout=20) as http:
        status = await http.get(f"{oauth}{OAUTH_API}/status", headers=stack.headers(tenant))
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["status"] == "CONNECTED" and body["sellerId"] == SELLER
    assert body["credentialsVerified"] is True

    # The refresh token is in Vault, and only there: the row holds the path.
    vault = hvac.Client(f"http://127.0.0.1:{stack.port(8200)}", token=DEV_VAULT_ROOT_TOKEN)
    secret = vault.secrets.kv.v2.read_secret_version(
        path=f"keybuzz/tenants/{tenant}/amazon_spapi",
        mount_point="secret",
        raise_on_deleted_version=True,
    )["data"]["data"]
    assert secret["refresh_token"].startswith("Atzr|") and secret["seller_id"] == SELLER
    [row] = await stack.fetch(
        stack.backend_db, "SELECT * FROM marketplace_connections WHERE tenant_id = $1", tenant
    )
    assert row["status"] == "CONNECTED" and row["vault_path"].endswith(f"{tenant}/amazon_spapi")
    assert secret["refresh_token"] not in repr(dict(row))

    connected = [
        e
        for e in await stream_events(nc, "CONNECTIONS", "connection.connected")
        if e["tenantId"] == tenant
    ]
    assert len(connected) == 1 and connected[0]["sellerId"] == SELLER
    assert connected[0]["marketplaceIds"] == [FR]
    assert "Atzr|" not in repr(connected)


# --- hop 4: the backfill imports the seller's orders ----------------------------------------


async def backfill_imports_orders(stack: MadeUpStack, nc: Any, tenant: str) -> None:
    async def completed() -> list[dict[str, Any]]:
        events = await stream_events(nc, "ORDERS", "order.backfill.>")
        return [e for e in events if e["tenantId"] == tenant]

    [event] = await wait_for(completed, 90, "no order.backfill.* event", every=1)
    assert event["type"] == "order.backfill.completed", event
    counts = event["counts"]
    assert counts["fetched"] >= SEEDED_ORDERS and counts["errors"] == 0, counts
    assert counts["cancelled"] >= SEEDED_CANCELLED, counts

    async with httpx.AsyncClient(base_url=stack.url("orders"), timeout=20) as http:
        job = await http.get(
            f"/api/v1/orders/backfill/{event['jobId']}", headers=stack.headers(tenant)
        )
        assert job.status_code == 200, job.text
        assert job.json()["status"] == "COMPLETED", job.json()
        listed = await all_orders(http, stack.headers(tenant))
    rows = await stack.fetch(
        stack.backend_db,
        "SELECT external_order_id, order_status::text AS status FROM orders WHERE tenant_id = $1",
        tenant,
    )
    assert len(rows) == counts["fetched"] >= SEEDED_ORDERS
    assert sorted(o["externalOrderId"] for o in listed) == sorted(
        r["external_order_id"] for r in rows
    )
    assert sum(r["status"] == "CANCELLED" for r in rows) == counts["cancelled"]


async def all_orders(http: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = await http.get("/api/v1/orders", headers=headers, params=params)
        assert page.status_code == 200, page.text
        orders += page.json()["orders"]
        cursor = page.json()["nextCursor"]
        if not cursor:
            return orders


# --- hop 5: relayed buyer messages become tickets linked to their orders ---------------------


async def sandbox_relays(stack: MadeUpStack, address: str, count: int) -> list[dict[str, Any]]:
    response = await relay(stack, address, count)
    assert response.status_code == 200, response.text
    sent = response.json()["sent"]
    assert len(sent) == count and all(s["to"] == address for s in sent)
    return list(sent)


async def messages_become_tickets(
    stack: MadeUpStack, nc: Any, tenant: str, address: str, relayed: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    poller = stack.url("poller")
    headers = stack.headers(tenant)
    async with httpx.AsyncClient(base_url=poller, timeout=20) as http:

        async def every_message_in_a_ticket() -> list[dict[str, Any]] | None:
            listed = await http.get("/api/v1/tickets", headers=headers, params={"limit": "200"})
            assert listed.status_code == 200, listed.text
            tickets = []
            for item in listed.json()["items"]:
                ticket = await http.get(f"/api/v1/tickets/{item['id']}", headers=headers)
                assert ticket.status_code == 200, ticket.text
                tickets.append(ticket.json())
            stored = sum(len(inbound(t)) for t in tickets)
            return tickets if stored >= len(relayed) else None

        # Polled by the scheduler every POLL_INTERVAL_SECONDS (3 s here), not by hand.
        tickets = await wait_for(
            every_message_in_a_ticket, 60, "relayed mail never became tickets", every=1
        )

    by_message_id = {
        message["externalId"]: (ticket, message)
        for ticket in tickets
        for message in inbound(ticket)
    }
    assert len(by_message_id) == len(relayed), sorted(by_message_id)
    for sent in relayed:
        ticket, message = by_message_id[sent["messageId"]]
        assert ticket["orderId"] == sent["orderId"], (ticket, sent)
        assert message["subject"] == sent["subject"]

    received = [
        e
        for e in await stream_events(nc, "MESSAGES", "message.received")
        if e["tenantId"] == tenant
    ]
    assert len(received) == len(relayed), received
    assert sorted(e["orderId"] for e in received) == sorted(s["orderId"] for s in relayed)
    assert {e["inboundAddress"] for e in received} == {address}
    external_ids = {m["externalMessageId"] for _, m in by_message_id.values()}
    assert {e["externalMessageId"] for e in received} == external_ids

    # orders has every order the buyers write about (the backfill, or message.received).
    async with httpx.AsyncClient(base_url=stack.url("orders"), timeout=20) as http:
        for order_id in {s["orderId"] for s in relayed}:
            order = await http.get(f"/api/v1/orders/{order_id}", headers=headers)
            assert order.status_code == 200, order.text
            assert order.json()["externalOrderId"] == order_id and order.json()["items"]
    return tickets


# --- hop 6: the inbound address turns ACTIVE -------------------------------------------------


async def address_turns_active(stack: MadeUpStack, tenant: str, address: str) -> None:

    async def active() -> bool:
        status = await tenant_status(stack, tenant)
        return [(a["email"], a["status"]) for a in status["inboundAddresses"]] == [
            (address, "ACTIVE")
        ]

    await wait_for(active, 30, f"{address} never turned ACTIVE")
    [row] = await stack.fetch(
        stack.backend_db,
        "SELECT status, activated_at FROM inbound_addresses WHERE tenant_id = $1",
        tenant,
    )
    assert row["status"] == "ACTIVE" and row["activated_at"] is not None


# --- the story ----------------------------------------------------------------------------


def inbound(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    """The buyer's mails of a ticket (not the agents' replies)."""
    return [m for m in ticket["messages"] if m.get("direction", "INBOUND") == "INBOUND"]


async def tell_the_story(stack: MadeUpStack, label: str) -> Story:
    tenant = new_tenant(label)
    async with stack.nats() as nc:
        # hop 1: the product app creates the tenant (its row, then tenant.created)
        await create_tenant(stack, nc, tenant)
        address = await tenant_is_synced(stack, nc, tenant)
        await refill_rate_limits(stack)
        await seller_connects_amazon(stack, nc, tenant)
        await backfill_imports_orders(stack, nc, tenant)
        relayed = await sandbox_relays(stack, address, BUYER_MESSAGES)
        tickets = await messages_become_tickets(stack, nc, tenant, address, relayed)
        await address_turns_active(stack, tenant, address)
    return Story(tenant, address, relayed, tickets)


@pytest.fixture(scope="module")
async def story(made_up_stack: MadeUpStack) -> Story:
    """Hops 1 to 6, once for the module; each hop asserts what it did."""
    return await tell_the_story(made_up_stack, "e2e")


async def test_a_tenant_from_creation_to_tickets_linked_to_its_orders(
    made_up_stack: MadeUpStack, story: Story
) -> None:
    assert len(story.relayed) == BUYER_MESSAGES
    assert {t["orderId"] for t in story.tickets} == {s["orderId"] for s in story.relayed}
    assert await made_up_stack.ready() == []


def test_the_candidate_offsets_never_put_two_stacks_on_one_port() -> None:
    """Stacks of parallel test workers, and a developer's at offset 0, run side by side."""
    offsets = (0, *CANDIDATE_OFFSETS)
    ports = [{p + offset for p in DEFAULT_PORTS} for offset in offsets]
    for i, j in itertools.combinations(range(len(offsets)), 2):
        assert not ports[i] & ports[j], (offsets[i], offsets[j], ports[i] & ports[j])


def test_the_stack_listens_only_on_ports_shifted_by_the_offset(made_up_stack: MadeUpStack) -> None:
    """KEYBUZZ_PORT_OFFSET (README, "Running two stacks"): every part moved, the banner too."""
    stack = made_up_stack
    assert stack.offset and f"KEYBUZZ_PORT_OFFSET={stack.offset}" in stack.banner
    shifted = [stack.port(p) for p in DEFAULT_PORTS]
    assert [p for p in shifted if not port_open(p)] == []
    for url in (stack.nats_url, stack.sandbox_url, *(stack.url(s) for s in SERVICE_PORTS)):
        assert url in stack.banner, url
    # Nothing in its supervisord configuration names a default port (commands, environments).
    conf = (stack.root / ".data" / "supervisord.conf").read_text()
    unshifted = re.compile(r"[:= ](" + "|".join(map(str, DEFAULT_PORTS)) + r")\b")
    assert unshifted.findall(conf) == []
    bad = subprocess.run(
        [sys.executable, "-m", "keybuzz_devstack", "status"],
        env={**stack.env, "KEYBUZZ_PORT_OFFSET": "two hundred"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        bad.returncode != 0
        and "KEYBUZZ_PORT_OFFSET='two hundred' is not a whole number" in bad.stderr
    )


# --- hop 7: an agent's reply reaches the buyer's inbox --------------------------------------


async def test_an_agents_reply_reaches_the_buyers_inbox_on_their_thread(
    made_up_stack: MadeUpStack, story: Story
) -> None:
    stack, tenant = made_up_stack, story.tenant
    sender = f"support@{tenant}.example"
    headers = stack.headers(tenant)
    ticket = story.tickets[0]
    buyer_mail = inbound(ticket)[-1]
    alias = ticket["buyerEmail"]
    async with httpx.AsyncClient(timeout=30) as http:
        approved = await http.post(
            f"{stack.sandbox_url}/_sandbox/sellers/{SELLER}/approved-senders",
            json={"address": sender},
        )
        assert approved.status_code == 201, approved.text
        saved = await http.put(
            f"{stack.url('poller')}/api/v1/poller/settings",
            headers=headers,
            json={"replyFromAddress": sender},
        )
        assert saved.status_code == 200, saved.text
        queued = await http.post(
            f"{stack.url('poller')}/api/v1/tickets/{ticket['id']}/replies",
            headers=headers,
            json={"text": "Bonjour, votre colis part aujourd'hui."},
        )
        assert queued.status_code == 202, queued.text
        reply = queued.json()
        assert reply["ticketId"] == ticket["id"] and reply["status"] == "QUEUED"

        async def delivered() -> list[dict[str, Any]]:
            inbox = await http.get(f"{stack.sandbox_url}/_sandbox/buyers/{alias}/inbox")
            assert inbox.status_code == 200, inbox.text
            return [m for m in inbox.json()["messages"] if m["messageId"] == reply["messageId"]]

        [received] = await wait_for(delivered, 60, "the reply never reached the buyer", every=1)
        assert received["inReplyTo"] == buyer_mail["externalId"]  # on the buyer's thread
        assert sender in received["from"] and received["sellerId"] == SELLER
        assert received["orderId"] == ticket["orderId"]
        assert "votre colis part aujourd'hui" in received["text"]

        async def sent_in_ticket() -> dict[str, Any] | None:
            view = await http.get(
                f"{stack.url('poller')}/api/v1/tickets/{ticket['id']}", headers=headers
            )
            assert view.status_code == 200, view.text
            ours = [m for m in view.json()["messages"] if m["id"] == reply["ticketMessageId"]]
            return ours[0] if ours and ours[0]["deliveryStatus"] == "SENT" else None

        message = await wait_for(sent_in_ticket, 30, "the reply never shows SENT")
        assert message["direction"] == "OUTBOUND"

    async with stack.nats() as nc:

        async def sent_event() -> list[dict[str, Any]]:
            events = await stream_events(nc, "MESSAGES", "message.sent")
            return [e for e in events if e["tenantId"] == tenant]

        [event] = await wait_for(sent_event, 30, "no message.sent")
    assert event["messageId"] == reply["messageId"] and event["ticketId"] == ticket["id"]
    assert event["status"] == "SENT" and event["orderId"] == ticket["orderId"]


# --- the stack's replies go to each marketplace's own relay double ---------------------------


async def test_a_manomano_reply_from_the_stack_reaches_the_manomano_double(
    made_up_stack: MadeUpStack,
) -> None:
    """The stack's poller sends every reply to one relay (the sandbox's reply front, as an
    outbound MTA in production): a ManoMano buyer's thread gets its reply on the ManoMano
    double, not Amazon's relay."""
    stack, tenant = made_up_stack, new_tenant("e2e-mm")
    headers = stack.headers(tenant)
    async with stack.nats() as nc:
        await create_tenant(stack, nc, tenant)
    await inbound_address(stack, tenant)  # tenant-sync has mirrored it
    async with httpx.AsyncClient(timeout=30) as http:
        sellers = (await http.get(f"{stack.sandbox_url}/_sandbox/manomano/sellers")).json()
        seller = next(s for s in sellers if s["contract"] == 1002)
        form = {"apiKey": seller["apiKey"], "sellerContractId": "1002"}
        connected = await http.post(
            f"{stack.url('oauth')}/api/v1/marketplaces/manomano/connection",
            headers=headers,
            json=form,
        )
        assert connected.status_code == 200, connected.text

        async def manomano_address() -> str | None:
            addresses = (await tenant_status(stack, tenant)).get("inboundAddresses") or []
            return next((a["email"] for a in addresses if a["marketplace"] == "MANOMANO"), None)

        address = await wait_for(manomano_address, 30, "no ManoMano inbound address")
        mail = {"kind": "buyer", "to": address, "contract": 1002, "mxPort": stack.port(2525)}

        async def mailed() -> dict[str, Any] | None:  # once the poller's MX knows the address
            sent = await http.post(f"{stack.sandbox_url}/_sandbox/manomano/mails", json=mail)
            return dict(sent.json()["sent"]) if sent.status_code == 200 else None

        sent = await wait_for(mailed, 30, "the MX never took the ManoMano mail")

        async def ticket() -> dict[str, Any] | None:
            listed = await http.get(
                f"{stack.url('poller')}/api/v1/tickets",
                headers=headers,
                params={"marketplace": "MANOMANO", "orderId": sent["orderId"]},
            )
            assert listed.status_code == 200, listed.text
            return next(iter(listed.json()["items"]), None)

        found = await wait_for(ticket, 60, "the buyer's mail never became a ticket", every=1)
        saved = await http.put(
            f"{stack.url('poller')}/api/v1/poller/settings",
            headers=headers,
            json={"replyFromAddress": f"service-client@{tenant}.example"},
        )
        assert saved.status_code == 200, saved.text
        text = f"Bonjour, votre commande part demain ({tenant})."
        queued = await http.post(
            f"{stack.url('poller')}/api/v1/tickets/{found['id']}/replies",
            headers=headers,
            json={"text": text},
        )
        assert queued.status_code == 202, queued.text

        async def on_the_thread() -> list[str]:
            thread = await http.get(
                f"{stack.sandbox_url}/_sandbox/manomano/threads/{sent['sender']}"
            )
            assert thread.status_code == 200, thread.text
            return [r["text"] for r in thread.json()["replies"] if text in r["text"]]

        await wait_for(on_the_thread, 60, "the reply never reached the ManoMano double", every=1)


async def test_the_stacks_reply_front_takes_only_its_login_and_never_shows_it(
    made_up_stack: MadeUpStack,
) -> None:
    """Nothing is anonymous, the dev stack included: the front refuses mail before AUTH (530)
    and a wrong password (535); the stack's password, kept 0600, is in neither the banner,
    the sandbox's nor the poller's log, nor the front's admin answer."""
    stack = made_up_stack
    kept = stack.root / ".data" / "reply-front-login.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    login = json.loads(kept.read_text())
    front = {"hostname": "127.0.0.1", "port": stack.port(2527), "timeout": 30}
    mail = b"From: service-client@vendeur.example\r\nSubject: x\r\n\r\nBonjour.\r\n"
    to = {"sender": "a@inbound.keybuzz.test", "recipients": ["x@contact.manomano.com"]}
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as anonymous:
        await aiosmtplib.send(mail, **to, **front)
    assert anonymous.value.code == 530
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as wrong:
        await aiosmtplib.send(
            mail, **to, **front, username=login["username"], password=login["password"] + "x"
        )
    assert wrong.value.code == 535
    async with httpx.AsyncClient(timeout=30) as http:
        described = (await http.get(f"{stack.sandbox_url}/_sandbox/reply-front")).json()
    assert described["auth"]["username"] == login["username"]
    shown = {"banner": stack.banner, "admin answer": json.dumps(described)}
    shown |= {part: stack.log_tail(part, 100_000) for part in ("sandbox", "poller", "supervisord")}
    assert [where for where, text in shown.items() if login["password"] in text] == []


# The stack's other tests (see the top), collected with this file's.
fnac_tenant = end_to_end_fnac.fnac_tenant
test_a_buyers_message_becomes_a_ticket_and_the_reply_reaches_fnacs_thread = (
    end_to_end_fnac.test_a_buyers_message_becomes_a_ticket_and_the_reply_reaches_fnacs_thread
)
test_an_incident_flags_its_ticket_and_customer_service_is_answered = (
    end_to_end_fnac.test_an_incident_flags_its_ticket_and_customer_service_is_answered
)
test_disconnecting_the_shop_or_archiving_the_tenant_stops_the_polls = (
    end_to_end_fnac.test_disconnecting_the_shop_or_archiving_the_tenant_stops_the_polls
)
test_every_part_killed_in_turn_loses_and_duplicates_nothing = (
    crash_safety.test_every_part_killed_in_turn_loses_and_duplicates_nothing
)


def test_every_test_of_the_stacks_other_modules_is_collected_here() -> None:
    """A test added to tests/end_to_end_fnac.py or tests/crash_safety.py runs only if named
    above: none is left out."""
    here = globals()
    left_out = [
        f"{module.__name__}.{name}"
        for module in (end_to_end_fnac, crash_safety)
        for name, test in vars(module).items()
        if name.startswith("test_") and here.get(name) is not test
    ]
    assert left_out == []
