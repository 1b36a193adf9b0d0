"""The sandbox as Amazon's relay for sellers' replies: real SMTP both ways.

A sandbox app runs with its lifespan (so its SMTP reply relay serves on a free
port); an aiosmtpd receiver stands in for the tenant's MX: it gets the buyer
messages the sandbox relays, and the bounces.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import make_msgid, parseaddr
from typing import Any, cast

import aiosmtplib
import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from keybuzz_devstack.infra import free_port
from keybuzz_devstack.testing import eventually
from keybuzz_double_amazon.env import AmazonDoubleSettings
from keybuzz_sandbox import SandboxConfig, create_app
from keybuzz_sandbox.config import ConfigError, config_from_env
from keybuzz_sandbox.double_kit.replies import Recent
from sandbox_helpers import DE_SELLER, FR_SELLER

INBOUND = "amazon.tenant-1.fr.abc123@inbound.keybuzz.test"  # the tenant's inbound address
TIMEOUT = 20.0  # generous: 2 shared cores


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Mx:
    """The tenant's MX: buyer messages from the sandbox, and its bounces."""

    port: int = 0
    mails: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        self.mails.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def bounces(self) -> list[Received]:
        return [m for m in self.mails if m.mail_from in ("", "<>")]

    async def bounce(self, count: int = 1) -> Received:
        async def arrived() -> bool:
            return len(self.bounces()) >= count

        await eventually(arrived)  # a bounce's sending is waited for, not timed
        return self.bounces()[count - 1]


@pytest.fixture
def mx() -> Iterator[Mx]:
    receiver = Mx()
    controller = Controller(receiver, hostname="127.0.0.1", port=free_port())
    controller.start()
    receiver.port = controller.port
    yield receiver
    controller.stop()


