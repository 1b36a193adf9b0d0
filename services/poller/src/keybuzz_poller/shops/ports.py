"""What polling a shop uses, as ports: the marketplace's API (``MarketplaceMessageSource``),
the shop's cursors and threads in the poller's database (``ShopStore``), and a unit of work
over the store.

The adapters: ``shops/api_source.py`` (the marketplace's API over the shop's
key in Vault) and ``shops/store.py`` (PostgreSQL); the unit tier's in-memory fakes
are held to them by ``tests/test_marketplace_contract.py``. Replies through a
marketplace's API go through ``MarketplaceReplies`` (``shops/replies.py``, held to its
fake by ``tests/test_api_replies_contract.py``), one attempt at a time and at most once
(``ApiAttempt`` → ``ApiOutcome``, ``shops/api_replies.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol, runtime_checkable

import msgspec
from keybuzz_shared.connectors.seam import (
    AppCallBudget,
    InboxFile,
    InboxIncident,
    InboxMessage,
    Limits,
    Recipient,
    Reply,
    ReplyOutcome,
    ThreadKey,
)
from keybuzz_shared.errors import DependencyUnavailable
from keybuzz_shared.ticket_topics import Topics
from keybuzz_shared.uow import StoreUnit

from keybuzz_poller.shops.allowance import Allowance, DayPlan
from keybuzz_poller.shops.domain import (
    CURSOR_OVERLAP,
    CallsAsked,
    DayCalls,
    MatchedReply,
    PageThreads,
    SeenPages,
    Shop,
    ShopCursor,
    ShopStart,
    ThreadClock,
    ThreadState,
)
from keybuzz_poller.shops.pacing import CallFrequency
from keybuzz_poller.tickets.ports import (
    Attachment,
    DeadlineStore,
    ExternalMessageRow,
    TicketMessageRow,
)


class AttachmentTooLarge(Exception):
    """A linked file larger than the cap: not downloaded."""


class AttachmentUnavailable(Exception):
    """A linked file the marketplace does not serve (gone, refused): named, not stored."""


class AttachmentRefused(Exception):
    """A link we do not follow (not a web address, not an origin the marketplace serves
    files from, an address inside our network): named, not fetched, not stored."""


class ShopPollFailed(DependencyUnavailable):
    """The marketplace could not be polled now: the poll is retried with back-off, and its
    message, which names what failed and never a key or token, is the shop's last error."""


class MarketplaceUnavailable(ShopPollFailed):
    """Unreachable, timed out, 5xx, throttled."""


class MarketplaceAnswerInvalid(ShopPollFailed):
    """Not XML, truncated, not the schema, or a status ERROR/FATAL."""


class ShopKeyRefused(ShopPollFailed):
    """The marketplace refused the shop's key (revoked, replaced): the seller must connect again."""


class MarketplaceMessageSource(Protocol):
    """A marketplace's API for one shop at a time; its failures are ``ShopPollFailed``."""

    async def open(self, shop: Shop) -> None:
        """Reads the shop's credentials for the poll that starts; the calls that follow use
        them, so a reconnected shop's new key is taken at its next poll."""
        ...

    def messages(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxMessage]]:
        """Pages of the shop's messages created at or after ``since``, oldest first."""
        ...

    def incidents(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxIncident]]:
        """Pages of the shop's incidents updated at or after ``since``, oldest first."""
        ...

    async def mark_read(self, shop: Shop, message_ids: Sequence[str]) -> None: ...

    async def download(self, shop: Shop, link: InboxFile, max_bytes: int) -> bytes:
        """The file's bytes; ``AttachmentTooLarge`` past ``max_bytes``,
        ``AttachmentRefused`` when the link is not followed (docs/SECURITY.md, "Files a
        message links"), ``AttachmentUnavailable`` when the marketplace will not serve it
        (4xx), ``MarketplaceUnavailable`` when its server fails (5xx, unreachable)."""
        ...


@runtime_checkable
class CountsCalls(Protocol):
    """A ``MarketplaceMessageSource`` that knows how many calls of the daily allowance
    each shop's session made (the seam's ``CountsAllowanceCalls``); without it, each page
    listed is one call."""

    def allowance_calls(self, shop: Shop) -> int | None:
        """The calls of the allowance the shop's session made so far; None when its session
        does not count them."""
        ...


