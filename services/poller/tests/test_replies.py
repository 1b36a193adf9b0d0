"""Replies from a ticket, through the sandbox's reply relay (Amazon's), end to end.

Real servers only: the buyer's relay mail comes from the sandbox over SMTP to the
poller's MX (Dovecot, IMAP), the reply leaves through the sandbox's reply relay, the
sandbox's bounces come back through the MX, events are read from JetStream.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib
import httpx
import pytest
from aiosmtpd.controller import Controller
from keybuzz_devstack import bootstrap, infra
from keybuzz_devstack.testing import (
    Infra,
    MailServer,
    RunningService,
    eventually,
    service_migrations,
)
from keybuzz_poller.inbound.addresses import split_bounce_tag
from keybuzz_poller.inbound.bounce_auth import is_signed, reply_id
from keybuzz_poller.replies.checks import MAX_ATTACHMENTS
from keybuzz_poller.replies.sender import ReplySender
from keybuzz_poller.service import DEFINITION
from mailkit import (
    get_json,
    headers,
    new_tenant,
    new_tenant_with_a_ticket,
    poll_now,
    send,
    synced,
    tenant_events,
)

SELLER = "A12BCIS2R7HD4D"  # the sandbox's seeded FR seller
PDF = b"%PDF-1.4\n% a small invoice\n"


@dataclass
class BuyerThread:
    tenant_id: str
    address: str  # the tenant's inbound address
    ticket_id: str
    alias: str  # the buyer's …@marketplace.amazon.fr
    relay_message_id: str  # Message-ID of the sandbox's relay mail
    order_id: str


@dataclass
class Sandbox:
    url: str
    relay: tuple[str, int]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30)

    async def registered_email(self) -> str:
        async with self.client() as http:
            sellers = (await http.get("/_sandbox/sellers")).json()
        return str(next(s for s in sellers if s["sellingPartnerId"] == SELLER)["registeredEmail"])

    async def inbox(self, alias: str) -> list[dict[str, Any]]:
        async with self.client() as http:
            response = await http.get(f"/_sandbox/buyers/{alias}/inbox")
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    async def bounce_to(self, mx_port: int) -> None:
        async with self.client() as http:
            response = await http.put(
                "/_sandbox/replies/bounce-target",
                json={"smtpHost": "127.0.0.1", "smtpPort": mx_port},
            )
        assert response.status_code == 200, response.text


@pytest.fixture
def sandbox(sandbox_url: str, sandbox_reply_smtp: tuple[str, int]) -> Sandbox:
    return Sandbox(sandbox_url, sandbox_reply_smtp)


def poller_settings(dovecot: MailServer, relay: tuple[str, int], **extra: str) -> dict[str, str]:
    return {
        "POLL_ENABLED": "false",
        "SMTP_RELAY_HOST": relay[0],
        "SMTP_RELAY_PORT": str(relay[1]),
        "REPLY_RETRY_BASE_SECONDS": "0.3",
        "REPLY_RETRY_MAX_SECONDS": "1",
        **dovecot.settings,
        **extra,
    }


@pytest.fixture(scope="module")
async def module_poller(
    start_module_service: Callable[..., Awaitable[RunningService]],
    dovecot: MailServer,
    sandbox_reply_smtp: tuple[str, int],
) -> RunningService:
    """One poller for the module's tests that answer buyer threads of their own tenants and
    read only those tenants' replies, events and buyers' inboxes."""
    return await start_module_service(DEFINITION, **poller_settings(dovecot, sandbox_reply_smtp))


@pytest.fixture
async def poller(module_poller: RunningService, sandbox: Sandbox) -> RunningService:
    # The session's sandbox bounces to one MX: this module's, while its tests run.
    await sandbox.bounce_to(module_poller.runtime.settings.mx_port)
    return module_poller


async def buyer_thread(poller: RunningService, sandbox: Sandbox) -> BuyerThread:
    """A tenant whose folder got one relay mail from the sandbox, polled into a ticket."""
    tenant_id, address = new_tenant()
    await synced(poller, tenant_id, address)
    async with sandbox.client() as http:
        response = await http.post(
            "/_sandbox/messages",
            json={
                "sellingPartnerId": SELLER,
                "to": address,
                "smtpHost": "127.0.0.1",
                "smtpPort": poller.runtime.settings.mx_port,
            },
        )
    assert response.status_code == 200, response.text
    sent = response.json()["sent"][0]
    assert (await poll_now(poller, tenant_id))["stored"] == 1
    tickets = (await get_json(poller, tenant_id, "/api/v1/tickets"))["items"]
    alias = sent["sender"].rsplit("<", 1)[-1].rstrip(">").lower()
    return BuyerThread(
        tenant_id, address, tickets[0]["id"], alias, sent["messageId"], sent["orderId"]
    )


async def set_sender(poller: RunningService, tenant_id: str, address: str) -> None:
    async with poller.client() as http:
        response = await http.put(
            "/api/v1/poller/settings",
            json={"replyFromAddress": address},
            headers=headers(poller, tenant_id),
        )
    assert response.status_code == 200, response.text


async def post_reply(
    poller: RunningService, tenant_id: str, ticket_id: str, body: dict[str, Any]
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=poller.url, timeout=60) as http:
        return await http.post(
            f"/api/v1/tickets/{ticket_id}/replies", json=body, headers=headers(poller, tenant_id)
        )


async def reply_ends(poller: RunningService, thread: BuyerThread, status: str) -> dict[str, Any]:
    """Wait until the ticket's last reply has ``status``; the reply as the API shows it."""
    found: dict[str, Any] = {}

    async def reached() -> bool:
        ticket = await get_json(poller, thread.tenant_id, f"/api/v1/tickets/{thread.ticket_id}")
        outbound = [m for m in ticket["messages"] if m["direction"] == "OUTBOUND"]
        found.update(outbound[-1] if outbound else {})
        return bool(outbound) and outbound[-1]["deliveryStatus"] == status

    await eventually(reached)
    return found


