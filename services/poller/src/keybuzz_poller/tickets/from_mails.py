"""Parsed relay mails → ExternalMessage + Ticket + TicketMessage + ``message.received``.

Each mail is stored as the seam's ``InboxMessage`` its relay makes of it
(``MailRelay.message``: its order's thread, who wrote it), with the mail's envelope beside
it (``received.external_row``, the one row a shop's message is stored as too).

Everything a poll stores happens in the caller's unit of work (its ``TicketStore`` and
``Outbox``), together with the cursor move (``reading/new_mail.py``, ``read_batch``): the rows, the events and the cursor commit
or vanish together. A mail already stored (same tenant, marketplace and external
id: its Message-ID, or a digest of the mail) is skipped without an event, so a
re-read — a crash before commit, a redelivery, a re-created folder — adds nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keybuzz_shared.ids import uuid7_strings
from keybuzz_shared.ticket_topics import classify_each
from keybuzz_shared.uow import StoreUnit

from keybuzz_poller.inbound.relays import default_marketplace, relay_for
from keybuzz_poller.reading.relay_mail import RelayMail
from keybuzz_poller.tickets import deadlines, topics
from keybuzz_poller.tickets.intake import intake_of
from keybuzz_poller.tickets.ports import (
    SYSTEM,
    DeadlineFact,
    ExternalMessageRow,
    TicketRow,
    TicketStore,
)
from keybuzz_poller.tickets.received import external_row, ticket_message
from keybuzz_poller.tickets.responses import opening_deadline


@dataclass
class StoreCounts:
    """What one poll did with the mails it read."""

    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    unparsed: int = 0
    ticket_ids: list[str] = field(default_factory=list)
    accepted_at: list[datetime] = field(default_factory=list)  # the MX's, of those stored


async def store_mails(
    tickets: TicketStore,
    unit: StoreUnit[Any],
    tenant_id: str,
    mails: list[RelayMail],
    counts: StoreCounts,
    received_at: datetime,
) -> None:
    """A batch of the tenant's mails, stored at ``received_at`` in ``unit`` (``tickets`` on
    its transaction): three set-based writes, and the events.

    A ticket the batch creates holds only the batch's messages, so its deadline is known
    before it is written and goes into its INSERT; only the tickets it re-opened are
    touched on the unit's ``Intake``, recomputed once each when the unit's block ends."""
    intake = intake_of(unit, tickets)
    # Each marketplace's relay asked of the registry once a batch, not once a mail.
    relays = {marketplace: relay_for(marketplace) for marketplace in {m.marketplace for m in mails}}
    # Off the event loop: a relay may check a mail against DNS (a signature's key), a
    # wait that must not stall the other tenants' polls.
    inbox = await asyncio.to_thread(
        lambda: [relays[mail.marketplace].message(mail, received_at) for mail in mails]
    )
    externals = [
        external_row(
            message,
            tenant_id=tenant_id,
            # A mail of no known marketplace is the first relay's (``relay_for`` too).
            marketplace=mail.marketplace or default_marketplace(),
            received_at=received_at,
            row_id=row_id,
            mail=mail,
        )
        for row_id, mail, message in zip(uuid7_strings(len(mails)), mails, inbox, strict=True)
    ]
    # What the relay says a mail is about (its own typology: an invoice request) stands
    # before what the buyer's words say.
    said = {e.id: m.ticket_subject for e, m in zip(externals, inbox, strict=True)}
    # What its relay tells is the marketplace's own notice opens no response deadline;
    # a mail's own automatic marks do not (anyone can write them: the relay counts them
    # only when the marketplace signed them, kit/signed_mail.py).
    automatic = {e.id for e in externals if e.sender_type == SYSTEM}
    counts.fetched += len(mails)
    new_ids = await tickets.insert_external_messages(externals)
    fresh = [e for e in externals if e.id in new_ids]
    counts.duplicates += len(externals) - len(fresh)
    ids = uuid7_strings(2 * len(fresh))  # each fresh mail's ticket message and event
    messages_of = dict(zip((e.id for e in fresh), ids, strict=False))  # external → message
    threads = _threads(fresh)
    windows = await _response_windows(tickets, tenant_id, {m for m, _ in threads})
    # Each buyer's mail read once for its topics, the batch's together; an automatic one
    # says nothing of them, nor does one the parser could not read (its body is the raw mail).
    buyers = [e for e in fresh if e.id not in automatic and e.parse_error is None]
    read = dict(
        zip(
            (e.id for e in buyers),
            classify_each([topics.to_classify(e, subject=said[e.id]) for e in buyers]),
            strict=True,
        )
    )
    rows = [
        topics.with_topics(
            _ticket_row(
                ticket_id,
                marketplace,
                key,
                group,
                messages_of,
                automatic,
                windows.get(marketplace),
            ),
            topics.folded(read[e.id] for e in group if e.id in read),
        )
        for ticket_id, ((marketplace, key), group) in zip(
            uuid7_strings(len(threads)), threads.items(), strict=True
        )
    ]
    ticket_ids = await tickets.upsert_tickets(rows)
    messages = [
        ticket_message(
            e,
            ticket_ids[(e.marketplace, thread_key_of(e))],
            message_id=messages_of[e.id],
            awaits_reply=e.id not in automatic,
        )
        for e in fresh
    ]
    await tickets.insert_ticket_messages(messages)
    created = {row.id for row in rows}  # a re-opened ticket answers with its own id
    intake.touch(m.ticket_id for m in messages if m.ticket_id not in created)
    for event_id, e, m in zip(ids[len(fresh) :], fresh, messages, strict=True):
        intake.received(e, m, event_id, read.get(e.id))
    counts.stored += len(fresh)
    counts.unparsed += sum(e.parse_error is not None for e in fresh)
    counts.ticket_ids.extend(m.ticket_id for m in messages)
    counts.accepted_at.extend(e.accepted_at for e in fresh if e.accepted_at is not None)


async def _response_windows(
    tickets: TicketStore, tenant_id: str, marketplaces: set[str]
) -> dict[str, int]:
    """The tenant's windows, read only if a marketplace of the batch has no rule of its own
    or one a tenant may shorten (any other rule cannot be overridden)."""
    fixed = {m for m, r in deadlines.rules().items() if not r.tenant_may_shorten}
    if marketplaces <= fixed:
        return {}
    return await tickets.response_windows(tenant_id)


def _threads(fresh: list[ExternalMessageRow]) -> dict[tuple[str, str], list[ExternalMessageRow]]:
    """The batch's messages by thread (marketplace, thread key), mailbox order kept."""
    threads: dict[tuple[str, str], list[ExternalMessageRow]] = {}
    for external in fresh:
        threads.setdefault((external.marketplace, thread_key_of(external)), []).append(external)
    return threads


