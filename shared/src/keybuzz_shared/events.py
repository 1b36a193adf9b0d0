"""Event schemas for every subject of docs/CONTRACTS.md, "Events" (contract).

Bodies are flat JSON objects: the envelope fields (``eventId``, ``type``,
``occurredAt``, ``tenantId``, ``schemaVersion``) next to the event's own
fields. That is exactly what ``nats pub tenant.created '{"tenantId": …}'``
sends, so the envelope fields other than ``tenantId`` are optional on input and
filled in on decode. Unknown fields are ignored (consumers must tolerate newer
producers). Events never carry secrets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal, TypeVar

import msgspec

from keybuzz_shared.connectors.names import UNLABELLED_EVENT_MARKETPLACE
from keybuzz_shared.ids import CountryCode, TenantId, uuid7_string
from keybuzz_shared.ticket_topics.taxonomy import Subject

SCHEMA_VERSION = 1

# TenantId, CountryCode: keybuzz_shared.ids (one definition; importable from here too).
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    """Time-ordered (``ids.uuid7_strings``): the outbox's ``event_id`` index grows at its end."""
    return uuid7_string()


class Event(msgspec.Struct, kw_only=True, rename="camel"):
    """The envelope every event carries."""

    SUBJECT: ClassVar[str] = ""

    tenant_id: TenantId
    event_id: str = msgspec.field(default_factory=new_event_id)
    type: str = ""
    occurred_at: datetime = msgspec.field(default_factory=utcnow)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not self.type:
            self.type = self.SUBJECT
        elif self.type != self.SUBJECT:
            raise ValueError(f"type {self.type!r} does not match subject {self.SUBJECT!r}")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurredAt must carry a time zone (RFC 3339)")


# --- tenants (producer: product app; consumer: tenant-sync) ---------------------------


class TenantCreated(Event, kw_only=True):
    SUBJECT: ClassVar[str] = "tenant.created"

    name: NonEmpty
    plan: NonEmpty
    status: NonEmpty
    country: CountryCode | None = None
    countries: list[CountryCode] | None = None
    create_inbound_address: bool | None = None


class TenantUpdated(TenantCreated, kw_only=True):
    SUBJECT: ClassVar[str] = "tenant.updated"


class TenantArchived(Event, kw_only=True):
    SUBJECT: ClassVar[str] = "tenant.archived"

    reason: str | None = None


class InboundAddressInfo(msgspec.Struct, kw_only=True, rename="camel"):
    marketplace: str
    country: str
    email: str
    status: str
    # The poller's MX accepts mail for it (``tenant.inbound_address.receiving``): only then
    # is the address ready to be given to a marketplace. False from an older producer.
    receiving: bool = False


class TenantSynced(Event, kw_only=True):
    SUBJECT: ClassVar[str] = "tenant.synced"

    name: str
    plan: str
    status: str
    inbound_addresses: list[InboundAddressInfo] = []


class InboundAddressReceiving(Event, kw_only=True):
    """The poller's MX accepts mail for the address (its projection holds it, enabled,
    for a tenant not archived): tenant-sync shows it as ready only from then on."""

    SUBJECT: ClassVar[str] = "tenant.inbound_address.receiving"

    email: NonEmpty
    marketplace: str
    country: str


# --- marketplace connections (producer: oauth, token service) -------------------------


class ConnectionConnected(Event, kw_only=True):
    SUBJECT: ClassVar[str] = "connection.connected"

    marketplace: str = UNLABELLED_EVENT_MARKETPLACE
    connection_id: str
    seller_id: NonEmpty
    marketplace_ids: list[str]
    region: str


class ConnectionDisconnected(Event, kw_only=True):
    SUBJECT: ClassVar[str] = "connection.disconnected"

    marketplace: str = UNLABELLED_EVENT_MARKETPLACE
    connection_id: str | None = None
    seller_id: str | None = None
    reason: str | None = None
    # The account was never the tenant's (its connection ended as a takeover: another
    # connection held the shop first): what came to the tenant through this connection
    # of ``marketplace`` is deleted by its consumers. False for a seller's own disconnect,
    # which keeps the tenant's history.
    received_in_error: bool = False


class ConnectionReauthRequired(ConnectionDisconnected, kw_only=True):
    SUBJECT: ClassVar[str] = "connection.reauth_required"


# --- messages (producer: poller; consumers: orders, tenant-sync) ----------------------


