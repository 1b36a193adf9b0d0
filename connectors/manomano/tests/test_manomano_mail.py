"""ManoMano's mails through the poller on real servers: the double's relay sends them
DKIM-signed over SMTP to the poller's MX (Dovecot, IMAP), each becomes a ticket once,
threaded by order and by who wrote; an agent's reply leaves by mail to the double's relay
(its limits checked before queueing) and lands on the buyer's thread, or comes back as a
bounce that marks it (tests/conformance/test_mail_relays.py holds that, and an unknown
relay's mail refused at the MX, for every relay). One poller for the module, each test a
tenant of its own."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
import httpx
import pytest
from keybuzz_devstack.shop_api_testing import agent_headers, agent_json, publish, tenant_events
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_double_manomano import service_env
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_shared.events import InboundAddressInfo, TenantSynced

pytestmark = pytest.mark.timeout(120)

DOMAIN = "inbound.keybuzz.test"
PDF = b"%PDF-1.4\n% la facture\n%%EOF\n"


@pytest.fixture(scope="module")
async def relay(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/manomano", timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
async def poller(
    start_module_service: Callable[..., Awaitable[RunningService]],
    dovecot: MailServer,
    sandbox_url: str,
    relay: httpx.AsyncClient,
) -> RunningService:
    port = (await relay.get("/relay")).json()["port"]
    service = await start_module_service(
        POLLER,
        POLL_ENABLED="false",
        SMTP_RELAY_HOST="127.0.0.1",
        SMTP_RELAY_PORT=str(port),
        REPLY_RETRY_BASE_SECONDS="0.3",
        REPLY_RETRY_MAX_SECONDS="1",
        **dovecot.settings,
        **service_env(sandbox_url),
    )
    mx = service.runtime.settings.mx_port
    assert (await relay.put("/bounce-target", json={"host": "127.0.0.1", "port": mx})).is_success
    return service


async def tenant(poller: RunningService) -> tuple[str, str]:
    """A tenant with a ManoMano inbound address the poller knows (as tenant-sync says)."""
    tenant_id = f"mm{uuid.uuid4().hex[:10]}"
    address = f"manomano.{tenant_id}.fr.{uuid.uuid4().hex[:16]}@{DOMAIN}"
    event = TenantSynced(
        tenant_id=tenant_id,
        name="Brico Sud",
        plan="PRO",
        status="ACTIVE",
        occurred_at=datetime.now(UTC),
        inbound_addresses=[
            InboundAddressInfo(marketplace="MANOMANO", country="FR", email=address, status="ACTIVE")
        ],
    )
    await publish(poller, event)

    async def applied() -> bool:
        row = await poller.runtime.pool.fetchrow(
            "SELECT as_of FROM poller_tenants WHERE tenant_id = $1", tenant_id
        )
        return row is not None and row["as_of"] >= event.occurred_at - timedelta(microseconds=1)

    await eventually(applied)
    return tenant_id, address


async def mail(
    relay: httpx.AsyncClient, poller: RunningService, kind: str, to: str, **given: Any
) -> dict[str, Any]:
    body = {"kind": kind, "to": to, "mxPort": poller.runtime.settings.mx_port, **given}
    answer = await relay.post("/mails", json=body)
    assert answer.status_code == 200, answer.text
    sent: dict[str, Any] = answer.json()["sent"]
    return sent


async def poll(poller: RunningService, tenant_id: str) -> dict[str, Any]:
    async with poller.client() as http:
        answer = await http.post("/api/v1/poller/poll", headers=agent_headers(poller, tenant_id))
    assert answer.status_code == 200, answer.text
    polled: dict[str, Any] = answer.json()
    return polled


async def tickets(poller: RunningService, tenant_id: str) -> list[dict[str, Any]]:
    listed = await agent_json(poller, tenant_id, "/api/v1/tickets")
    return [
        await agent_json(poller, tenant_id, f"/api/v1/tickets/{t['id']}") for t in listed["items"]
    ]


async def test_each_kind_of_mail_is_a_ticket_once_threaded_by_order_and_writer(
    poller: RunningService, relay: httpx.AsyncClient
) -> None:
    tenant_id, address = await tenant(poller)
    order = "M100100000040"
    sent = [
        await mail(relay, poller, kind, address, orderId=order, attach=kind == "buyer")
        for kind in ("buyer", "buyer", "support", "notice")
    ]
    invoice = await mail(relay, poller, "invoice", address, orderId="M100100000039")
    forged = await mail(relay, poller, "support", address, orderId="M100100000038", forged=True)
    assert (await poll(poller, tenant_id))["stored"] == 6
    again = await mail(relay, poller, "buyer", address, orderId=order)  # noqa: F841
    assert (await poll(poller, tenant_id))["stored"] == 1
    found = {(t["orderId"], t["buyerEmail"]): t for t in await tickets(poller, tenant_id)}
    buyer = found[(order, sent[0]["sender"])]
    assert [m["senderType"] for m in buyer["messages"]] == ["BUYER"] * 3
    assert buyer["messages"][0]["attachments"][0]["filename"] == "colis.jpg"
    support = found[(order, "support@monechelle.zendesk.com")]
    assert [m["senderType"] for m in support["messages"]] == ["MARKETPLACE_SUPPORT"]
    notice = found[(order, None)]
    assert [m["senderType"] for m in notice["messages"]] == ["SYSTEM"]
    assert notice["respondBy"] is None  # a notice opens no deadline
    assert buyer["respondBy"] is not None and support["respondBy"] is not None
    invoiced = found[("M100100000039", invoice["sender"])]
    assert invoiced["subject"].startswith("Demande de facture")
    assert invoiced["topic"] == "INVOICE_REQUEST"
    shown_as = found[("M100100000038", forged["sender"])]["messages"][0]["senderType"]
    assert shown_as == "BUYER"  # claims ManoMano's support, no signature: not shown as it
    received = await tenant_events(poller, "message.received", tenant_id)
    assert len(received) == 7 and {e["marketplace"] for e in received} == {"MANOMANO"}


def pdf(
    name: str = "facture.pdf", content: bytes = PDF, kind: str = "application/pdf"
) -> dict[str, str]:
    return {
        "filename": name,
        "contentType": kind,
        "contentBase64": base64.b64encode(content).decode(),
    }


async def buyer_ticket(
    poller: RunningService, relay: httpx.AsyncClient, order: str
) -> tuple[str, str, str]:
    """(tenant, ticket, the buyer's alias) of an invoice request, with a reply sender set."""
    tenant_id, address = await tenant(poller)
    sent = await mail(relay, poller, "invoice", address, orderId=order)
    assert (await poll(poller, tenant_id))["stored"] == 1
    [ticket] = await tickets(poller, tenant_id)
    async with poller.client() as http:
        answer = await http.put(
            "/api/v1/poller/settings",
            json={"replyFromAddress": "service-client@brico-sud.example"},
            headers=agent_headers(poller, tenant_id),
        )
    assert answer.status_code == 200, answer.text
    return tenant_id, ticket["id"], sent["sender"]


async def reply(
    poller: RunningService, tenant_id: str, ticket_id: str, body: dict[str, Any]
) -> httpx.Response:
    async with poller.client() as http:
        return await http.post(
            f"/api/v1/tickets/{ticket_id}/replies",
            json=body,
            headers=agent_headers(poller, tenant_id),
        )


async def delivery(poller: RunningService, tenant_id: str, ticket_id: str, status: str) -> None:
    async def reached() -> bool:
        ticket = await agent_json(poller, tenant_id, f"/api/v1/tickets/{ticket_id}")
        out = [m for m in ticket["messages"] if m["direction"] == "OUTBOUND"]
        return bool(out) and out[-1]["deliveryStatus"] == status

    await eventually(reached)


async def test_a_reply_with_the_invoice_reaches_the_buyers_thread_once(
    poller: RunningService, relay: httpx.AsyncClient
) -> None:
    tenant_id, ticket_id, alias = await buyer_ticket(poller, relay, "M100200000011")
    text = "Bonjour, voici votre facture."
    answer = await reply(poller, tenant_id, ticket_id, {"text": text, "attachments": [pdf()]})
    assert answer.status_code == 202, answer.text
    await delivery(poller, tenant_id, ticket_id, "SENT")
    [delivered] = (await relay.get(f"/threads/{alias}")).json()["replies"]
    assert delivered["text"].strip() == text
    assert delivered["subject"].startswith("Re: Demande de facture")
    assert delivered["attachments"] == [
        {"filename": "facture.pdf", "contentType": "application/pdf", "size": len(PDF)}
    ]


@pytest.mark.parametrize(
    ("attachments", "status", "said"),
    [
        ([pdf("photos.zip", b"PK", "application/zip")], 415, "accepts only"),
        ([pdf(f"f{i}.pdf") for i in range(6)], 400, "at most 5"),
    ],
)
async def test_manomanos_limits_are_checked_before_a_reply_is_queued(
    poller: RunningService,
    relay: httpx.AsyncClient,
    attachments: list[Any],
    status: int,
    said: str,
) -> None:
    tenant_id, ticket_id, _ = await buyer_ticket(poller, relay, "M100200000012")
    answer = await reply(
        poller, tenant_id, ticket_id, {"text": "Voici.", "attachments": attachments}
    )
    assert answer.status_code == status and said in answer.text, answer.text
    stored = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_replies WHERE tenant_id = $1", tenant_id
    )
    assert stored == 0