@dataclass
class Relay:
    admin: httpx.AsyncClient
    port: int
    mx: Mx
    registered: str  # the FR seller's registered address

    async def buyer_message(self, seller: str = FR_SELLER) -> dict[str, Any]:
        """Have a buyer write to the tenant; returns the relay mail (orderId, messageId, alias)."""
        response = await self.admin.post(
            "/_sandbox/messages",
            json={"sellingPartnerId": seller, "to": INBOUND, "smtpPort": self.mx.port},
        )
        assert response.status_code == 200, response.text
        sent = dict(response.json()["sent"][0])
        sent["alias"] = parseaddr(sent["sender"])[1]
        return sent

    async def reply(
        self,
        to: str,
        *,
        sender: str | None = None,
        envelope_sender: str = INBOUND,
        subject: str = "Re: votre commande",
        answers: str | None = None,
        attachments: tuple[tuple[str, str, bytes], ...] = (),
        message_id: str | None = None,
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender or self.registered
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id or make_msgid(domain="inbound.keybuzz.test")
        if answers:
            message["In-Reply-To"] = answers
            message["References"] = answers
        message.set_content("Bonjour, votre colis part demain.\nCordialement")
        for filename, content_type, data in attachments:
            maintype, subtype = content_type.split("/")
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        await aiosmtplib.send(
            message,
            sender=envelope_sender,
            recipients=[to],
            hostname="127.0.0.1",
            port=self.port,
            start_tls=False,
            timeout=TIMEOUT,
        )
        return message

    async def inbox(self, alias: str) -> list[dict[str, Any]]:
        response = await self.admin.get(f"/_sandbox/buyers/{alias}/inbox")
        assert response.status_code == 200, response.text
        return list(response.json()["messages"])

    async def refused(self) -> list[dict[str, Any]]:
        return list((await self.admin.get("/_sandbox/replies/refused")).json()["refused"])


@pytest_asyncio.fixture
async def relay(mx: Mx) -> AsyncIterator[Relay]:
    config = SandboxConfig(
        time_scale=60,
        reply_front_port=0,
        doubles=(AmazonDoubleSettings(reply_smtp_port=0, smtp_port=mx.port, bench_orders=300),),
    )
    app = create_app(config)
    started, stop = asyncio.Event(), asyncio.Event()

    async def serve() -> None:  # the app's own lifespan, entered and left in one task
        async with app.lifespan():
            started.set()
            await stop.wait()

    server = asyncio.create_task(serve())
    await asyncio.wait_for(started.wait(), TIMEOUT)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as admin:
        sellers = (await admin.get("/_sandbox/sellers")).json()
        registered = next(s for s in sellers if s["sellingPartnerId"] == FR_SELLER)
        port = (await admin.get("/_sandbox/config")).json()["replyRelay"]["port"]
        yield Relay(admin, port, mx, registered["registeredEmail"])
    stop.set()
    await server


def parts(bounce: EmailMessage) -> tuple[str, list[Message], str]:
    """(human text, delivery-status blocks, rfc822-headers text) of a DSN."""
    human, status, headers = cast(list[EmailMessage], bounce.get_payload())
    blocks = cast(list[Message], status.get_payload())
    return str(human.get_content()), blocks, str(headers.get_content())


async def test_seeded_sellers_have_a_registered_address(relay: Relay) -> None:
    sellers = {
        s["sellingPartnerId"]: s for s in (await relay.admin.get("/_sandbox/sellers")).json()
    }
    assert sellers[FR_SELLER]["registeredEmail"] == "keybuzz-demo-fr@example.com"
    assert sellers[DE_SELLER]["registeredEmail"] == "keybuzz-bench-de@example.com"


async def test_reply_from_the_registered_address_reaches_the_buyer_on_the_thread(
    relay: Relay,
) -> None:
    buyer = await relay.buyer_message()
    pdf = b"%PDF-1.4 invoice" * 100
    subject = "Re: Commande : 402-0000000-0000001"  # the thread's order, not the subject's
    sent = await relay.reply(
        buyer["alias"],
        subject=subject,
        answers=buyer["messageId"],
        attachments=(("facture.pdf", "application/pdf", pdf),),
    )
    [received] = await relay.inbox(buyer["alias"])
    assert received["messageId"] == sent["Message-ID"]
    assert received["inReplyTo"] == buyer["messageId"]
    assert received["references"] == [buyer["messageId"]]
    assert received["from"] == relay.registered
    assert received["subject"] == subject
    assert "votre colis part demain" in received["text"]
    assert received["attachments"] == [
        {"filename": "facture.pdf", "contentType": "application/pdf", "size": len(pdf)}
    ]
    assert received["sellerId"] == FR_SELLER and received["orderId"] == buyer["orderId"]
    assert received["receivedAt"].endswith("Z")
    assert await relay.refused() == [] and relay.mx.bounces() == []


async def test_unknown_alias_is_refused_at_rcpt(relay: Relay) -> None:
    for stranger in ("nobody000000000@marketplace.amazon.fr", "someone@example.com"):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await relay.reply(stranger)
        [error] = refused.value.recipients
        assert error.code == 550 and "5.1.1" in error.message
    assert (
        await relay.admin.get("/_sandbox/buyers/nobody@marketplace.amazon.fr/inbox")
    ).status_code == 404


async def test_unapproved_sender_gets_an_amazon_style_bounce(relay: Relay) -> None:
    buyer = await relay.buyer_message()
    sent = await relay.reply(
        buyer["alias"], sender="agent@keybuzz.test", answers=buyer["messageId"]
    )
    bounce = (await relay.mx.bounce()).message
    assert relay.mx.bounces()[0].rcpt_tos == [INBOUND]  # the envelope sender, null sender used
    assert bounce["From"] == "Amazon Seller Notifications <mailer-daemon@amazon.fr>"
    assert bounce["To"] == INBOUND
    assert bounce["Subject"] == "Delivery Status Notification (Failure)"
    assert bounce["Auto-Submitted"] == "auto-replied"
    assert bounce["In-Reply-To"] == sent["Message-ID"] == bounce["References"]
    assert bounce.get_content_type() == "multipart/report"
    assert bounce.get_param("report-type") == "delivery-status"
    human, (_, recipient), headers = parts(bounce)
    assert "not the registered e-mail address of your seller account" in human
    assert recipient["Final-Recipient"] == f"rfc822; {buyer['alias']}"
    assert recipient["Action"] == "failed" and recipient["Status"] == "5.7.1"
    assert recipient["Diagnostic-Code"].startswith("smtp; Sender is not the registered address")
    assert f"Message-ID: {sent['Message-ID']}" in headers and "From: agent@keybuzz.test" in headers
    assert await relay.inbox(buyer["alias"]) == []

    # The relay notes the bounce sent once our MX has answered it, a moment after the MX
    # holds it (longer on a busy machine): waited for, then what it says asserted.
    async def bounce_settled() -> dict[str, Any] | None:
        [refusal] = await relay.refused()
        return refusal if refusal["bounce"] != "pending" else None

    refusal = await eventually(bounce_settled, within=None)
    assert refusal["messageId"] == sent["Message-ID"] and refusal["reason"] == "sender-not-approved"
    assert refusal["bouncedTo"] == INBOUND and refusal["bounce"] == "sent"


async def test_approved_sender_passes_and_blocked_one_bounces(relay: Relay) -> None:
    buyer = await relay.buyer_message()
    agent = "agent@keybuzz.test"
    senders = f"/_sandbox/sellers/{FR_SELLER}/approved-senders"
    for _ in range(2):  # idempotent
        response = await relay.admin.post(senders, json={"address": "Agent@KeyBuzz.test"})
        assert response.status_code == 201 and response.json() == {"address": agent}
    assert (await relay.admin.get(senders)).json() == {"approvedSenders": [agent]}
    await relay.reply(buyer["alias"], sender=f"Agent <{agent}>")
    assert len(await relay.inbox(buyer["alias"])) == 1

    blocked = f"/_sandbox/sellers/{FR_SELLER}/blocked-senders"
    assert (await relay.admin.post(blocked, json={"address": agent})).status_code == 201
    await relay.reply(buyer["alias"], sender=agent)  # approved, yet blocked
    _, (_, recipient), _ = parts((await relay.mx.bounce()).message)
    assert recipient["Status"] == "5.7.1" and "blocked" in recipient["Diagnostic-Code"]

    assert (await relay.admin.delete(f"{blocked}/{agent}")).status_code == 204
    assert (await relay.admin.delete(f"{senders}/{agent}")).status_code == 204
    assert (await relay.admin.get(senders)).json() == {"approvedSenders": []}
    await relay.reply(buyer["alias"], sender=agent)
    await relay.mx.bounce(2)
    reasons = [r["reason"] for r in await relay.refused()]
    assert reasons == ["sender-blocked", "sender-not-approved"]
    assert len(await relay.inbox(buyer["alias"])) == 1


async def test_sender_admin_rejects_bad_input_with_json_errors(relay: Relay) -> None:
    senders = f"/_sandbox/sellers/{FR_SELLER}/approved-senders"
    for body in ({"address": "not an address"}, {"address": "a@b"}, {"address": "A <a@b.fr>"}):
        response = await relay.admin.post(senders, json=body)
        assert response.status_code == 400 and "address" in response.json()["error"]
    response = await relay.admin.post(senders, json={"mail": "a@b.fr"})
    assert response.status_code == 400 and response.headers["content-type"].startswith(
        "application/json"
    )
    unknown = await relay.admin.post(
        "/_sandbox/sellers/NOPE/approved-senders", json={"address": "a@b.fr"}
    )
    assert unknown.status_code == 404 and "NOPE" in unknown.json()["error"]
    assert (await relay.admin.get(senders)).json() == {"approvedSenders": []}


async def test_attachments_too_large_or_of_an_unsupported_type_bounce(relay: Relay) -> None:
    buyer = await relay.buyer_message()
    big = bytes(10 * 1024 * 1024 + 1)  # one byte over 10 MB, in two supported files
    await relay.reply(
        buyer["alias"],
        attachments=(("a.pdf", "application/pdf", big[:1024]), ("b.png", "image/png", big[1024:])),
    )
    _, (_, recipient), _ = parts((await relay.mx.bounce()).message)
    assert recipient["Status"] == "5.3.4" and "10 MB" in recipient["Diagnostic-Code"]

    await relay.reply(
        buyer["alias"], attachments=(("setup.exe", "application/octet-stream", b"MZ"),)
    )
    human, (_, recipient), _ = parts((await relay.mx.bounce(2)).message)
    assert recipient["Status"] == "5.6.1" and "PDF, JPG, JPEG, PNG, GIF, TXT, DOC, DOCX" in human

    exactly_ten = bytes(10 * 1024 * 1024)
    await relay.reply(buyer["alias"], attachments=(("scan.JPG", "image/jpeg", exactly_ten),))
    [received] = await relay.inbox(buyer["alias"])
    assert received["attachments"][0]["size"] == len(exactly_ten)
    reasons = [r["reason"] for r in await relay.refused()]
    assert reasons == ["attachments-too-large", "attachment-type"]


async def test_opted_out_buyer_gets_only_thread_replies_and_important_mail(relay: Relay) -> None:
    buyer, other = await relay.buyer_message(), await relay.buyer_message()
    opt_out = f"/_sandbox/buyers/{buyer['alias']}/opt-out"
    response = await relay.admin.put(opt_out, json={"optedOut": True})
    assert response.status_code == 200 and response.json()["optedOut"] is True

    await relay.reply(buyer["alias"], subject="Nos nouveautés")  # unsolicited
    human, (_, recipient), _ = parts((await relay.mx.bounce()).message)
    assert recipient["Status"] == "5.7.1" and "opted out" in recipient["Diagnostic-Code"]
    assert "original message thread" in human
    # Another buyer's thread is not this buyer's thread.
    await relay.reply(buyer["alias"], answers=other["messageId"])
    await relay.mx.bounce(2)

    await relay.reply(buyer["alias"], answers=buyer["messageId"])
    await relay.reply(buyer["alias"], subject="Adresse incomplète [important]")
    await relay.admin.put(opt_out, json={"optedOut": False})
    await relay.reply(buyer["alias"], subject="Nos nouveautés")
    received = await relay.inbox(buyer["alias"])
    assert [m["subject"] for m in received] == [
        "Re: votre commande",
        "Adresse incomplète [important]",
        "Nos nouveautés",
    ]
    assert [r["reason"] for r in await relay.refused()] == ["buyer-opted-out"] * 2
    bad = await relay.admin.put(opt_out, json={"optedOut": "yes"})
    assert bad.status_code == 400
    unknown = await relay.admin.put(
        "/_sandbox/buyers/nobody@marketplace.amazon.fr/opt-out", json={"optedOut": True}
    )
    assert unknown.status_code == 404


async def test_same_message_id_twice_is_recorded_twice(relay: Relay) -> None:
    buyer = await relay.buyer_message()
    message_id = make_msgid(domain="inbound.keybuzz.test")
    for _ in range(2):
        await relay.reply(buyer["alias"], message_id=message_id, answers=buyer["messageId"])
    assert [m["messageId"] for m in await relay.inbox(buyer["alias"])] == [message_id] * 2


async def test_seeded_buyers_are_known_without_a_relay_mail(relay: Relay) -> None:
    token_free_orders = await relay.admin.post(
        "/_sandbox/messages",
        json={"sellingPartnerId": DE_SELLER, "to": INBOUND, "smtpPort": relay.mx.port},
    )
    alias = parseaddr(token_free_orders.json()["sent"][0]["sender"])[1]
    app = relay.admin._transport.app  # type: ignore[attr-defined]
    app.state.sandbox.parts["amazon"].relay_log = Recent(1)  # forget it, as after a restart
    await relay.reply(alias, sender="keybuzz-bench-de@example.com")
    [received] = await relay.inbox(alias)
    assert received["sellerId"] == DE_SELLER and received["inReplyTo"] is None


async def test_bad_smtp_input_is_refused_and_the_relay_keeps_serving(relay: Relay) -> None:
    buyer = await relay.buyer_message()
    no_from = b"To: x\r\nSubject: hi\r\n\r\nbody\r\n"
    no_boundary = (
        f"From: {relay.registered}\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed\r\n\r\ngarbage without parts\r\n"
    ).encode()
    two_senders = f"From: {relay.registered}, other@example.com\r\n\r\nbody\r\n".encode()
    for raw in (no_from, no_boundary, b"\x00\xff\xfe not a message at all", two_senders):
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await aiosmtplib.send(
                raw,
                sender=INBOUND,
                recipients=[buyer["alias"]],
                hostname="127.0.0.1",
                port=relay.port,
                start_tls=False,
                timeout=TIMEOUT,
            )
        assert refused.value.code == 554 and "5.6.0" in refused.value.message
    records = await relay.refused()
    reasons = [r["reason"] for r in records]
    assert len(reasons) == 4 and all(r.startswith("malformed: ") for r in reasons)
    assert all(r["bounce"] == "none" and r["bouncedTo"] is None for r in records)
    await relay.reply(buyer["alias"])  # still serving
    assert len(await relay.inbox(buyer["alias"])) == 1
    assert relay.mx.bounces() == []  # bad input is refused in the dialogue, never bounced


async def test_refusal_with_a_null_envelope_sender_is_not_bounced(relay: Relay) -> None:
    buyer = await relay.buyer_message()
    await relay.reply(buyer["alias"], sender="agent@keybuzz.test", envelope_sender="")
    # A later refusal with a sender is bounced: once its bounce is in, the relay has
    # done all it would ever do for the first one.
    later = await relay.reply(buyer["alias"], sender="agent@keybuzz.test")
    await relay.mx.bounce()
    unbounced, bounced = await relay.refused()
    assert unbounced["bouncedTo"] is None and unbounced["bounce"] == "none"
    assert bounced["bouncedTo"] == INBOUND
    assert [b.message["In-Reply-To"] for b in relay.mx.bounces()] == [later["Message-ID"]]


async def test_faults_refuse_the_next_transactions_temporarily_then_the_reply_passes(
    relay: Relay,
) -> None:
    buyer = await relay.buyer_message()
    other = await relay.buyer_message()
    faults = {"refuseNext": 2, "stage": "rcpt", "to": buyer["alias"]}
    assert (await relay.admin.put("/_sandbox/replies/faults", json=faults)).status_code == 200
    await relay.reply(other["alias"])  # another buyer's reply is not counted
    for _ in range(2):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await relay.reply(buyer["alias"])
        [error] = refused.value.recipients
        assert (error.code, error.message) == (451, "4.7.1 Greylisted: please try again later")
    sent = await relay.reply(buyer["alias"])
    assert [m["messageId"] for m in await relay.inbox(buyer["alias"])] == [sent["Message-ID"]]
    state = (await relay.admin.get("/_sandbox/replies/faults")).json()
    assert state["refuseNext"] == 0
    assert [(r["stage"], r["to"]) for r in state["refusals"]] == [("rcpt", buyer["alias"])] * 2
    assert all(r["at"].endswith("Z") for r in state["refusals"])

    # After the message: a relay shutting down answers 421 instead of 250; nothing lands.
    data = {"refuseNext": 1, "stage": "data", "reply": "421 4.3.2 Service shutting down"}
    assert (await relay.admin.put("/_sandbox/replies/faults", json=data)).status_code == 200
    with pytest.raises(aiosmtplib.SMTPResponseException) as shut:
        await relay.reply(buyer["alias"])
    assert shut.value.code == 421
    assert len(await relay.inbox(buyer["alias"])) == 1
    assert await relay.refused() == [] and relay.mx.bounces() == []
    await relay.reply(buyer["alias"])
    assert len(await relay.inbox(buyer["alias"])) == 2


async def test_fault_settings_reject_bad_input_with_json_errors(relay: Relay) -> None:
    for bad in (
        {"refuseNext": -1},
        {"stage": "helo"},
        {"reply": "250 fine"},
        {"reply": "451 two\r\nlines"},
        {"unknown": 1},
    ):
        response = await relay.admin.put("/_sandbox/replies/faults", json=bad)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()
    assert (await relay.admin.delete("/_sandbox/replies/faults")).status_code == 204
    assert (await relay.admin.get("/_sandbox/replies/faults")).json()["refuseNext"] == 0


async def test_bounce_is_retried_until_the_mx_answers(relay: Relay) -> None:
    target = "/_sandbox/replies/bounce-target"
    down = {"smtpHost": "127.0.0.1", "smtpPort": free_port()}  # nothing listens there
    assert (await relay.admin.put(target, json=down)).status_code == 200
    buyer = await relay.buyer_message()
    await relay.reply(buyer["alias"], sender="agent@keybuzz.test")
    await asyncio.sleep(0.2)  # first attempt fails on the closed port
    assert [r["bounce"] for r in await relay.refused()] == ["pending"]
    assert relay.mx.bounces() == []
    up = {"smtpHost": "127.0.0.1", "smtpPort": relay.mx.port}
    assert (await relay.admin.put(target, json=up)).json() == up
    await relay.mx.bounce()

    # The MX has the bounce before the sandbox has read its 250 and recorded "sent".
    async def settled() -> list[str] | None:
        states = [r["bounce"] for r in await relay.refused()]
        return states if states != ["pending"] else None

    assert await eventually(settled) == ["sent"]
    assert (await relay.admin.put(target, json={"smtpHost": "", "smtpPort": 0})).status_code == 400


def test_reply_relay_settings() -> None:
    config = config_from_env(
        {"SANDBOX_REPLY_SMTP_HOST": "0.0.0.0", "SANDBOX_REPLY_SMTP_PORT": "2600"}
    )
    read = config.of(AmazonDoubleSettings)
    assert (read.reply_smtp_host, read.reply_smtp_port) == ("0.0.0.0", 2600)
    default = config_from_env({}).of(AmazonDoubleSettings)
    assert (default.reply_smtp_host, default.reply_smtp_port) == ("127.0.0.1", 2526)
    with pytest.raises(ConfigError, match="SANDBOX_REPLY_SMTP_PORT"):
        config_from_env({"SANDBOX_REPLY_SMTP_PORT": "70000"})
