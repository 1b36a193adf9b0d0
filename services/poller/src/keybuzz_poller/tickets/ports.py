"""What the tickets' use cases take from outside, as ports: the clock deadlines are read
against, the tickets' store (its rows are declared here), the response alerts' store, and
the outbox a unit of work publishes through.

The PostgreSQL adapters are ``tickets/store.py``'s ``PostgresTickets`` and
``tickets/alerts_store.py``'s ``PostgresAlerts``; the unit tier's in-memory fakes are held
to them by ``tests/test_poller_mail_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import msgspec
from keybuzz_shared.events import Event
from keybuzz_shared.uow import StoreUnit

from keybuzz_poller.tickets.deadlines import NO_RESPONSE_NEEDED
from keybuzz_poller.tickets.response_times import MarketplaceFigure

# Who wrote a ticket's message (``sender_type``), in every marketplace's terms.
BUYER = "BUYER"
MARKETPLACE_SUPPORT = "MARKETPLACE_SUPPORT"  # the marketplace's customer service
SELLER = "SELLER"  # the seller, in the marketplace's back office
SYSTEM = "SYSTEM"  # the marketplace's notifications
SENDER_TYPES = frozenset({BUYER, MARKETPLACE_SUPPORT, SELLER, SYSTEM})


class Clock(Protocol):
    def __call__(self) -> datetime:
        """Now, aware (UTC)."""
        ...


def system_clock() -> datetime:
    return datetime.now(UTC)


class Outbox(Protocol):
    """A unit of work's events: published once it commits, never if it rolls back."""

    def emit(self, event: Event) -> None: ...

    def emit_many(self, events: Iterable[Event]) -> None: ...


# Rows as the store takes them (in PostgreSQL: the field order is the column order).
class ExternalMessageRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    tenant_id: str
    marketplace: str
    external_id: str
    order_id: str | None
    buyer_email: str | None
    buyer_name: str | None
    subject: str
    body: str
    quoted: str
    attachments: str  # JSON text
    inbound_address: str | None
    country: str | None
    sent_at: datetime | None
    received_at: datetime
    raw: bytes
    parse_error: str | None
    accepted_at: datetime | None  # the MX's acceptance (null: mail from another path)
    sender_type: str | None = None  # a shop's message: who wrote it (mail: null)
    sender_name: str | None = None  # a shop's message: its marketplace staff's name
    mark_read_pending: bool = False  # to be marked read at the marketplace


class TicketRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    tenant_id: str
    marketplace: str
    thread_key: str
    order_id: str | None
    buyer_email: str | None
    buyer_name: str | None
    subject: str
    last_message_at: datetime
    message_count: int = 1  # new messages of this batch in the thread
    # The deadline the ticket opens with if this row creates it (a ticket already stored
    # keeps its own: its caller recomputes it from every message).
    response_state: str = NO_RESPONSE_NEEDED
    respond_by: datetime | None = None
    # What the row's buyer messages are about and in which language (``tickets/topics.py``):
    # a created ticket starts with them; a stored one takes them as ``later`` says
    # (``tickets/store.py``'s upsert). None: the row's messages say nothing (no buyer's).
    language: str | None = None
    language_source: str | None = None
    language_confidence: float | None = None
    topic: str | None = None
    topic_source: str | None = None


class TicketMessageRow(msgspec.Struct, frozen=True, kw_only=True):
    """A message's place on its ticket: a link to its external message, whose body and
    time it shows (``tickets/store.py`` reads them by a join; migration 021)."""

    id: str
    ticket_id: str
    tenant_id: str
    external_message_id: str
    awaits_reply: bool = True  # a buyer message: it opens a response deadline
    direction: str = "INBOUND"  # OUTBOUND: the seller's (an agent's reply, or read back)


class DeadlineRow(msgspec.Struct, frozen=True, kw_only=True):
    ticket_id: str
    response_state: str
    respond_by: datetime | None


