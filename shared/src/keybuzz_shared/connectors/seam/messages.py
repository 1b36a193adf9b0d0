"""What a session reads and sends: threads, messages, replies and their outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

import msgspec

from keybuzz_shared.connectors.seam.page import Page
from keybuzz_shared.ticket_topics.taxonomy import Subject

SenderType = Literal["BUYER", "MARKETPLACE_SUPPORT", "SELLER", "SYSTEM"]
# An order's thread, an offer's (a question before buying), or a discussion: a thread the
# marketplace names itself, about an order or not.
ThreadKind = Literal["ORDER", "OFFER", "DISCUSSION"]
# Who a reply is for: the buyer, the marketplace's customer care, an operator (a third
# party the marketplace puts in the thread, e.g. its carrier or a claims handler), or all.
Recipient = Literal["BUYER", "MARKETPLACE_SUPPORT", "OPERATOR", "ALL"]
ReplyStatus = Literal["SENT", "FAILED"]


class ThreadKey(msgspec.Struct, frozen=True):
    """The marketplace thread a message belongs to, by the marketplace's own id: an
    order's (``id`` is the order's), an offer's, or a discussion's (``order_id``: the order
    it is about, when there is one)."""

    kind: ThreadKind
    id: str
    order_id: str | None = None

    @property
    def order(self) -> str | None:
        """The order the thread is about, if any."""
        return self.id if self.kind == "ORDER" else self.order_id


class ThreadDetail(msgspec.Struct, frozen=True):
    """One fact of a thread's state as the marketplace gives it (its sales channel, its
    topic …), shown beside its ticket."""

    name: str  # stable key for the frontend, e.g. "sales_channel", "topic", "sub_topic"
    label: str  # what a person reads (French)
    value: str


class InboxFile(msgspec.Struct, frozen=True, kw_only=True):
    """A file a message carries, by its link at the marketplace (fetched through the
    session's ``file``, never straight)."""

    name: str
    url: str  # empty for a relayed mail's file: its content is in the mail
    content_type: str  # a MIME type (guessed from the name when the marketplace gives none)


class InboxMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A marketplace's message as its connector reads it: the one type from the listing to
    the stored ticket (the poller's listings, the replies' read-back, a source's pages, a
    relayed mail as its relay maps it: ``MailRelay.message``)."""

    # The marketplace's own id (a relayed mail's: its Message-ID, else a digest of the
    # mail): a message is stored once per shop, or tenant's relay, by it.
    message_id: str
    # Its thread: an order's, an offer's or a discussion's (whose ``order_id`` is its order
    # when it has one). An empty ``id``: a message of no thread, a thread of its own.
    thread: ThreadKey
    sender_type: SenderType
    sender_name: str | None
    subject: str
    body: str
    created_at: datetime  # aware: when the marketplace says it was written
    unread: bool
    files: tuple[InboxFile, ...] = ()
    # The thread's state as of this listing (its sales channel, topic …), shown beside its
    # ticket: the latest listing wins.
    thread_details: tuple[ThreadDetail, ...] = ()
    # The thread is a claim at the marketplace: the ticket's claim flag, as last listed.
    claim: bool = False
    # Since when the marketplace counts the thread as waiting for the seller's reply, as of
    # this listing; None when it counts no reply as needed (the shop answered, or its staff
    # said none is needed). Read only from a connector whose response rule says its
    # marketplace reports it (``ResponseRule.marketplace_clock``).
    reply_needed_since: datetime | None = None
    # What the marketplace itself says of the message (docs/CONTRACTS.md, "Ticket topics"):
    # the buyer's language (BCP 47 primary tag, e.g. from the site or folder's locale) and
    # its own typology mapped to the shared subjects; None where it says nothing, and the
    # poller reads them from the buyer's words.
    language: str | None = None
    ticket_subject: Subject | None = None


class ReplyFile(msgspec.Struct, frozen=True, kw_only=True):
    """A file a reply carries, as bytes: the session sends it the way its marketplace
    takes files. Checked against the connector's ``Limits`` before the reply is queued."""

    name: str
    content_type: str  # a MIME type, lower case
    data: bytes


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    thread: ThreadKey
    in_reply_to: str  # external id of the message answered
    body: str
    recipient: Recipient = "BUYER"
    subject: str | None = None  # a marketplace may accept only its own subjects
    attachments: tuple[ReplyFile, ...] = ()


class ReplyOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """SENT, or FAILED with why. A FAILED reply is final: sending it again cannot help.
    A transient outage (nothing sent) raises MarketplaceUnavailable; a lost answer
    OutcomeUnknown."""

    status: ReplyStatus
    reason: str | None = None


class MessageSource(Protocol):
    async def messages(self, *, since: datetime, cursor: str | None = None) -> Page[InboxMessage]:
        """Messages created from ``since`` on, oldest first; ``cursor`` continues a listing."""
        ...


class ReplyChannel(Protocol):
    async def reply(self, reply: Reply) -> ReplyOutcome: ...

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        """The seller's messages on ``thread`` created from ``since`` on, oldest first: where
        a reply whose outcome was unknown is found, if it went."""
        ...