async def rounds_past(poller: RunningService, thread: BuyerThread) -> list[str]:
    """Two more replies on the thread, each queued once the one before is sent: the second
    is claimed by a round that starts after the first's round ended, so every reply due
    when the first was queued has had a whole round (claim, send, record). A second send
    of a reply that ended before would be in one of them, or, put off on a back-off, still
    queued. Their Message-IDs."""
    sent = []
    for text in ("A second reply.", "A third reply."):
        response = await post_reply(poller, thread.tenant_id, thread.ticket_id, {"text": text})
        assert response.status_code == 202, response.text
        await reply_ends(poller, thread, "SENT")
        sent.append(response.json()["messageId"])
    replies, queued = await poller.runtime.pool.fetchrow(
        "SELECT count(*), count(*) FILTER (WHERE status = 'QUEUED') FROM poller_replies"
        " WHERE ticket_id = $1",
        thread.ticket_id,
    )
    assert replies > len(sent) and queued == 0, "a reply that ended is queued again"
    return sent


async def events(poller: RunningService, subject: str, tenant_id: str) -> list[dict[str, Any]]:
    """Every event of ``subject`` for the tenant in the MESSAGES stream."""
    return await tenant_events(poller, subject, tenant_id)


def pdf(name: str = "invoice.pdf", content: bytes = PDF) -> dict[str, str]:
    return {
        "filename": name,
        "contentType": "application/pdf",
        "contentBase64": base64.b64encode(content).decode(),
    }


async def replies_stored(poller: RunningService, tenant_id: str) -> int:
    count = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_replies WHERE tenant_id = $1", tenant_id
    )
    return int(count)


# --- a reply reaches the buyer -----------------------------------------------------------