class MessageReceived(Event, kw_only=True):
    SUBJECT: ClassVar[str] = "message.received"

    marketplace: str = UNLABELLED_EVENT_MARKETPLACE
    external_message_id: NonEmpty
    ticket_id: str
    ticket_message_id: str
    inbound_address: str | None = None
    order_id: str | None = None
    received_at: datetime | None = None
    # The start of the buyer's text, for notifications; never the whole body.
    preview: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    # The buyer's message's language (BCP 47 primary tag, "und": too little text) and topic
    # (docs/CONTRACTS.md, "Ticket topics"), each with where it came from (marketplace,
    # detected); absent from an event of a producer that does not read them.
    language: Annotated[str, msgspec.Meta(max_length=8)] | None = None
    language_source: Literal["marketplace", "detected"] | None = None
    topic: Subject | None = None
    topic_source: Literal["marketplace", "detected"] | None = None


class MessageSent(Event, kw_only=True):
    """An agent's reply was accepted by the marketplace (its relay's SMTP 250, or its API)."""

    SUBJECT: ClassVar[str] = "message.sent"

    marketplace: str = UNLABELLED_EVENT_MARKETPLACE
    ticket_id: str
    ticket_message_id: str
    message_id: NonEmpty  # the reply's RFC 5322 Message-ID
    order_id: str | None = None
    status: str = "SENT"
    reason: str | None = None
    sent_at: datetime | None = None


class MessageBounced(MessageSent, kw_only=True):
    """A reply did not reach the buyer: ``FAILED`` (refused at SMTP, or retries exhausted)
    or ``BOUNCED`` (the marketplace accepted it, then sent a bounce); ``reason`` says why."""

    SUBJECT: ClassVar[str] = "message.bounced"

    status: str = "BOUNCED"
    status_code: str | None = None  # the SMTP reply code or the bounce's DSN status (5.7.1 …)


# --- orders (producer: orders) --------------------------------------------------------


class BackfillCounts(msgspec.Struct, kw_only=True, rename="camel"):
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0
    errors: int = 0


class OrderBackfillCompleted(Event, kw_only=True):
    SUBJECT: ClassVar[str] = "order.backfill.completed"

    job_id: str
    marketplace: str = UNLABELLED_EVENT_MARKETPLACE
    days: int
    counts: BackfillCounts
    started_at: datetime | None = None
    finished_at: datetime | None = None


class OrderBackfillFailed(OrderBackfillCompleted, kw_only=True):
    SUBJECT: ClassVar[str] = "order.backfill.failed"

    reason: str


class TicketResponseDue(Event, kw_only=True):
    """A ticket's response deadline is within the tenant's lead time; once per deadline."""

    SUBJECT: ClassVar[str] = "ticket.response_due"

    marketplace: str = UNLABELLED_EVENT_MARKETPLACE
    ticket_id: NonEmpty
    respond_by: datetime  # the marketplace's deadline for the oldest buyer message unanswered
    lead_seconds: int  # the tenant's lead time that made it due now


class TicketResponseOverdue(Event, kw_only=True):
    """A ticket's response deadline passed with no counting reply; once per deadline."""

    SUBJECT: ClassVar[str] = "ticket.response_overdue"

    marketplace: str = UNLABELLED_EVENT_MARKETPLACE
    ticket_id: NonEmpty
    respond_by: datetime


EVENT_TYPES: dict[str, type[Event]] = {
    cls.SUBJECT: cls
    for cls in (
        TenantCreated,
        TenantUpdated,
        TenantArchived,
        TenantSynced,
        InboundAddressReceiving,
        ConnectionConnected,
        ConnectionDisconnected,
        ConnectionReauthRequired,
        MessageReceived,
        MessageSent,
        MessageBounced,
        TicketResponseDue,
        TicketResponseOverdue,
        OrderBackfillCompleted,
        OrderBackfillFailed,
    )
}

E = TypeVar("E", bound=Event)

_encoder = msgspec.json.Encoder()


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes, event_type: type[E]) -> E:
    """Decode and validate; raises ``msgspec.DecodeError``/``ValidationError`` with the reason."""
    return msgspec.json.decode(data, type=event_type)


def event_headers(event: Event) -> dict[str, str]:
    """``Nats-Msg-Id`` lets JetStream drop a re-published duplicate."""
    return {"Nats-Msg-Id": event.event_id, "KeyBuzz-Event-Type": event.type}
