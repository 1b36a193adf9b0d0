"""Bounces authenticate themselves (inbound/bounce_auth.py; docs/SECURITY.md, issue 20 item 3).

A reply leaves with its own signed envelope sender; the sandbox's relay (Amazon's) bounces
to it from the null sender, through the MX. A hand-made report naming the reply's
Message-ID (which the buyer sees) changes nothing unless it comes the same way: it is kept
as an unlinked mail with the reason. Real servers throughout (sandbox, MX, Dovecot, IMAP).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import aiosmtplib
import pytest
import test_replies
from keybuzz_devstack.testing import RunningService
from mailkit import poll_now
from test_bounces import amazon_bounce
from test_replies import Sandbox, buyer_thread, events, post_reply, reply_ends, set_sender

# The fixtures of test_replies.py: the poller sending through the sandbox's reply relay,
# whose bounces come back to its MX.
sandbox = test_replies.sandbox
module_poller = test_replies.module_poller
poller = test_replies.poller


async def mail_the_mx(poller: RunningService, sender: str, to: str, raw: bytes) -> None:
    """SMTP straight to the poller's MX, with any envelope sender (``""``: ``MAIL FROM:<>``)."""
    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=poller.runtime.settings.mx_port, timeout=30
    ) as smtp:
        await smtp.sendmail(sender, [to], raw)


async def sent_reply(poller: RunningService, sandbox: Sandbox) -> tuple[Any, dict[str, Any]]:
    """A thread and its reply, accepted by the relay (SENT): what an attacker would target."""
    thread = await buyer_thread(poller, sandbox)
    await set_sender(poller, thread.tenant_id, await sandbox.registered_email())
    response = await post_reply(poller, thread.tenant_id, thread.ticket_id, {"text": "hello"})
    assert response.status_code == 202, response.text
    await reply_ends(poller, thread, "SENT")
    return thread, response.json()


async def envelope_sender(poller: RunningService, ticket_message_id: str) -> str:
    value = await poller.runtime.pool.fetchval(
        "SELECT envelope_sender FROM poller_replies WHERE ticket_message_id = $1",
        ticket_message_id,
    )
    return str(value)


async def kept_with(poller: RunningService, tenant_id: str, dsn_id: str) -> str | None:
    """The parse_error the bounce ``dsn_id`` was kept with (it must be there, no ticket)."""
    row = await poller.runtime.pool.fetchrow(
        "SELECT e.parse_error, m.id AS message FROM poller_external_messages e"
        " LEFT JOIN poller_ticket_messages m ON m.external_message_id = e.id"
        " WHERE e.tenant_id = $1 AND e.external_id = $2",
        tenant_id,
        dsn_id,
    )
    assert row is not None, f"{dsn_id} not kept"
    assert row["message"] is None  # never a ticket message
    return row["parse_error"]  # type: ignore[no-any-return]


async def latest_reply_status(poller: RunningService, thread: Any) -> str:
    status = await poller.runtime.pool.fetchval(
        "SELECT status FROM poller_replies WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 1",
        thread.tenant_id,
    )
    return str(status)


async def test_forged_reports_naming_a_sent_reply_change_nothing_and_are_kept_with_the_reason(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread, queued = await sent_reply(poller, sandbox)
    message_id, ticket_message_id = queued["messageId"], queued["ticketMessageId"]
    verp = await envelope_sender(poller, ticket_message_id)
    # Another reply of the same tenant: its own, genuinely signed bounce address.
    other = await post_reply(poller, thread.tenant_id, thread.ticket_id, {"text": "again"})
    other_verp = await envelope_sender(poller, other.json()["ticketMessageId"])

    forged = [  # (envelope sender, recipient, the reason it is kept with)
        ("", thread.address, "not sent to a reply's bounce address"),
        ("mailer-daemon@amazon.fr", verp, "envelope sender is not null"),
        ("", other_verp, "bounce address of another reply"),
    ]
    dsn_ids = []
    for sender, to, _ in forged:
        dsn_id = f"<forged-{uuid.uuid4().hex}@amazon.fr>"
        dsn_ids.append(dsn_id)
        raw = amazon_bounce(to, refused_id=message_id, message_id=dsn_id)
        if sender:  # a Return-Path of the sender's own, under ours: never read
            raw = b"Return-Path: <>\r\n" + raw
        await mail_the_mx(poller, sender, to, raw)
    polled = await poll_now(poller, thread.tenant_id)
    assert polled["stored"] == 0  # no ticket message of any of them

    for (_, _, reason), dsn_id in zip(forged, dsn_ids, strict=True):
        kept = await kept_with(poller, thread.tenant_id, dsn_id)
        assert kept is not None and kept.startswith("bounce not authenticated: ")
        assert reason in kept
    row = await poller.runtime.pool.fetchrow(
        "SELECT status, reason, bounce_external_message_id FROM poller_replies"
        " WHERE ticket_message_id = $1",
        ticket_message_id,
    )
    assert tuple(row) == ("SENT", None, None)
    assert await events(poller, "message.bounced", thread.tenant_id) == []


async def test_a_malformed_or_wrongly_signed_bounce_tag_is_no_address_of_ours(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread, queued = await sent_reply(poller, sandbox)
    verp = await envelope_sender(poller, queued["ticketMessageId"])
    unsigned = re.sub(r"-[a-z2-7]{16}@", "@", verp)  # the reply's tag without its signature
    wrong_signature = re.sub(r"-([a-z2-7]{16})@", "-" + "a" * 16 + "@", verp)
    assert wrong_signature != verp
    for to in (unsigned, wrong_signature):
        raw = amazon_bounce(to, refused_id=queued["messageId"])
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await mail_the_mx(poller, "", to, raw)
        assert refused.value.recipients[0].code == 550
    assert await latest_reply_status(poller, thread) == "SENT"
