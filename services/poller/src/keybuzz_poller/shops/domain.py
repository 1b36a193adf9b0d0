"""A shop's messages and incidents as the poller takes them from a marketplace's API, and
the pure decisions on them: which ticket a message joins, who may open one, which message
is an incident's own notice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Literal

import msgspec
from keybuzz_shared.connectors.seam import (
    SENT_SKEW,
    InboxIncident,
    InboxMessage,
    SenderType,
    ThreadDetail,
    ThreadKey,
    ThreadKind,
    is_same_text,
    is_sent_reply,
)
from keybuzz_shared.times import as_utc

# Who wrote a message: a ticket's sender types (the tickets' deadlines read them too).
from keybuzz_poller.tickets.ports import BUYER as BUYER
from keybuzz_poller.tickets.ports import MARKETPLACE_SUPPORT as MARKETPLACE_SUPPORT
from keybuzz_poller.tickets.ports import SELLER as SELLER
from keybuzz_poller.tickets.ports import SENDER_TYPES as SENDER_TYPES
from keybuzz_poller.tickets.ports import SYSTEM as SYSTEM

# Messages that open (or re-open) their ticket and wait for an answer; the others only
# join the ticket their thread already has.
OPENS_TICKET = frozenset({BUYER, MARKETPLACE_SUPPORT})
MARKED_READ = OPENS_TICKET  # what the marketplace's back office shows as handled

ORDER: ThreadKind = "ORDER"
OFFER: ThreadKind = "OFFER"
DISCUSSION: ThreadKind = "DISCUSSION"
THREAD_KINDS: tuple[ThreadKind, ...] = (ORDER, OFFER, DISCUSSION)
# An incident's status while the marketplace's customer service handles it.
INCIDENT_OPEN = "OPENED"
# The external id of an incident shown as a message of its ticket (no marketplace message).
INCIDENT_MESSAGE_PREFIX = "incident:"

# A marketplace may post an incident also as a message of its order at the same time,
# under a subject of its own (its connector's ``claim_subject``): that message is the
# incident's notice, shown once.
NOTICE_WINDOW = timedelta(minutes=5)
# A new poll reads again from this long before its cursor: a message the marketplace lists
# late under an earlier time is still read (the ones already stored are skipped).
CURSOR_OVERLAP = timedelta(minutes=10)


class Shop(msgspec.Struct, frozen=True):
    tenant_id: str
    marketplace: str  # one whose connector has a shop_api

    @property
    def key(self) -> str:
        """What the scheduler leases: ``<marketplace>:<tenant_id>``."""
        return f"{self.marketplace}:{self.tenant_id}"


class InvalidShopKey(ValueError):
    """Not ``<marketplace>:<tenant_id>``."""


def shop_of(key: str) -> Shop:
    marketplace, sep, tenant_id = key.partition(":")
    if not sep or not marketplace or not tenant_id:
        raise InvalidShopKey(f"not a shop key: {key!r}")
    return Shop(tenant_id, marketplace)


class ThreadState(msgspec.Struct, frozen=True, kw_only=True):
    """A thread's state as a listing gave it, for its ticket: the latest listing wins."""

    thread_key: str
    details: tuple[ThreadDetail, ...] = ()
    claim: bool = False


class ThreadClock(msgspec.Struct, frozen=True, kw_only=True):
    """The marketplace's clock on a thread as a listing gave it: the latest listing wins."""

    thread_key: str
    reply_needed_since: datetime | None  # None: no reply needed there


class OwnReply(msgspec.Struct, frozen=True, kw_only=True):
    """One of our replies on a ticket that the marketplace may list back as the seller's
    message: SENT, or QUEUED and in doubt (an attempt may have sent it)."""

    ticket_message_id: str
    message_id: str  # the reply's Message-ID, which ``message.sent`` names
    order_id: str | None
    text: str
    queued_at: datetime


class PageThreads(msgspec.Struct, frozen=True, kw_only=True):
    """What a page's new messages find of their threads before the page's writes, read at
    once (``ShopStore.page_threads``)."""

    tickets: dict[str, str]  # thread key -> ticket id, of the threads that have one
    incidents_near: list[datetime | None]  # for each (order id, time) asked, in order
    own_replies: dict[str, list[OwnReply]]  # ticket id -> our replies it may list back


class MatchedReply(msgspec.Struct, frozen=True, kw_only=True):
    """What reading one of our replies back made of it."""

    sent_at: datetime
    confirmed: bool  # it was in doubt and is SENT now


class ShopCursor(msgspec.Struct, frozen=True, kw_only=True):
    messages_since: datetime | None = None  # created_at of the newest message stored
    incidents_since: datetime | None = None  # updated_at of the newest incident stored


class CallsAsked(msgspec.Struct, frozen=True):
    """Calls of a shop's UTC day a poll reserves at its start, all or none: only while the
    day's count stays within ``limit`` (its plan's pace) once they are counted."""

    day: date
    calls: int
    limit: int