@runtime_checkable
class LimitsCalls(Protocol):
    """A ``CountsCalls`` source whose shops' sessions can be told how far their count of
    the allowance may go within a page (the seam's ``LimitsAllowanceCalls``)."""

    def limit_allowance_calls(self, shop: Shop, total: int | None) -> bool:
        """Whether the shop's session was told: it stops a page (``AllowanceSpent``) before
        a call that would take its count past ``total`` (None: no limit)."""
        ...


class CallCounts(Protocol):
    """The listing calls each shop spent per UTC day (``poller_shop_calls``), counted before
    each call is made: the count survives restarts and is shared by every instance."""

    async def reserve_call(self, shop: Shop, day: date, limit: int) -> bool:
        """Counts one more call of ``day`` unless its count reached ``limit``; whether it did."""
        ...

    async def adjust_calls(self, shop: Shop, day: date, delta: int) -> None:
        """Corrects ``day``'s count by what the calls made really spent (never below 0)."""
        ...

    async def calls_spent(self, shop: Shop, day: date) -> int: ...

    async def marketplace_calls(self, marketplace: str, day: date) -> int:
        """Every shop of ``marketplace``'s calls counted on ``day``."""
        ...

    async def buyer_hours(self, shop: Shop, since: datetime) -> tuple[int, ...]:
        """The shop's buyer messages written since ``since``, by UTC hour (24 counts)."""
        ...


class ShopStore(Protocol):
    """A shop's cursors, messages and threads (tickets), in one transaction when in a unit."""

    @property
    def tickets(self) -> DeadlineStore:
        """The same transaction's tickets, for their deadlines (the unit of work's ``Intake``)."""
        ...

    async def started(self, shop: Shop, reserve: CallsAsked | None = None) -> ShopStart:
        """The shop's row as its poll starts (one statement: ``ShopStart``), with
        ``reserve``'s calls counted in its day (``CallCounts``) in the same statement when
        they fit its limit (``ShopStart.day_calls``)."""
        ...

    async def save_cursor(self, shop: Shop, cursor: ShopCursor) -> None: ...

    async def advance_cursor(self, shop: Shop, past: ShopCursor) -> None:
        """Each cursor ``past`` gives moved to it, never backwards; one it leaves None is left
        as it is (a takeover's reset of it while a poll runs is not written over)."""

    async def known_messages(self, shop: Shop, message_ids: Sequence[str]) -> set[str]:
        """Those of ``message_ids`` already stored."""
        ...

    async def add_message(
        self, message: ExternalMessageRow, attachments: Sequence[Attachment]
    ) -> bool:
        """Stores the message and its files; False when it was stored before (same shop,
        same external id)."""
        ...

    async def add_messages(
        self,
        messages: Sequence[ExternalMessageRow],
        attachments: Mapping[str, Sequence[Attachment]],
    ) -> set[str]:
        """Stores a page's messages and their files (external message id → its files) at
        once; the ids of those new (one stored before, or earlier in ``messages``, is not)."""
        ...

    async def ticket_of(self, shop: Shop, thread_key: str) -> str | None: ...

    async def open_tickets(
        self, threads: Mapping[str, Sequence[tuple[ExternalMessageRow, Topics | None]]]
    ) -> dict[str, str]:
        """Each thread's ticket, created or re-opened (OPEN) by its stored messages (oldest
        first, each with its topics); thread key → ticket id."""
        ...

    async def open_ticket(
        self, thread_key: str, message: ExternalMessageRow, topics: Topics | None = None
    ) -> str:
        """The thread's ticket, created or re-opened (OPEN) by the stored ``message``; its id."""
        ...

    async def thread_message(self, message: TicketMessageRow) -> None:
        """Adds the stored message to its ticket (counted). Its deadline is the caller's,
        once per page (the unit of work's ``Intake``)."""
        ...

    async def thread_messages(self, messages: Sequence[TicketMessageRow]) -> None:
        """``thread_message`` for a page's messages at once, in their order."""
        ...

    async def save_thread_states(self, shop: Shop, states: Sequence[ThreadState]) -> int:
        """Gives each thread's ticket the state listed (its details and claim flag), writing
        only the tickets whose state differs; how many it wrote. A thread without a ticket
        is left alone."""
        ...

    async def save_page_states(
        self, shop: Shop, states: Sequence[ThreadState], past: ShopCursor
    ) -> int:
        """``save_thread_states`` and ``advance_cursor`` for a stored page, in one statement
        (in the page's unit of work)."""
        ...

    async def save_thread_clocks(self, shop: Shop, clocks: Sequence[ThreadClock]) -> list[str]:
        """Gives each thread's ticket the marketplace's clock listed, writing only the
        tickets whose clock differs; their ids, whose deadlines the caller recomputes in the
        same unit of work (the unit of work's ``Intake``). A thread without a ticket is left alone."""
        ...

    async def page_threads(
        self,
        shop: Shop,
        thread_keys: Sequence[str],
        opening: Sequence[tuple[str, datetime]],
        answered: Sequence[str],
    ) -> PageThreads:
        """What a page's writes read first, at once: the tickets of those threads that have
        one; for each (order id, time) of ``opening``, in their order, the creation time of
        an incident of the order around that time, if one is stored; and of the tickets of
        the ``answered`` threads (some of ``thread_keys``) that have some, our replies the
        marketplace may list back and none of its messages was matched to yet: SENT, or
        QUEUED or FAILED and unconfirmed (its last attempt may have sent it); oldest first."""
        ...

    async def match_reply(
        self, ticket_message_id: str, marketplace_message_id: str
    ) -> MatchedReply | None:
        """Records the marketplace's message as the reply's own; a reply still in doubt
        (QUEUED or FAILED) is SENT from then on (its ticket's deadline the caller's,
        its ``Intake``). None when the reply is not one of ``page_threads``' own replies now
        (matched already, FAILED for sure)."""
        ...

    async def has_notice(
        self, ticket_id: str, incident_created_at: datetime, claim_subject: str
    ) -> bool:
        """Whether the ticket holds the incident's notice message."""
        ...

    async def save_incident(self, shop: Shop, incident: InboxIncident, ticket_id: str) -> bool:
        """Records the incident as seen and flags its ticket with its types and status;
        False when it was stored before (new or changed: True)."""
        ...

    async def pending_marks(self, shop: Shop, limit: int) -> list[str]:
        """Message ids stored and still to mark read at the marketplace, oldest first."""
        ...

    async def marks_done(self, shop: Shop, message_ids: Sequence[str]) -> None: ...