class DeadlineFact(msgspec.Struct, frozen=True, kw_only=True):
    """One ticket message with what its ticket's deadline depends on (a reply's delivery
    from the replies); a ticket's facts come together, its messages in stored order."""

    ticket_id: str
    marketplace: str
    no_response_needed_at: datetime | None
    override_hours: int | None  # the tenant's window for the marketplace, if set
    id: str
    direction: str
    received_at: datetime
    awaits_reply: bool
    accepted_at: datetime | None
    reply_status: str | None
    sent_at: datetime | None
    automatic: bool
    sender_type: str | None = None  # a marketplace's message: who wrote it (mail: none)
    written_at: datetime | None = None  # when the sender says it was written
    # The ticket's thread as its marketplace's clock last gave it (``marketplace_clock``:
    # a listing gave one): since when it waits for the seller, None: no reply needed there.
    marketplace_clock: bool = False
    reply_needed_since: datetime | None = None


class TicketQuery(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    status: str | None = None
    order_id: str | None = None
    marketplace: str | None = None
    since: datetime | None = None
    after_at: datetime | None = None  # keyset: the last ticket of the previous page
    after_id: str | None = None
    limit: int = 50
    # The stored response state (AWAITING_REPLY, ANSWERED, NO_RESPONSE_NEEDED) and, for
    # AWAITING_REPLY, whether its deadline has passed at ``now`` (OVERDUE) or not.
    response_state: str | None = None
    overdue: bool | None = None
    by_deadline: bool = False  # soonest deadline first (only tickets that have one)
    now: datetime | None = None
    language: str | None = None  # a BCP 47 primary tag, or "und"
    topic: str | None = None  # one of keybuzz_shared.ticket_topics.SUBJECTS


class StoredTicket(msgspec.Struct, frozen=True, kw_only=True):
    """A ticket as stored; ``country``: its buyer's first mail's (read with one ticket only)."""

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
    response_state: str
    respond_by: datetime | None
    no_response_needed_at: datetime | None
    no_response_needed_by: str | None
    incident_status: str | None = None  # the latest incident of its order (a claim)
    incident_types: list[str] | None = None
    country: str | None = None
    # Its marketplace thread's state as last listed: details (JSON text), claim flag.
    thread_details: str = "[]"
    claim: bool = False
    # Its language and topic, and where each came from (null: stored before them).
    language: str | None = None
    language_source: str | None = None
    language_confidence: float | None = None
    topic: str | None = None
    topic_source: str | None = None


class StoredMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A ticket message with the mail it came from (or the reply's)."""

    id: str
    direction: str
    body: str
    received_at: datetime
    external_message_id: str
    external_id: str
    subject: str
    quoted: str
    sent_at: datetime | None
    parse_error: str | None
    attachments: str  # JSON text
    accepted_at: datetime | None
    sender_type: str  # BUYER, MARKETPLACE_SUPPORT, SELLER or SYSTEM
    sender_name: str | None = None  # a MARKETPLACE_SUPPORT writer's display name


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """A linked file as stored: its content, or why it was not downloaded."""

    filename: str
    content_type: str
    size: int | None
    content: bytes | None = None
    skipped: str | None = None


class StoredAttachment(msgspec.Struct, frozen=True, kw_only=True):
    """A marketplace's linked file: its content, or why it was not downloaded."""

    filename: str
    content_type: str
    content: bytes | None
    skipped: str | None


class DeadlineStore(Protocol):
    """What recomputing tickets' deadlines reads and writes (``responses.refresh_deadlines``)."""

    async def deadline_facts(self, ticket_ids: Sequence[str]) -> list[DeadlineFact]: ...

    async def save_deadlines(self, deadlines: Sequence[DeadlineRow]) -> None: ...


class TicketStore(Protocol):
    """The tickets, their messages and the mails they came from; deadlines and windows."""

    async def insert_external_messages(self, rows: Sequence[ExternalMessageRow]) -> set[str]:
        """Each mail once per (tenant, marketplace, external id), the first occurrence of
        ``rows`` winning; the ids of those new."""
        ...

    async def upsert_tickets(self, tickets: Sequence[TicketRow]) -> dict[tuple[str, str], str]:
        """Each thread's ticket, created or re-opened (``message_count`` added, the latest
        ``last_message_at`` kept, a missing buyer name filled): (marketplace, thread key) → id,
        the row's own id when the row created the ticket. A created ticket has the row's
        ``response_state`` and ``respond_by``; a re-opened one keeps its stored deadline."""
        ...

    async def insert_ticket_messages(self, messages: Sequence[TicketMessageRow]) -> None:
        """Stored in the order given."""
        ...

    async def list_tickets(self, query: TicketQuery) -> list[StoredTicket]:
        """The tenant's tickets matching ``query``, newest activity first or soonest deadline
        first (``by_deadline``: only those with one), strictly after the keyset position;
        ``limit + 1`` of them (the extra one says a next page exists)."""
        ...

    async def get_ticket(self, tenant_id: str, ticket_id: str) -> StoredTicket | None: ...

    async def ticket_messages(self, ticket_id: str) -> list[StoredMessage]:
        """In the order they were stored."""
        ...

    async def message_attachment(
        self, tenant_id: str, ticket_id: str, message_id: str, position: int
    ) -> StoredAttachment | None:
        """A ticket message's stored file, the tenant's only (a mail's are not stored)."""
        ...

    async def deadline_facts(self, ticket_ids: Sequence[str]) -> list[DeadlineFact]:
        """The facts of ``ticket_ids`` by ticket id, locking them against a concurrent recompute."""
        ...

    async def report_facts(
        self, tenant_id: str, marketplace: str, since: datetime, topic: str | None = None
    ) -> list[DeadlineFact]:
        """The facts of the tenant's tickets on ``marketplace`` (about ``topic``, if given)
        with a buyer message stored at or after ``since``, by ticket id."""
        ...

    async def save_deadlines(self, deadlines: Sequence[DeadlineRow]) -> None: ...

    async def mark_no_response_needed(
        self, tenant_id: str, ticket_id: str, by: str, at: datetime
    ) -> bool:
        """The agent's mark, who and when; False if the tenant has no such ticket."""
        ...

    async def response_windows(self, tenant_id: str) -> dict[str, int]:
        """The tenant's window (hours) per marketplace it set one for, by marketplace."""
        ...

    async def save_response_window(self, tenant_id: str, marketplace: str, hours: int) -> None: ...

    async def awaiting_ticket_ids(self, tenant_id: str, marketplace: str) -> list[str]:
        """The tenant's tickets on ``marketplace`` whose stored state is AWAITING_REPLY."""
        ...


class DueAlert(msgspec.Struct, frozen=True, kw_only=True):
    """An alert whose time has come: DUE (the tenant's lead time before the deadline) or
    OVERDUE (the deadline itself), once per ticket, deadline and kind."""

    ticket_id: str
    tenant_id: str
    marketplace: str
    respond_by: datetime
    kind: str  # DUE or OVERDUE
    lead_seconds: int


class AlertStore(Protocol):
    """The alerts given (``poller_response_alerts``) and each tenant's lead time."""

    async def claim_alerts(self, now: datetime, limit: int) -> list[DueAlert]:
        """Up to ``limit`` alerts due at ``now`` not given yet, soonest deadline first, each
        recorded as given: a tenant's DUE once its lead time before the deadline has come
        (not after the deadline), OVERDUE once the deadline passed, within a day of it."""
        ...

    async def deadline_counts(self, now: datetime) -> dict[str, int]:
        """Tickets by stored state, AWAITING_REPLY split by time to deadline (OVERDUE,
        within_1h, within_2h, within_6h, later); states without tickets absent."""
        ...

    async def lead_seconds(self, tenant_id: str) -> int:
        """The tenant's lead time, 2 hours unless set."""
        ...

    async def save_lead_seconds(self, tenant_id: str, seconds: int) -> None: ...


class ResponseFigureSource(Protocol):
    """The marketplaces' own response figures of a tenant's shop (``shops/response_figures.py``)."""

    async def figure(
        self, tenant_id: str, marketplace: str, since: datetime, until: datetime
    ) -> MarketplaceFigure | None:
        """The figure of the tenant's shop on ``marketplace`` over ``[since, until)``, or why
        it is not available; None when the marketplace publishes none. Never raises for the
        marketplace's failures."""
        ...


TicketUnit = StoreUnit[TicketStore]
AlertUnit = StoreUnit[AlertStore]


@dataclass(frozen=True)
class TicketsPorts:
    """What the tickets' use cases touch; made once per process (``bootstrap.py``)."""

    tickets: TicketStore  # reads and single-statement writes, outside a unit of work
    unit_of_work: Callable[[], AbstractAsyncContextManager[TicketUnit]]
    alerts: AlertStore
    alert_unit_of_work: Callable[[], AbstractAsyncContextManager[AlertUnit]]
    figures: ResponseFigureSource | None = None  # the marketplaces' own, for the report
