"""The relay's bounces of our replies: they mark the reply BOUNCED and never become tickets.

A marketplace's mail relay sends the DSN (RFC 3464) of a reply it refused after SMTP to the reply's
signed envelope sender (``bounce_auth.py``), so bounces arrive in the tenant's folder and
a poll takes them out of the batch before tickets are made, in the batch's unit of work.
An authenticated bounce naming one of the tenant's replies marks it ``BOUNCED`` with
the relay's reason and emits ``message.bounced``; one naming no known reply, or not
authenticated, is kept with the reason in ``parse_error`` (never dropped, never a
ticket). The same bounce twice is stored once (docs/POLLER.md, "Replies").
"""

from __future__ import annotations

import logging
from datetime import datetime

from keybuzz_shared.ids import uuid7_string
from keybuzz_shared.text import storable

from keybuzz_poller.inbound.bounce_auth import NamedReply, authenticate, envelope_of
from keybuzz_poller.inbound.relays import default_marketplace
from keybuzz_poller.reading.relay_mail import Bounce, RelayMail
from keybuzz_poller.replies.outcomes import count_reply, not_delivered
from keybuzz_poller.replies.ports import ReplyWrites
from keybuzz_poller.tickets.intake import Intake
from keybuzz_poller.tickets.ports import ExternalMessageRow, Outbox

log = logging.getLogger(__name__)


async def take_bounces(
    writes: ReplyWrites,
    outbox: Outbox,
    tenant_id: str,
    mails: list[RelayMail],
    *,
    received_at: datetime,
    service: str,
    keys: tuple[bytes, ...],
    touched: Intake,
) -> list[RelayMail]:
    """Handle the bounces of ``mails`` in the unit of work of ``writes`` and ``outbox``; the
    other mails, in order, for tickets. A bounced reply's ticket is touched on ``touched``,
    the unit of work's ``Intake``: its deadline is recomputed once with the batch's other
    tickets.

    ``service``: the bounces' label on ``keybuzz_replies_total``; ``keys``: the bounce
    signing secrets (``PollerSettings.bounce_signing_keys``).
    """
    bounces = [m for m in mails if m.bounce is not None]
    for mail in bounces:
        if bounced := await _take(writes, outbox, tenant_id, mail, received_at, service, keys):
            touched.touch([bounced])
    return [m for m in mails if m.bounce is None] if bounces else mails


async def _take(
    writes: ReplyWrites,
    outbox: Outbox,
    tenant_id: str,
    mail: RelayMail,
    received_at: datetime,
    service: str,
    keys: tuple[bytes, ...],
) -> str | None:
    """The ticket of the reply the bounce marked BOUNCED, if it marked one."""
    bounce = mail.bounce
    assert bounce is not None
    reply, problem = await _refused_reply(writes, tenant_id, mail, bounce, keys)
    row = _bounce_row(tenant_id, mail, bounce, received_at, problem)
    if not await writes.tickets.insert_external_messages([row]):
        return None  # this bounce was handled before: nothing changes
    if reply is None:
        log.warning("bounce kept aside", extra={"tenant_id": tenant_id, "reason": row.parse_error})
        return None
    bounced = await writes.replies.mark_bounced(
        reply.ticket_message_id, row.body, bounce.status, row.id
    )
    if bounced is None:
        return None  # already BOUNCED or FAILED
    outbox.emit(
        not_delivered(
            tenant_id,
            bounced,
            status="BOUNCED",
            reason=row.body,
            status_code=bounce.status,
            marketplace=row.marketplace,
        )
    )
    # Counted before commit: a rolled-back batch is read again and counted again (rare).
    count_reply(service, "BOUNCED")
    log.info("reply bounced", extra={"ticket_message_id": bounced.ticket_message_id})
    return bounced.ticket_id  # a bounced reply answers nothing: its deadline runs again


async def _refused_reply(
    writes: ReplyWrites, tenant_id: str, mail: RelayMail, bounce: Bounce, keys: tuple[bytes, ...]
) -> tuple[NamedReply | None, str | None]:
    """The reply this bounce may mark, or None and why not."""
    named = await writes.replies.named_replies(tenant_id, bounce.refused_message_ids)
    if not named:
        ids = ", ".join(bounce.refused_message_ids) or "none"
        return None, f"bounce naming no known reply (Message-IDs: {ids})"
    return authenticate(envelope_of(mail.raw), named, keys)


def _bounce_row(
    tenant_id: str, mail: RelayMail, bounce: Bounce, received_at: datetime, problem: str | None
) -> ExternalMessageRow:
    """Kept as an external message like any mail, with no buyer, order or ticket."""
    return ExternalMessageRow(
        id=uuid7_string(),
        tenant_id=tenant_id,
        marketplace=mail.marketplace or default_marketplace(),
        external_id=storable(mail.external_id),
        order_id=None,
        buyer_email=None,
        buyer_name=None,
        subject=storable(mail.subject),
        body=storable(bounce.reason)[:2000],
        quoted="",
        attachments="[]",
        inbound_address=mail.inbound_address,
        country=mail.country,
        sent_at=mail.sent_at,
        received_at=received_at,
        raw=mail.raw,
        parse_error=None if problem is None else storable(problem)[:500],
        accepted_at=mail.accepted_at,
    )