ShopUnit = StoreUnit[ShopStore]


@dataclass(frozen=True)
class ShopReading:
    """How the shops of one marketplace are read (its connector's shop API settings)."""

    mark_as_read: bool  # the shop API's mark_as_read
    first_poll: timedelta  # how far back a shop's first poll reads
    max_attachment_bytes: int
    allowance: Allowance | None = None  # its daily allowance of listing calls, if it has one
    overlap: timedelta = CURSOR_OVERLAP  # how far before its cursor a poll reads again
    pace: CallFrequency | None = None  # its documented frequency, if it declares one
    max_calls: int = 500  # the most calls one poll makes (``max_calls_per_poll``)
    # Its application call budget, if it has one: each poll's calls counted in the shop's
    # day (``CallCounts``), the schedule following what was spent.
    app_calls: AppCallBudget | None = None


@dataclass(frozen=True)
class ShopPorts:
    """Everything polling a shop touches; made once per process (``bootstrap.py``)."""

    source: MarketplaceMessageSource
    store: ShopStore  # reads and single-statement writes, outside a unit of work
    unit_of_work: Callable[[], AbstractAsyncContextManager[ShopUnit]]
    clock: Callable[[], datetime]
    reading: Callable[[str], ShopReading]  # a marketplace's
    # Told how many replies in doubt a poll's unit of work made SENT, once it committed
    # (the replies' SENT count).
    replies_sent: Callable[[int], None]
    calls: CallCounts | None = None  # needed when a marketplace has a daily allowance
    # Each shop's plan of its UTC day, learned once a day from its buyers' hours (shop key →
    # its day and plan): ``calls.plan_of``'s.
    plans: dict[str, tuple[date, DayPlan]] = field(default_factory=dict)
    # Each shop's day's count after its last poll and its calls per poll (shop key → day,
    # count, mean): ``calls.calls_per_poll``'s.
    poll_costs: dict[str, tuple[date, int, float]] = field(default_factory=dict)
    # The calls each shop's last poll made (shop key → calls), for its next interval.
    last_poll_calls: dict[str, int] = field(default_factory=dict)
    # The pages each shop's last poll listed (shop key → pages), for the shops this process
    # polls: a poll listing one again unchanged skips its dedupe and its threads' write.
    seen_pages: dict[str, SeenPages] = field(default_factory=dict)
    # The day's count as each shop's last poll left it (shop key → day, count), for its
    # next interval: read from no statement (``ShopStart.day_calls`` and what it spent).
    day_calls: dict[str, tuple[date, int]] = field(default_factory=dict)
    # What each shop's poll leaves its end statement to count (shop key → corrections):
    # the scheduler's, folded into ``poll_succeeded``/``poll_failed``.
    unsettled: dict[str, list[DayCalls]] = field(default_factory=dict)
    # The messages each shop's poll marked read at the marketplace, whose record (marked,
    # not pending) its end statement carries (shop key → their ids): the scheduler's. Lost with
    # the process, they stay pending and the next poll marks them again.
    unrecorded_marks: dict[str, list[str]] = field(default_factory=dict)

    def forget(self, shop_key: str) -> None:
        """Drops what this process keeps of a shop: it disconnected, or another instance
        polls it now (its entries would stay for the life of the process otherwise)."""
        for kept in (
            self.plans,
            self.poll_costs,
            self.last_poll_calls,
            self.seen_pages,
            self.day_calls,
        ):  # nor ``unsettled``, ``unrecorded_marks``: a poll ending now still carries them
            kept.pop(shop_key, None)


