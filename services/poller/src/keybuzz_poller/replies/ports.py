"""What the replies' use cases use, as ports: the replies' store (its records are declared
here), the tickets' store written in the same unit of work (a reply is a ticket message and
moves the ticket's deadline), the channels replies are sent through (the marketplace's mail
relay by default, a marketplace's API where the marketplace has a connector), and the settings they
follow.

The adapters are ``replies/store.py``'s ``PostgresReplies``, ``replies/smtp_relay.py``'s
``SmtpRelay``, and for a marketplace's API the shops' (``MarketplaceReplies``, its port,
``shops/ports.py``; ``shops/replies.py``'s ``ShopReplies``; one attempt sent at most once
by ``shops/api_replies.py``'s ``send_through_api``); the unit tier's
in-memory fakes are held to them by ``tests/test_poller_mail_contract.py`` and
``tests/test_api_replies_contract.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import msgspec
from keybuzz_shared.connectors.seam import Reply, ThreadStanding
from keybuzz_shared.uow import StoreUnit

from keybuzz_poller.inbound.bounce_auth import NamedReply
from keybuzz_poller.replies.memory import ReplyMemory
from keybuzz_poller.shops.ports import ApiAttempt, ApiOutcome
from keybuzz_poller.shops.ports import MarketplaceReplies as MarketplaceReplies
from keybuzz_poller.tickets.ports import Clock, ExternalMessageRow, TicketStore, system_clock


class ReplyContext(msgspec.Struct, frozen=True, kw_only=True):
    """What a reply on a ticket needs to know about it, read in the reply's transaction."""

    ticket_id: str
    marketplace: str
    order_id: str | None
    buyer_email: str | None
    subject: str
    # The buyer's latest mail on the ticket: its Message-ID (None if it had none) and the
    # inbound address it came to (the reply's envelope sender is made from it).
    buyer_message_id: str | None
    inbound_address: str | None
    country: str | None
    # A marketplace's thread (tickets of shops polled over an API): its key
    # (``order:<id>``, ``offer:<id>``), the subject of the message answered, and the
    # order's incident status (OPENED, CLOSED) if it has one.
    thread_key: str | None = None
    buyer_subject: str | None = None
    incident_status: str | None = None
    # The thread as its marketplace last listed it (its details, its claim flag): what a
    # connector's ``ReplyGate`` reads before the reply is queued.
    standing: ThreadStanding = ThreadStanding()


class NewReply(msgspec.Struct, frozen=True, kw_only=True):
    ticket_message_id: str
    external_message_id: str
    tenant_id: str
    ticket_id: str
    marketplace: str
    message_id: str
    order_id: str | None
    envelope_sender: str
    recipient: str
    subject: str
    text: str
    attachments: str  # JSON text: filename, contentType, size
    country: str | None
    created_at: datetime
    mail: bytes
    automatic: bool = False  # a rule's template: it does not stop the response clock

    def external_row(self) -> ExternalMessageRow:
        """The reply's mail as its ticket stores it, beside the buyer's messages."""
        return ExternalMessageRow(
            id=self.external_message_id,
            tenant_id=self.tenant_id,
            marketplace=self.marketplace,
            external_id=self.message_id,
            order_id=self.order_id,
            buyer_email=self.recipient,
            buyer_name=None,
            subject=self.subject,
            body=self.text,
            quoted="",
            attachments=self.attachments,
            inbound_address=self.envelope_sender,
            country=self.country,
            sent_at=None,
            received_at=self.created_at,
            raw=self.mail,
            parse_error=None,
            accepted_at=None,
        )


class ClaimedReply(msgspec.Struct, frozen=True, kw_only=True):
    ticket_message_id: str
    tenant_id: str
    ticket_id: str
    message_id: str
    order_id: str | None
    envelope_sender: str
    recipient: str
    attempts: int
    mail: bytes  # the mail; for a marketplace's API, the request (``ApiRequest``, JSON)
    marketplace: str
    created_at: datetime
    # An earlier attempt may have reached the marketplace without its outcome being
    # recorded: read the thread back before sending.
    unconfirmed: bool = False


class ApiRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a reply through a marketplace's API sends on every attempt (stored as JSON)."""

    reply: Reply


