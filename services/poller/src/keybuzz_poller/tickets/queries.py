"""Read side of tickets: the list (keyset pages), one ticket with its messages, a message's
stored attachment; one tenant's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from keybuzz_shared.connectors.registry import marketplaces, served
from keybuzz_shared.pages import (
    InvalidCursor,
    Position,
    decode_cursor,
    encode_cursor,
    split_page,
)
from keybuzz_shared.ticket_topics import SUBJECTS, language_tag

from keybuzz_poller.inbound.addresses import seconds_since_accepted
from keybuzz_poller.tickets import deadlines
from keybuzz_poller.tickets.ports import (
    StoredMessage,
    StoredTicket,
    TicketQuery,
    TicketsPorts,
    TicketStore,
)

TICKET_STATUSES = frozenset({"OPEN", "CLOSED"})
MAX_PAGE = 200
SORTS = frozenset({"lastMessageAt", "respondBy"})
# A cursor of the deadline order carries this prefix, so that a cursor of one order is
# refused by the other (base64url has no ".").
_DEADLINE_CURSOR = "d."


class InvalidQuery(Exception):
    """A filter or page cursor the caller got wrong."""


class AttachmentNotFound(Exception):
    """No such attachment on the tenant's ticket message, or its content is not stored."""


class TicketNotFound(Exception):
    """No such ticket for this tenant (another tenant's is just as absent)."""


class ThreadDetail(msgspec.Struct, kw_only=True):
    name: str  # a stable key (``sales_channel``, ``topic`` …)
    label: str  # what the agent reads
    value: str


class Ticket(msgspec.Struct, kw_only=True, rename="camel"):
    id: str
    marketplace: str
    order_id: str | None
    buyer_email: str | None
    buyer_name: str | None
    subject: str
    status: str
    message_count: int
    created_at: datetime
    last_message_at: datetime
    # When the oldest buyer message not yet answered must be answered by (the marketplace's
    # rule, tickets/deadlines.py); null when nothing waits for the seller.
    respond_by: datetime | None
    response_state: str  # AWAITING_REPLY, ANSWERED, NO_RESPONSE_NEEDED or OVERDUE
    no_response_needed_at: datetime | None  # the agent's mark: when, and who (JWT subject)
    no_response_needed_by: str | None
    # The latest incident (a claim on it) of the ticket's order: its status (OPENED, CLOSED)
    # and the marketplace's type codes; null for a ticket without one.
    incident_status: str | None = None
    incident_types: list[str] | None = None
    # Its marketplace thread's state as the shop's listing last gave it (its sales channel,
    # topic …), and whether the ticket is a claim: its thread is one at the marketplace
    # (as last listed), or an incident flags it (``incidentStatus`` set, open or closed).
    thread_details: list[ThreadDetail] = []
    claim: bool = False
    # What the ticket is about and in which language (docs/CONTRACTS.md, "Ticket topics"):
    # the marketplace's word (``marketplace``) or read from the buyer's words (``detected``,
    # with the detector's confidence); null for a ticket stored before they were read.
    language: str | None = None  # BCP 47 primary tag; "und": too little text to tell
    language_source: str | None = None
    language_confidence: float | None = None
    topic: str | None = None  # WHERE_IS_MY_ORDER, RETURN_OR_REFUND … OTHER
    topic_source: str | None = None


class TicketPage(msgspec.Struct, kw_only=True, rename="camel"):
    items: list[Ticket]
    next_cursor: str | None  # pass as ``cursor`` for the next page; None: last page


