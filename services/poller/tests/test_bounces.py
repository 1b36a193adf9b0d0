"""Recognising bounces (relay_mail) and keeping those of no known reply aside (bounces.py)."""

from __future__ import annotations

from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from keybuzz_devstack.testing import RunningService
from keybuzz_poller.reading.relay_mail import parse
from mailkit import get_json, new_tenant, poll_now, relay_mail, send, synced

REFUSED_ID = "<reply-0b5e2c9a@inbound.keybuzz.test>"
REASON = "Your message could not be delivered because its attachments exceed 10 MB in total."


def amazon_bounce(to: str, refused_id: str = REFUSED_ID, message_id: str | None = None) -> bytes:
    """An RFC 3464 report as Amazon's relay (and the sandbox) sends it."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "Amazon Seller Notifications <mailer-daemon@amazon.fr>"
    report["To"] = to
    report["Subject"] = "Delivery Status Notification (Failure)"
    report["Message-ID"] = message_id or f"<dsn-{refused_id.strip('<>')}@amazon.fr>"
    report["Auto-Submitted"] = "auto-replied"
    report["In-Reply-To"] = refused_id
    report["References"] = refused_id
    report.attach(MIMEText(f"{REASON}\n\nTo: b7q2x9w4k1@marketplace.amazon.fr\n", "plain"))
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = "dns; relay.marketplace.amazon.fr"
    per_recipient["Final-Recipient"] = "rfc822; b7q2x9w4k1@marketplace.amazon.fr"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.3.4"
    per_recipient["Diagnostic-Code"] = "smtp; Attachments exceed the 10 MB limit"
    status = MIMEBase("message", "delivery-status")
    status.set_payload([per_message, per_recipient])
    report.attach(status)
    headers = f"From: shop@example.com\r\nMessage-ID: {refused_id}\r\nSubject: Re: x\r\n"
    report.attach(MIMEText(headers, "rfc822-headers"))
    return report.as_bytes()


def test_an_amazon_bounce_names_the_refused_reply_its_reason_and_status() -> None:
    mail = parse(amazon_bounce("amazon.t1.fr.abc@inbound.keybuzz.test"))
    assert mail.bounce is not None
    assert mail.bounce.refused_message_ids == [REFUSED_ID]
    assert mail.bounce.reason == REASON  # Amazon's sentence, not the headers echoed after it
    assert mail.bounce.status == "5.3.4"
    assert mail.bounce.diagnostic == "smtp; Attachments exceed the 10 MB limit"
    assert mail.bounce.recipient == "b7q2x9w4k1@marketplace.amazon.fr"


def test_a_mailer_daemon_auto_reply_without_a_report_is_a_bounce_by_its_threading() -> None:
    message = EmailMessage()
    message["From"] = "MAILER-DAEMON@amazon.de"
    message["To"] = "amazon.t1.de.abc@inbound.keybuzz.test"
    message["Subject"] = "Undeliverable"
    message["Auto-Submitted"] = "auto-replied"
    message["In-Reply-To"] = REFUSED_ID
    message["References"] = "<older@x> " + REFUSED_ID
    message.set_content("Your message was not delivered.")
    bounce = parse(message.as_bytes()).bounce
    assert bounce is not None
    assert bounce.refused_message_ids == [REFUSED_ID, "<older@x>"]
    assert bounce.reason == "Your message was not delivered."


def test_buyer_mails_are_not_bounces() -> None:
    assert parse(relay_mail("amazon.t1.fr.abc@inbound.keybuzz.test").as_bytes()).bounce is None
    auto = relay_mail("amazon.t1.fr.abc@inbound.keybuzz.test")
    auto["Auto-Submitted"] = "auto-replied"  # a buyer's out-of-office: still the buyer's mail
    assert parse(auto.as_bytes()).bounce is None


async def test_a_bounce_naming_no_known_reply_is_kept_aside_and_makes_no_ticket(
    poller: RunningService,
) -> None:
    tenant_id, address = new_tenant()
    await synced(poller, tenant_id, address)
    await send(poller, amazon_bounce(address), address)
    await send(poller, relay_mail(address), address)  # a buyer's mail in the same batch

    polled = await poll_now(poller, tenant_id)
    assert polled["stored"] == 1  # the buyer's mail; the bounce is no ticket message
    tickets = (await get_json(poller, tenant_id, "/api/v1/tickets"))["items"]
    assert [t["subject"] for t in tickets] == [relay_mail(address)["Subject"]]
    kept = await poller.runtime.pool.fetch(
        "SELECT e.parse_error, e.body, m.id AS message FROM poller_external_messages e"
        " LEFT JOIN poller_ticket_messages m ON m.external_message_id = e.id"
        " WHERE e.tenant_id = $1 AND e.external_id LIKE '<dsn-%'",
        tenant_id,
    )
    assert len(kept) == 1
    assert kept[0]["message"] is None  # never a ticket message
    assert kept[0]["parse_error"] == f"bounce naming no known reply (Message-IDs: {REFUSED_ID})"
    assert kept[0]["body"] == REASON

    await send(poller, amazon_bounce(address), address)  # the same bounce again
    assert (await poll_now(poller, tenant_id))["stored"] == 0
    count = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_external_messages WHERE tenant_id = $1", tenant_id
    )
    assert count == 2  # the buyer's mail and the one bounce