class BouncedReply(msgspec.Struct, frozen=True, kw_only=True):
    ticket_message_id: str
    ticket_id: str
    message_id: str
    order_id: str | None


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    reason: str | None
    status_code: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What the relay made of one attempt."""

    # "sent", "refused" (permanent), "temporary" (nothing sent), "unknown" (may have been
    # sent: the next attempt reads the thread back first), "undecided" (may have been sent,
    # its thread cannot tell: FAILED in doubt, an agent decides)
    kind: str
    detail: str = ""
    code: str | None = None


class ReplyStore(Protocol):
    """``poller_replies`` and the tenant's reply settings. Times (due, sent) are the store's
    own clock (PostgreSQL's ``now()``)."""

    async def reply_from_address(self, tenant_id: str) -> str | None: ...

    async def save_reply_from_address(self, tenant_id: str, address: str) -> None: ...

    async def reply_context(self, tenant_id: str, ticket_id: str) -> ReplyContext | None:
        """The tenant's ticket (None: unknown or another tenant's) and its buyer's latest mail,
        locked for the reply; the inbound address falls back on the tenant's first enabled one."""
        ...

    async def insert_reply(self, reply: NewReply) -> None:
        """The reply's mail, its OUTBOUND ticket message, the work to send it, the ticket's count."""
        ...

    async def claim_due(
        self, limit: int, max_bytes: int, lease_seconds: float
    ) -> list[ClaimedReply]:
        """Up to ``limit`` due replies, oldest due first, whose mails total at most
        ``max_bytes`` (the first whatever its size); each attempt counted and the reply due
        again a lease on."""
        ...

    async def next_due_in(self) -> float | None:
        """Seconds until the next queued reply is due, at least 0 (None: nothing queued)."""
        ...

    async def mark_sent(self, ticket_message_id: str) -> datetime | None:
        """QUEUED → SENT; the time, or None when the reply had already left QUEUED."""
        ...

    async def mark_failed(
        self, ticket_message_id: str, reason: str, code: str | None, in_doubt: bool = False
    ) -> bool:
        """QUEUED → FAILED, still in doubt (``in_doubt``: its last attempt may have sent it,
        so a poll finding it on the marketplace's thread makes it SENT); False when it had
        already left QUEUED."""
        ...

    async def retry_later(
        self, ticket_message_id: str, error: str, delay: float, unconfirmed: bool = False
    ) -> None:
        """A QUEUED reply due again ``delay`` seconds on, with its last error; ``unconfirmed``
        when the attempt may have sent it."""
        ...

    async def ticket_marketplace(self, tenant_id: str, ticket_id: str) -> str | None:
        """The tenant's ticket's marketplace (None: unknown or another tenant's)."""
        ...

    async def mark_bounced(
        self,
        ticket_message_id: str,
        reason: str,
        status_code: str | None,
        bounce_external_message_id: str,
    ) -> BouncedReply | None:
        """QUEUED or SENT → BOUNCED; None when it is already BOUNCED or FAILED."""
        ...

    async def named_replies(self, tenant_id: str, message_ids: Sequence[str]) -> list[NamedReply]:
        """The tenant's replies among ``message_ids``, in their order."""
        ...

    async def deliveries(self, tenant_id: str, ticket_id: str) -> dict[str, Delivery]:
        """The delivery of the ticket's replies, by ticket message id."""
        ...


class Relay(Protocol):
    """The mail relay: takes a reply's stored mail, says what it made of it."""

    async def send(self, reply: ClaimedReply) -> Outcome: ...


@dataclass(frozen=True)
class ReplyWrites:
    """What one unit of work of the replies writes: replies and tickets, one transaction."""

    replies: ReplyStore
    tickets: TicketStore


ReplyUnit = StoreUnit[ReplyWrites]


@dataclass(frozen=True)
class ReplyConfig:
    """The settings replies follow (``PollerSettings``)."""

    inbound_domain: str
    bounce_signing_keys: tuple[bytes, ...]  # the first signs; all authenticate
    send_batch_bytes: int
    lease_seconds: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    relay_timeout_seconds: float


async def _nothing(tenant_id: str, marketplace: str, reason: str) -> None:
    return None


SendThroughApi = Callable[[MarketplaceReplies, ApiAttempt], Awaitable[ApiOutcome]]


async def _no_api(api: MarketplaceReplies, attempt: ApiAttempt) -> ApiOutcome:
    raise LookupError(f"no channel wired for {attempt.marketplace}'s API replies")


@dataclass(frozen=True)
class RepliesPorts:
    """Everything the replies' use cases touch; made once per process (``bootstrap.py``)."""

    replies: ReplyStore  # reads and single-statement writes, outside a unit of work
    unit_of_work: Callable[[], AbstractAsyncContextManager[ReplyUnit]]
    relay: Relay  # every marketplace's replies but those of ``apis``: mail
    config: ReplyConfig
    memory: ReplyMemory  # the process's budget of reply bodies in flight
    service: str  # the label of ``keybuzz_replies_total``
    wake_sender: Callable[[], None] = lambda: None  # this instance's sender sends at once
    clock: Clock = field(default=system_clock)  # when a reply is written
    # The marketplaces whose replies go through their API, by ``marketplace`` value.
    apis: Mapping[str, MarketplaceReplies] = field(default_factory=dict)
    # The marketplace refused the tenant's shop key: (tenant, marketplace, reason).
    key_refused: Callable[[str, str, str], Awaitable[None]] = field(default=_nothing)
    # One attempt of a reply through its marketplace's API (``apis``), sent at most once
    # (``shops/api_replies.py``).
    send_through_api: SendThroughApi = field(default=_no_api)