def forgetting(forget_key: Callable[[Shop], None], shops: ShopPorts) -> Callable[[Shop], None]:
    """What a shop's connection event drops in this process (``ShopPollingPorts.forget_key``):
    its cached key, and what its polls kept of it (``ShopPorts.forget``)."""

    def forget(shop: Shop) -> None:
        forget_key(shop)
        shops.forget(shop.key)

    return forget


# What an API reply's outcome ``code`` holds when the marketplace refused the shop's key.
KEY_REFUSED = "REAUTH_REQUIRED"
# What it holds when the reply may have been sent and its thread cannot tell (a seller's
# message there since the reply was queued, not its words): FAILED in doubt, never sent
# again by itself; an agent checks the marketplace's thread.
UNCONFIRMED = "SEND_UNCONFIRMED"


class MarketplaceReplies(Protocol):
    """One marketplace's API, replies go through (the seam's reply channel), on the tenant's
    shop. Raises the seam's errors: ``MarketplaceUnavailable`` (nothing sent),
    ``OutcomeUnknown`` (the answer was lost after the request left), ``CredentialsRefused``
    (the shop's key was refused, or none is stored)."""

    @property
    def limits(self) -> Limits: ...

    def reply_text(self, text: str) -> str:
        """``text`` as the marketplace carries a reply (the connector's rule)."""
        ...

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        """Whom a reply on ``thread`` may go to (the connector's rule)."""
        ...

    async def reply(self, tenant_id: str, reply: Reply) -> ReplyOutcome: ...

    async def sent_messages(
        self, tenant_id: str, thread: ThreadKey, since: datetime
    ) -> list[InboxMessage]:
        """The seller's messages on ``thread`` created from ``since`` on."""
        ...


class ApiAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt of a reply queued for a marketplace's API (``api_replies.py``)."""

    tenant_id: str
    marketplace: str
    reply: Reply  # as queued: sent as is on every attempt
    queued_at: datetime
    # An earlier attempt may have reached the marketplace without its outcome being
    # recorded: the thread is read back before anything is sent.
    in_doubt: bool = False


class ApiOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What the attempt did: ``kind`` as the replies' outcomes say it ("sent", "refused",
    "temporary", "unknown", "undecided"), why, the marketplace's codes; ``key_refused``: the shop's
    key was refused (``code`` KEY_REFUSED), and why as the marketplace said."""

    kind: str
    detail: str
    code: str | None = None
    key_refused: str | None = None