class Attachment(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    filename: str
    content_type: str
    size: int
    # A marketplace's linked file not downloaded: why (too large, not served, download
    # failed); absent when its content is stored (GET .../attachments/{position}) or the
    # attachment is a mail's (listed, not stored).
    skipped: str | None = None


class TicketMessage(msgspec.Struct, kw_only=True, rename="camel"):
    id: str
    direction: str
    body: str
    quoted: str
    subject: str
    received_at: datetime
    sent_at: datetime | None
    external_message_id: str  # as in message.received
    external_id: str  # the mail's Message-ID (or sha256:<digest>)
    parse_error: bool
    attachments: list[Attachment]
    # The buyer's mail: when our MX accepted it, and how long it took from there to the
    # stored ticket message (``receivedAt``). Null for replies and mail from another path.
    accepted_at: datetime | None
    arrival_lag_seconds: float | None
    # Who wrote it: BUYER, MARKETPLACE_SUPPORT (the marketplace's customer service), SELLER
    # (a reply, or the seller in the marketplace's back office) or SYSTEM.
    sender_type: str = "BUYER"
    # MARKETPLACE_SUPPORT read from a shop's API: the staff member's display name as the
    # marketplace gives it (never an e-mail address), else null.
    sender_name: str | None = None


class TicketDetail(Ticket, kw_only=True, rename="camel"):
    messages: list[TicketMessage]
    marketplace_mark: deadlines.MarketplaceMark


def ticket_query(
    tenant_id: str,
    status: str | None,
    order_id: str | None,
    since: datetime | None,
    cursor: str | None,
    limit: int,
    *,
    response_state: str | None = None,
    sort: str = "lastMessageAt",
    marketplace: str | None = None,
    language: str | None = None,
    topic: str | None = None,
    now: datetime,
) -> TicketQuery:
    if status is not None and status not in TICKET_STATUSES:
        raise InvalidQuery(f"status must be one of {sorted(TICKET_STATUSES)}")
    if response_state is not None and response_state not in deadlines.RESPONSE_STATES:
        raise InvalidQuery(f"responseState must be one of {sorted(deadlines.RESPONSE_STATES)}")
    if marketplace is not None and not served(marketplace):
        raise InvalidQuery(f"marketplace must be one of {', '.join(marketplaces())}")
    if sort not in SORTS:
        raise InvalidQuery(f"sort must be one of {sorted(SORTS)}")
    if topic is not None and topic not in SUBJECTS:
        raise InvalidQuery(f"topic must be one of {', '.join(SUBJECTS)}")
    if language is not None and language_tag(language) != language:
        raise InvalidQuery("language must be a BCP 47 primary tag in lower case (fr, de, und…)")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidQuery(f"limit must be between 1 and {MAX_PAGE}")
    by_deadline = sort == "respondBy"
    after = _after(cursor, by_deadline) if cursor else None
    return TicketQuery(
        **_response_filter(response_state),
        by_deadline=by_deadline,
        now=now,
        tenant_id=tenant_id,
        status=status,
        order_id=order_id,
        marketplace=marketplace,
        language=language,
        topic=topic,
        since=since,
        after_at=after.at if after else None,
        after_id=after.id if after else None,
        limit=limit,
    )


def _response_filter(response_state: str | None) -> dict[str, Any]:
    """An agent's state → the stored state, and for a deadline, whether it has passed."""
    if response_state == deadlines.OVERDUE:
        return {"response_state": deadlines.AWAITING_REPLY, "overdue": True}
    if response_state == deadlines.AWAITING_REPLY:
        return {"response_state": deadlines.AWAITING_REPLY, "overdue": False}
    return {"response_state": response_state}


async def list_tickets(tickets: TicketStore, query: TicketQuery) -> TicketPage:
    """One page; ``nextCursor`` is null on the last page, an exactly full one included."""
    assert query.now is not None
    rows = await tickets.list_tickets(query)  # limit + 1 rows
    page, last = split_page([_ticket(r, query.now) for r in rows], query.limit)
    return TicketPage(items=page, next_cursor=_cursor(last, query.by_deadline))


def _cursor(last: Ticket | None, by_deadline: bool) -> str | None:
    if last is None:
        return None
    if by_deadline:
        assert last.respond_by is not None  # the deadline order lists only tickets with one
        return _DEADLINE_CURSOR + encode_cursor(last.respond_by, last.id)
    return encode_cursor(last.last_message_at, last.id)


async def ticket_detail(
    tickets: TicketStore, tenant_id: str, ticket_id: str, now: datetime
) -> TicketDetail:
    row = await tickets.get_ticket(tenant_id, ticket_id)
    if row is None:
        raise TicketNotFound(f"no ticket {ticket_id}")
    messages = [_message(m) for m in await tickets.ticket_messages(ticket_id)]
    mark = deadlines.marketplace_mark(row.marketplace, row.order_id, row.country)
    return TicketDetail(**_ticket_fields(row, now), messages=messages, marketplace_mark=mark)


def _ticket_fields(row: StoredTicket, now: datetime) -> dict[str, Any]:
    fields = {n: getattr(row, n) for n in Ticket.__struct_fields__ if n not in _DERIVED}
    stored = deadlines.Deadline(state=row.response_state, respond_by=row.respond_by)
    return {
        **fields,
        "response_state": deadlines.response_state(stored, now),
        "thread_details": msgspec.json.decode(row.thread_details, type=list[ThreadDetail]),
        "claim": row.claim or row.incident_status is not None,
    }


_DERIVED = frozenset({"response_state", "thread_details", "claim"})


def _ticket(row: StoredTicket, now: datetime) -> Ticket:
    return Ticket(**_ticket_fields(row, now))


def _message(row: StoredMessage) -> TicketMessage:
    return TicketMessage(
        id=row.id,
        direction=row.direction,
        body=row.body,
        quoted=row.quoted,
        subject=row.subject,
        received_at=row.received_at,
        sent_at=row.sent_at,
        external_message_id=row.external_message_id,
        external_id=row.external_id,
        parse_error=row.parse_error is not None,
        attachments=msgspec.json.decode(row.attachments, type=list[Attachment]),
        accepted_at=row.accepted_at,
        arrival_lag_seconds=_lag(row.accepted_at, row.received_at),
        sender_type=row.sender_type,
        sender_name=row.sender_name,
    )


def _lag(accepted_at: datetime | None, stored_at: datetime) -> float | None:
    if accepted_at is None:
        return None
    return round(seconds_since_accepted(accepted_at, stored_at), 3)


def _after(cursor: str, by_deadline: bool) -> Position:
    try:
        if cursor.startswith(_DEADLINE_CURSOR) != by_deadline:
            raise InvalidCursor
        return decode_cursor(cursor.removeprefix(_DEADLINE_CURSOR))
    except InvalidCursor:
        raise InvalidQuery("cursor is not one this endpoint returned") from None


class AttachmentContent(msgspec.Struct, frozen=True, kw_only=True):
    filename: str
    content_type: str
    content: bytes


async def attachment_content(
    ports: TicketsPorts, tenant_id: str, ticket_id: str, message_id: str, position: int
) -> AttachmentContent:
    """The stored content of a ticket message's attachment (``position`` in its list):
    only a marketplace's downloaded file has one; a mail's are listed, not stored."""
    found = await ports.tickets.message_attachment(tenant_id, ticket_id, message_id, position)
    if found is None:
        raise AttachmentNotFound(f"no attachment {position} stored for message {message_id}")
    if found.content is None:
        raise AttachmentNotFound(f"attachment {position} was not downloaded: {found.skipped}")
    return AttachmentContent(
        filename=found.filename, content_type=found.content_type, content=found.content
    )