class ShopStart(msgspec.Struct, frozen=True, kw_only=True):
    """A shop's row as a poll starts, in one statement: its cursor, whether stored messages
    wait to be marked read, and the count of what its polls listed (each poll's end adds its
    own: ``messages_fetched``)."""

    cursor: ShopCursor
    marks_pending: bool = False
    fetched: int = 0
    seconds_since_poll: float | None = None  # since its last poll ended (None: never)
    # The day's count of calls once the calls asked (``CallsAsked``) were reserved in the
    # same statement; None when none were (none asked, or past the pace: reserved a call
    # at a time then).
    day_calls: int | None = None
    # The calls the claim that leased the shop reserved (its last poll's end asked them):
    # the start then reserves none (``day_calls``: the day's count with them).
    reserved: CallsAsked | None = None


class DayCalls(msgspec.Struct, frozen=True):
    """A correction of a shop's day's count the poll's end makes (the poller's
    ``poll_succeeded``/``poll_failed``, in the same statement): a budget's calls made
    (+), a reservation's calls not spent given back (−)."""

    day: date
    delta: int


class ListedPage(msgspec.Struct, frozen=True, kw_only=True):
    """A page of messages as a poll listed it: its messages and its threads' states."""

    message_ids: tuple[str, ...]
    states: tuple[ThreadState, ...]
    clocks: tuple[ThreadClock, ...]


class SeenPages(msgspec.Struct, frozen=True, kw_only=True):
    """The pages of messages and of incidents a poll of this process listed, in order, each
    stored and its threads' states written; the shop's row as that poll left it (its
    cursor, its count). Every page is kept, not the last only: a shop whose overlap holds
    more than a page lists them all again at each poll, and an open incident at every one."""

    cursor: ShopCursor
    fetched: int
    pages: tuple[ListedPage, ...]
    incidents: tuple[tuple[InboxIncident, ...], ...] = ()
    # Its listing of messages read to its end (not cut by the poll's bound, which sets the
    # cursor back, nor by the day's allowance): every message stored then is one it listed
    # or one at or before the cursor (``shops/poll.py``, ``_known``).
    whole: bool = False

    def still(self, start: ShopStart) -> bool:
        """Whether no other poll (another instance's, or one that failed) listed anything
        of the shop since, and nothing reset its cursor (``forget_received``)."""
        return start.cursor == self.cursor and start.fetched == self.fetched

    def listed(self) -> frozenset[str]:
        """The ids of the messages it listed (each stored)."""
        return frozenset(i for page in self.pages for i in page.message_ids)

    def repeated(self, index: int, page: ListedPage) -> bool:
        """Whether the poll's ``index``-th page lists the very messages and thread states
        that the last poll's did."""
        return index < len(self.pages) and self.pages[index] == page

    def incidents_repeated(self, index: int, page: tuple[InboxIncident, ...]) -> bool:
        """Whether the poll's ``index``-th page of incidents lists them as the last poll's
        did, every field alike (each stored then as listed)."""
        return index < len(self.incidents) and self.incidents[index] == page


class ShopPoll(msgspec.Struct, kw_only=True):
    """What one poll of a shop did."""

    fetched: int = 0  # messages and incidents read
    stored: int = 0  # messages new to the poller
    duplicates: int = 0
    tickets_opened_or_joined: int = 0
    without_ticket: int = 0  # seller or system messages of a thread with no ticket
    own_replies: int = 0  # our replies read back: recorded on the reply, not shown twice
    replies_confirmed: int = 0  # of which in doubt until then: SENT now
    notices: int = 0  # incident notices not shown twice
    unstorable: int = 0  # messages whose ids no unique index takes: left out, logged
    incidents: int = 0  # incidents new or changed
    marked_read: int = 0
    thread_states: int = 0  # tickets whose thread's details or claim flag changed
    thread_clocks: int = 0  # tickets whose thread's clock at the marketplace changed
    calls: int = 0  # calls the poll made, counted at the requester (each attempt)
    stopped: list[str] = msgspec.field(default_factory=list)  # listings ended early: why


# The longest message or thread id stored: a unique index entry holds at most ~2,700 bytes
# (PostgreSQL's B-tree), and 600 characters of up to 4 bytes each, with the tenant and the
# marketplace beside them, stay below it. A marketplace's ids are far shorter.
MAX_ID_CHARS = 600


def storable_ids(message: InboxMessage) -> bool:
    """Whether the message's id and its thread's fit their unique indexes: one that does
    not is left out of its page, which is stored as a whole without it."""
    return len(message.message_id) <= MAX_ID_CHARS and len(message.thread.id) <= MAX_ID_CHARS


def thread_key(message: InboxMessage) -> str:
    """A shop's thread: its order's, offer's or discussion's messages
    (``order:<id>``, ``offer:<id>``, ``discussion:<id>``); a message that names none is a
    thread of its own."""
    thread = message.thread
    if thread.kind in THREAD_KINDS and thread.id:
        return f"{thread.kind.lower()}:{thread.id}"
    return f"message:{message.message_id}"