async def test_a_mail_is_shown_as_manomanos_only_as_far_as_manomano_signed_it(
    poller: RunningService, relay: httpx.AsyncClient
) -> None:
    """Through the MX and Dovecot: ManoMano's signed automatic mail naming no buyer is a
    SYSTEM message needing no answer; the same unsigned, with its Auto-Submitted unsigned
    or doubled, and a signed support mail replayed with a second Subject or From above,
    are the buyer's and wait for an answer (kit/signed_mail.py)."""
    tenant_id, address = await tenant(poller)
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "M100100000050": ("alert", {}),
        "M100100000051": ("alert", {"forged": True}),
        "M100100000052": ("alert", {"unsigned": ["auto-submitted"]}),
        "M100100000053": ("alert", {"added": [["Auto-Submitted", "auto-generated"]]}),
        "M100100000054": ("support", {"added": [["Subject", "Remboursement validé"]]}),
        "M100100000055": ("support", {"added": [["From", "<support@monechelle.zendesk.com>"]]}),
    }
    for order, (kind, given) in cases.items():
        await mail(relay, poller, kind, address, orderId=order, **given)
    assert (await poll(poller, tenant_id))["stored"] == len(cases)
    found = {t["orderId"]: t for t in await tickets(poller, tenant_id)}
    shown = {
        order: (t["messages"][0]["senderType"], t["responseState"]) for order, t in found.items()
    }
    waiting = ("BUYER", "AWAITING_REPLY")
    assert shown == {
        "M100100000050": ("SYSTEM", "NO_RESPONSE_NEEDED"),
        **{order: waiting for order in list(cases)[1:]},
    }
    assert found["M100100000054"]["subject"] == "Remboursement validé"  # the buyer's, on top


async def test_a_reply_that_cannot_be_read_is_refused_at_data(relay: httpx.AsyncClient) -> None:
    """A reply with two From headers is refused at DATA (554), as every relay double
    refuses a mail it cannot read, and lands on no thread."""
    alias = f"b{uuid.uuid4().hex[:12]}@contact.manomano.com"
    raw = (
        f"From: Brico Sud <a@keybuzz.test>\r\nFrom: <b@keybuzz.test>\r\nTo: {alias}\r\n"
        "Subject: Re: commande\r\nMessage-ID: <two-froms@keybuzz.test>\r\n\r\nBonjour\r\n"
    ).encode()
    port = (await relay.get("/relay")).json()["port"]
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await aiosmtplib.send(
            raw, sender="s@keybuzz.test", recipients=[alias], hostname="127.0.0.1", port=port
        )
    assert refused.value.code == 554
    assert (await relay.get(f"/threads/{alias}")).json()["replies"] == []