async def test_a_reply_reaches_the_buyer_on_the_thread_and_is_sent_once(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    await set_sender(poller, thread.tenant_id, await sandbox.registered_email())
    before = await sandbox.inbox(thread.alias)

    response = await post_reply(
        poller,
        thread.tenant_id,
        thread.ticket_id,
        {"text": "Bonjour, votre colis part demain.", "attachments": [pdf()]},
    )
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["status"] == "QUEUED"
    domain = poller.runtime.settings.inbound_domain
    assert queued["messageId"] == f"<reply-{queued['ticketMessageId']}@{domain}>"

    reply = await reply_ends(poller, thread, "SENT")
    assert reply["id"] == queued["ticketMessageId"]
    assert reply["sentAt"] is not None and reply["deliveryReason"] is None
    assert reply["body"] == "Bonjour, votre colis part demain."
    assert reply["attachments"] == [
        {"filename": "invoice.pdf", "contentType": "application/pdf", "size": len(PDF)}
    ]

    received = (await sandbox.inbox(thread.alias))[len(before) :]
    assert len(received) == 1
    mail = received[0]
    assert mail["messageId"] == queued["messageId"]
    assert mail["inReplyTo"] == thread.relay_message_id  # on the buyer's thread
    assert thread.relay_message_id in mail["references"]
    assert mail["subject"].startswith("Re: ") and thread.order_id in mail["subject"]
    assert mail["from"] == await sandbox.registered_email()
    assert mail["text"].strip() == "Bonjour, votre colis part demain."
    assert [(a["filename"], a["size"]) for a in mail["attachments"]] == [("invoice.pdf", len(PDF))]

    ticket = await get_json(poller, thread.tenant_id, f"/api/v1/tickets/{thread.ticket_id}")
    assert [(m["direction"], m["deliveryStatus"]) for m in ticket["messages"]] == [
        ("INBOUND", None),
        ("OUTBOUND", "SENT"),
    ]
    each_once = sorted([queued["messageId"], *await rounds_past(poller, thread)])
    sent = await events(poller, "message.sent", thread.tenant_id)
    assert sorted(e["messageId"] for e in sent) == each_once
    [first] = [e for e in sent if e["messageId"] == queued["messageId"]]
    assert first["ticketMessageId"] == queued["ticketMessageId"]
    assert (first["orderId"], first["status"]) == (thread.order_id, "SENT")
    received = (await sandbox.inbox(thread.alias))[len(before) :]
    assert sorted(m["messageId"] for m in received) == each_once

    async with poller.client() as http:
        metrics = (await http.get("/metrics")).text
    assert 'keybuzz_replies_total{service="poller",status="SENT"}' in metrics


async def test_another_tenant_can_neither_read_nor_answer_the_ticket(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    intruder, _ = new_tenant()
    await set_sender(poller, intruder, await sandbox.registered_email())
    async with poller.client() as http:
        seen = await http.get(
            f"/api/v1/tickets/{thread.ticket_id}", headers=headers(poller, intruder)
        )
        answered = await http.post(
            f"/api/v1/tickets/{thread.ticket_id}/replies",
            json={"text": "hello"},
            headers=headers(poller, intruder),
        )
        not_theirs = await http.post(
            f"/api/v1/tickets/{thread.ticket_id}/replies",
            json={"text": "hello"},
            headers={**headers(poller, intruder), "X-Tenant-Id": thread.tenant_id},
        )
    assert seen.status_code == 404
    assert answered.status_code == 404 and answered.json()["error"]
    assert not_theirs.status_code == 403
    assert await replies_stored(poller, thread.tenant_id) == 0
    assert await replies_stored(poller, intruder) == 0


# --- refused before anything is stored ---------------------------------------------------


async def test_bad_replies_are_refused_before_anything_is_stored_or_sent(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    await set_sender(poller, thread.tenant_id, await sandbox.registered_email())
    too_big = pdf("big.pdf", b"0" * (10 * 1024 * 1024 + 1))
    cases = [
        ({"text": "see attached", "attachments": [too_big]}, 413, "10 MB"),
        (
            {"text": "see attached", "attachments": [pdf("a.pdf", b"1" * 6_000_000)] * 2},
            413,
            "10 MB",
        ),
        ({"text": "x", "attachments": [{**pdf(), "filename": "tool.exe"}]}, 415, ".pdf"),
        ({"text": "x", "attachments": [{**pdf(), "contentType": "text/html"}]}, 415, "text/html"),
        ({"text": "x", "attachments": [{**pdf(), "contentBase64": "***"}]}, 400, "base64"),
        ({"text": "   "}, 400, "empty"),
        ({"attachments": []}, 400, "text"),
        ({"text": "x", "attachments": [{"filename": "a.pdf"}]}, 400, "contentType"),
    ]
    for body, status, words in cases:
        response = await post_reply(poller, thread.tenant_id, thread.ticket_id, body)
        assert response.status_code == status, (body.get("text"), response.text)
        assert words in response.json()["message"] + json.dumps(response.json().get("details"))
    # Past the route's body limit (20 MiB; 16 MB of base64 here): a bare 413, not read.
    huge = {"text": "x", "attachments": [pdf("huge.pdf", b"2" * 16_000_000)]}
    refused = await post_reply(poller, thread.tenant_id, thread.ticket_id, huge)
    assert refused.status_code == 413 and refused.json()["error"], refused.text
    assert "10 MB" not in refused.text  # the checks never saw it
    unknown = await post_reply(poller, thread.tenant_id, "no-such-ticket", {"text": "x"})
    assert unknown.status_code == 404

    assert await replies_stored(poller, thread.tenant_id) == 0
    ticket = await get_json(poller, thread.tenant_id, f"/api/v1/tickets/{thread.ticket_id}")
    assert [m["direction"] for m in ticket["messages"]] == ["INBOUND"]
    inbox = await sandbox.inbox(thread.alias)
    assert not [m for m in inbox if m["inReplyTo"] == thread.relay_message_id]


async def test_too_many_attachments_or_deceptive_file_names_are_refused_and_nothing_stored(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    await set_sender(poller, thread.tenant_id, await sandbox.registered_email())
    one_byte = {"filename": "a.txt", "contentType": "text/plain", "contentBase64": "YQ=="}
    for count in (MAX_ATTACHMENTS + 1, 20_000):  # the 20,000: refused, not built
        body = {"text": "x", "attachments": [one_byte] * count}
        response = await post_reply(poller, thread.tenant_id, thread.ticket_id, body)
        assert response.status_code == 400, response.text
        assert f"length <= {MAX_ATTACHMENTS}" in json.dumps(response.json())
        assert "attachments" in json.dumps(response.json())
    for character in ("\u202e", "\u2066", "\u200f", "\u0085", "\u2028", "\u2029", "\x07"):
        body = {"text": "x", "attachments": [{**pdf(), "filename": f"evil{character}gpj.pdf"}]}
        response = await post_reply(poller, thread.tenant_id, thread.ticket_id, body)
        assert response.status_code == 400, response.text
        assert f"U+{ord(character):04X}" in response.json()["message"]
    assert await replies_stored(poller, thread.tenant_id) == 0
    taken = {"text": "x", "attachments": [pdf(f"p{n}.pdf") for n in range(MAX_ATTACHMENTS)]}
    response = await post_reply(poller, thread.tenant_id, thread.ticket_id, taken)
    assert response.status_code == 202, response.text  # the cap itself is allowed
    # Sent before the test ends: the module's poller would send it during the next test.
    await reply_ends(poller, thread, "SENT")


async def test_a_reply_without_an_approved_sender_setting_is_refused_clearly(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    assert await get_json(poller, thread.tenant_id, "/api/v1/poller/settings") == {
        "replyFromAddress": None
    }
    response = await post_reply(poller, thread.tenant_id, thread.ticket_id, {"text": "hello"})
    assert response.status_code == 409
    assert "replyFromAddress" in response.json()["message"]
    assert await replies_stored(poller, thread.tenant_id) == 0

    async with poller.client() as http:
        for bad in ["not an address", "a@b.example\r\nBcc: x@y.example", ""]:
            refused = await http.put(
                "/api/v1/poller/settings",
                json={"replyFromAddress": bad},
                headers=headers(poller, thread.tenant_id),
            )
            assert refused.status_code == 400, refused.text
    await set_sender(poller, thread.tenant_id, "Support@Shop.example")
    assert await get_json(poller, thread.tenant_id, "/api/v1/poller/settings") == {
        "replyFromAddress": "support@shop.example"
    }


# --- Amazon refuses: 5xx at SMTP, or a bounce afterwards -------------------------------


async def test_a_5xx_from_the_relay_fails_the_reply_with_its_text(
    poller: RunningService, sandbox: Sandbox
) -> None:
    # A buyer alias the sandbox never wrote from: its relay answers 550 5.1.1 at RCPT.
    tenant_id, address, ticket_id = await new_tenant_with_a_ticket(poller)
    await set_sender(poller, tenant_id, await sandbox.registered_email())

    response = await post_reply(poller, tenant_id, ticket_id, {"text": "hello"})
    assert response.status_code == 202, response.text
    thread = BuyerThread(tenant_id, address, ticket_id, "", "", "")
    reply = await reply_ends(poller, thread, "FAILED")
    assert reply["deliveryReason"].startswith("550 5.1.1")
    assert reply["deliveryStatusCode"] == "550"
    assert reply["sentAt"] is None
    attempts = await poller.runtime.pool.fetchval(
        "SELECT attempts FROM poller_replies WHERE tenant_id = $1", tenant_id
    )
    assert attempts == 1  # a permanent refusal is not retried
    assert await events(poller, "message.sent", tenant_id) == []
    [bounced] = await events(poller, "message.bounced", tenant_id)
    assert (bounced["status"], bounced["statusCode"]) == ("FAILED", "550")
    assert bounced["reason"].startswith("550 5.1.1")


async def test_an_unapproved_sender_is_bounced_and_the_bounce_marks_the_reply(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    path = f"/api/v1/tickets/{thread.ticket_id}"
    deadline = (await get_json(poller, thread.tenant_id, path))["respondBy"]
    await set_sender(poller, thread.tenant_id, "someone@not-approved.example")
    response = await post_reply(poller, thread.tenant_id, thread.ticket_id, {"text": "hello"})
    assert response.status_code == 202, response.text
    message_id = response.json()["messageId"]
    await reply_ends(poller, thread, "SENT")  # Amazon takes it at SMTP, then bounces it
    # It left with its own signed envelope sender, and Amazon bounces to it (docs/POLLER.md,
    # "Bounces"; the forged ones: test_bounces_forged.py).
    verp = await poller.runtime.pool.fetchval(
        "SELECT envelope_sender FROM poller_replies WHERE tenant_id = $1", thread.tenant_id
    )
    plain, tag = split_bounce_tag(verp)
    assert plain == thread.address and tag is not None
    assert tag.reply_id == reply_id(response.json()["ticketMessageId"])
    assert is_signed(tag, poller.runtime.settings.bounce_signing_keys)
    async with sandbox.client() as http:
        refused = (await http.get("/_sandbox/replies/refused")).json()["refused"]
    assert {r["bouncedTo"] for r in refused if r["messageId"] == message_id} == {verp}

    async def bounce_polled() -> bool:
        await poll_now(poller, thread.tenant_id)
        return bool(
            await poller.runtime.pool.fetchval(
                "SELECT bounce_external_message_id IS NOT NULL FROM poller_replies"
                " WHERE tenant_id = $1",
                thread.tenant_id,
            )
        )

    await eventually(bounce_polled)
    reply = await reply_ends(poller, thread, "BOUNCED")
    assert "not the registered e-mail address" in reply["deliveryReason"]
    assert reply["deliveryStatusCode"] == "5.7.1"

    tickets = (await get_json(poller, thread.tenant_id, "/api/v1/tickets"))["items"]
    assert [t["id"] for t in tickets] == [thread.ticket_id]  # no ticket of the bounce
    assert tickets[0]["messageCount"] == 2  # the buyer's mail and the reply
    # A bounced reply answered nothing: the buyer's deadline runs again (docs/POLLER.md,
    # "Response deadlines").
    assert (tickets[0]["responseState"], tickets[0]["respondBy"]) == ("AWAITING_REPLY", deadline)
    [bounced] = await events(poller, "message.bounced", thread.tenant_id)
    assert (bounced["messageId"], bounced["status"]) == (message_id, "BOUNCED")
    assert bounced["statusCode"] == "5.7.1"
    assert "not the registered e-mail address" in bounced["reason"]

    # The same bounce again (its sender retried): stored once, nothing changes.
    raw = await poller.runtime.pool.fetchval(
        "SELECT e.raw FROM poller_external_messages e JOIN poller_replies r"
        " ON r.bounce_external_message_id = e.id WHERE r.tenant_id = $1",
        thread.tenant_id,
    )
    await send(poller, raw, thread.address)
    polled = await poll_now(poller, thread.tenant_id)
    assert polled["fetched"] == 0 and polled["stored"] == 0
    assert len(await events(poller, "message.bounced", thread.tenant_id)) == 1
    assert [
        t["id"] for t in (await get_json(poller, thread.tenant_id, "/api/v1/tickets"))["items"]
    ] == [thread.ticket_id]


# --- the relay down, a crash mid-send -----------------------------------------------------


@dataclass
class ForwardingRelay:
    """An SMTP relay of the test's own in front of the sandbox's: every mail it takes is
    recorded and forwarded there; ``after_forward`` runs before it answers."""

    target: tuple[str, int]
    seen: list[bytes] = field(default_factory=list)
    after_forward: Callable[[], None] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw: bytes = envelope.original_content
        self.seen.append(raw)
        await aiosmtplib.send(
            raw,
            sender=envelope.mail_from,
            recipients=envelope.rcpt_tos,
            hostname=self.target[0],
            port=self.target[1],
            timeout=30,
        )
        if self.after_forward is not None:
            self.after_forward()
            await asyncio.sleep(5)  # the client is gone before this answer
        return "250 2.0.0 OK: forwarded"


def start_relay(relay: ForwardingRelay, port: int) -> Controller:
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


async def test_relay_down_the_reply_is_retried_and_sent_once_when_it_is_back(
    start_service_on_module_nats: Callable[..., Awaitable[RunningService]],
    dovecot: MailServer,
    sandbox: Sandbox,
) -> None:
    port = infra.free_port()  # nothing listens there yet: connection refused
    # On a NATS of the module's own: on the worker's, the module's poller would take the
    # tenant.synced of this one's tenants.
    settings = poller_settings(dovecot, ("127.0.0.1", port))
    poller = await start_service_on_module_nats(DEFINITION, **settings)
    await sandbox.bounce_to(poller.runtime.settings.mx_port)
    thread = await buyer_thread(poller, sandbox)
    await set_sender(poller, thread.tenant_id, await sandbox.registered_email())
    before = await sandbox.inbox(thread.alias)
    response = await post_reply(poller, thread.tenant_id, thread.ticket_id, {"text": "hello"})
    assert response.status_code == 202

    async def retried() -> bool:
        row = await poller.runtime.pool.fetchrow(
            "SELECT attempts, status, last_error FROM poller_replies WHERE tenant_id = $1",
            thread.tenant_id,
        )
        return row["attempts"] >= 3 and row["status"] == "QUEUED" and "relay" in row["last_error"]

    await eventually(retried)
    relay = ForwardingRelay(sandbox.relay)
    controller = start_relay(relay, port)
    try:
        await reply_ends(poller, thread, "SENT")
        # The sender stopped: its round in flight has ended, nothing more can be sent.
        await poller.runtime.component(ReplySender).stop()
    finally:
        controller.stop()
    assert len(relay.seen) == 1
    received = (await sandbox.inbox(thread.alias))[len(before) :]
    assert [m["messageId"] for m in received] == [response.json()["messageId"]]
    assert len(await events(poller, "message.sent", thread.tenant_id)) == 1


async def test_a_crash_between_the_relay_accepting_and_our_commit_resends_the_same_mail(
    stack: Infra,
    module_nats: infra.RunningServer,
    start_service_on_module_nats: Callable[..., Awaitable[RunningService]],
    make_database: Callable[..., Awaitable[str]],
    dovecot: MailServer,
    sandbox: Sandbox,
) -> None:
    database = await make_database("poller", service_migrations(DEFINITION))
    # In-process, with no sender: makes the ticket and queues the reply. On a NATS of the
    # module's own, as the relay-down case.
    front = await start_service_on_module_nats(
        DEFINITION,
        DATABASE_URL=database,
        **poller_settings(dovecot, sandbox.relay, REPLY_SENDER_ENABLED="false"),
    )
    await sandbox.bounce_to(front.runtime.settings.mx_port)
    thread = await buyer_thread(front, sandbox)
    await set_sender(front, thread.tenant_id, await sandbox.registered_email())
    before = await sandbox.inbox(thread.alias)
    response = await post_reply(front, thread.tenant_id, thread.ticket_id, {"text": "hello"})
    assert response.status_code == 202
    message_id = response.json()["messageId"]

    port = infra.free_port()
    relay = ForwardingRelay(sandbox.relay)
    controller = start_relay(relay, port)
    env = {
        **os.environ,
        "NATS_URL": module_nats.spec.url,
        "DATABASE_URL": database,
        "PRODUCT_DATABASE_URL": database,
        "VAULT_ADDR": stack.vault_addr,
        "VAULT_TOKEN": bootstrap.service_token_id("poller"),
        "MX_PORT": str(infra.free_port()),
        # A short lease: the restarted poller takes the reply again 3.5 s after the claim
        # (the shortest over twice the relay's timeout the settings accept).
        **poller_settings(
            dovecot,
            ("127.0.0.1", port),
            REPLY_LEASE_SECONDS="3.5",
            SMTP_RELAY_TIMEOUT_SECONDS="1.5",
        ),
    }
    processes: list[asyncio.subprocess.Process] = []
    try:
        processes.append(sender := await spawn_poller(env))
        relay.after_forward = lambda: os.kill(sender.pid, signal.SIGKILL)
        assert await asyncio.wait_for(sender.wait(), 60) == -signal.SIGKILL
        assert len(relay.seen) == 1  # the relay took it; we never recorded that
        status = await front.runtime.pool.fetchval(
            "SELECT status FROM poller_replies WHERE tenant_id = $1", thread.tenant_id
        )
        assert status == "QUEUED"

        relay.after_forward = None
        processes.append(restarted := await spawn_poller(env))
        await reply_ends(front, thread, "SENT")
        # The only sender has exited (uvicorn re-raises the SIGTERM once shut down):
        # nothing more can be sent.
        restarted.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(restarted.wait(), 30) == -signal.SIGTERM
    finally:
        controller.stop()
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()

    assert len(relay.seen) == 2
    assert relay.seen[0] == relay.seen[1]  # the same bytes
    received = (await sandbox.inbox(thread.alias))[len(before) :]
    assert [m["messageId"] for m in received] == [message_id, message_id]
    assert received[0]["text"] == received[1]["text"]
    assert len(await events(front, "message.sent", thread.tenant_id)) == 1


async def spawn_poller(env: dict[str, str]) -> asyncio.subprocess.Process:
    """The poller as a process of its own (so the test can kill it), HTTP on a free port."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "keybuzz_poller",
        env={**env, "POLLER_PORT": str(infra.free_port())},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