def _ticket_row(
    ticket_id: str,
    marketplace: str,
    key: str,
    group: list[ExternalMessageRow],
    messages_of: dict[str, str],
    automatic: set[str],
    override_hours: int | None,
) -> TicketRow:
    """One thread's row, counting its new messages, with the deadline it opens with if new."""
    first = group[0]
    opening = opening_deadline(
        [
            DeadlineFact(
                ticket_id=ticket_id,
                marketplace=marketplace,
                no_response_needed_at=None,
                override_hours=override_hours,
                id=messages_of[e.id],
                direction=deadlines.INBOUND,
                received_at=e.received_at,
                awaits_reply=e.id not in automatic,
                accepted_at=e.accepted_at,
                reply_status=None,
                sent_at=None,
                automatic=False,
                written_at=e.sent_at,
            )
            for e in group
        ]
    )
    return TicketRow(
        id=ticket_id,
        tenant_id=first.tenant_id,
        marketplace=marketplace,
        thread_key=key,
        order_id=first.order_id,
        buyer_email=first.buyer_email,
        buyer_name=next((e.buyer_name for e in group if e.buyer_name), None),
        subject=first.subject,
        last_message_at=max(e.received_at for e in group),
        message_count=len(group),
        response_state=opening.response_state,
        respond_by=opening.respond_by,
    )


def thread_key_of(external: ExternalMessageRow) -> str:
    if external.order_id and external.buyer_email:
        return f"order:{external.order_id}|buyer:{external.buyer_email}"
    return f"message:{external.external_id}"