def thread_of(key: str | None, order_id: str | None = None) -> ThreadKey | None:
    """The marketplace's thread of a thread key ``thread_key`` made, else None; a
    discussion's order is its ticket's (``order_id``)."""
    kind, sep, thread_id = (key or "").partition(":")
    for known in THREAD_KINDS:
        if sep and thread_id and kind.upper() == known:
            return ThreadKey(known, thread_id, order_id if known == DISCUSSION else None)
    return None


def thread_states(messages: list[InboxMessage]) -> list[ThreadState]:
    """Each thread's state as a page lists it: its last message's (a page is oldest first),
    whether that message is new or stored already."""
    latest = {
        thread_key(m): ThreadState(
            thread_key=thread_key(m), details=m.thread_details, claim=m.claim
        )
        for m in messages
    }
    return list(latest.values())


def thread_clocks(messages: list[InboxMessage]) -> list[ThreadClock]:
    """Each thread's clock at the marketplace as a page lists it: its last message's."""
    latest = {
        thread_key(m): ThreadClock(
            thread_key=thread_key(m), reply_needed_since=m.reply_needed_since
        )
        for m in messages
    }
    return list(latest.values())


def order_id_of(message: InboxMessage) -> str | None:
    """The order the message's thread is about, if any."""
    return message.thread.order or None


def is_notice(message: InboxMessage, incident_created_at: datetime, claim_subject: str) -> bool:
    """The incident's own message: its order's message under the marketplace's claim
    subject (``claim_subject``, any case), at the same time."""
    return (
        message.thread.kind == ORDER
        and is_claim_subject(message.subject, claim_subject)
        and abs(message.created_at - incident_created_at) <= NOTICE_WINDOW
    )


def is_claim_subject(subject: str, claim_subject: str) -> bool:
    return subject.strip().lower().startswith(claim_subject.strip().lower())


def incident_message(
    incident: InboxIncident, opener: SenderType, claim_subject: str
) -> InboxMessage:
    """The incident as a message of its order's ticket (when its notice is not there),
    written by ``opener`` (BUYER or MARKETPLACE_SUPPORT, as the connector says)."""
    return InboxMessage(
        message_id=f"{INCIDENT_MESSAGE_PREFIX}{incident.incident_id}",
        thread=ThreadKey(ORDER, incident.order_id),
        sender_type=opener,
        subject=claim_subject,
        body=incident.message,
        sender_name=None,
        created_at=incident.created_at,
        unread=False,
        ticket_subject=incident.ticket_subject,
    )


def is_own_reply(
    text: str, queued_at: datetime, body: str, written_at: datetime, max_length: int
) -> bool:
    """Whether a seller's message the marketplace lists (``body``, written at
    ``written_at``) is our reply ``text`` queued at ``queued_at``: the same text as the
    marketplace may give it back rewritten (HTML line breaks and entities, line ends,
    whitespace, Unicode form, cut at its longest reply ``max_length``), written no earlier
    than ``SENT_SKEW`` before the reply was queued (``seam.read_back``)."""
    return is_sent_reply(text, queued_at, body, written_at, max_length)


# What a read-back of a reply's thread tells: the reply is there; no seller's message is
# there since it was queued (the marketplace has not taken it); or there are, none of them
# ours by its words, and the thread cannot tell (a marketplace's rewriting that changed
# the words, or another message of the seller): an agent decides, nothing is sent again.
ReadBack = Literal["found", "absent", "unclear"]


def read_back(
    text: str, queued_at: datetime, listed: Sequence[InboxMessage], max_length: int
) -> ReadBack:
    """What the seller's messages ``listed`` on a reply's thread tell of our reply
    ``text`` queued at ``queued_at`` (``ReadBack``): messages written from ``SENT_SKEW``
    before the queueing count. One with the reply's words dated earlier than that (a
    marketplace's clock further behind, or an earlier reply of the same words) may be
    the reply: the thread cannot tell, never "absent" (sent again)."""
    since = as_utc(queued_at) - SENT_SKEW
    recent = [m for m in listed if as_utc(m.created_at) >= since]
    if any(is_own_reply(text, queued_at, m.body, m.created_at, max_length) for m in recent):
        return "found"
    if recent or any(is_same_text(text, m.body, max_length) for m in listed):
        return "unclear"
    return "absent"


def latest(*times: datetime | None) -> datetime | None:
    """The latest of ``times``, a None left out as PostgreSQL's ``greatest()`` leaves a
    NULL out; None when none is given."""
    return max(filter(None, times), default=None)


def read_from(
    cursor: datetime | None,
    now: datetime,
    first_poll: timedelta,
    overlap: timedelta = CURSOR_OVERLAP,
) -> datetime:
    """Where a poll starts reading: ``overlap`` before the cursor, or ``first_poll`` back."""
    return now - first_poll if cursor is None else cursor - overlap
