"""A marketplace polled over its API, shop by shop: the shop's session and its inbox."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import msgspec

from keybuzz_shared.connectors.seam.limits import Limits
from keybuzz_shared.connectors.seam.messages import (
    InboxFile,
    InboxMessage,
    MessageSource,
    Recipient,
    ReplyChannel,
    ReplyOutcome,
    SenderType,
    ThreadKey,
)
from keybuzz_shared.connectors.seam.orders import OrderSource
from keybuzz_shared.connectors.seam.page import Page
from keybuzz_shared.connectors.seam.read_back import SENT_SKEW
from keybuzz_shared.redaction import remote_excerpt
from keybuzz_shared.ticket_topics.taxonomy import Subject
from keybuzz_shared.times import as_utc

if TYPE_CHECKING:
    import httpx

    from keybuzz_shared.file_links import FileLinks


SECONDS_A_DAY = 86_400
REASON_CHARS = 300  # of a refused reply's reason, with the marketplace's codes


class AppCallBudget(msgspec.Struct, frozen=True, kw_only=True):
    """A marketplace's daily calls for the whole application, every connected shop's calls
    counted together (a per-application call limit, not a shop's allowance), and how a
    service keeps within it: each shop's rounds (the poller's polls, or orders' syncs for
    ``ShopApiSettings.order_calls``) spaced so that all of them spend at most ``poll_share``
    of the day's calls, the rest left to what else calls the API on the same application
    (replies, look-ups, credential checks). docs/POLLER.md and docs/ORDERS.md,
    "Application call budget"."""

    calls_per_day: int  # the marketplace's limit for the application, a day
    calls_per_poll: float  # what one shop's poll costs, on average, listing calls and reads
    poll_share: float  # the part of ``calls_per_day`` polls may spend, in (0, 1]

    def __post_init__(self) -> None:
        if self.calls_per_day < 1 or self.calls_per_poll <= 0:
            raise ValueError("an application's call budget needs calls a day and a poll's cost")
        if not 0 < self.poll_share <= 1:
            raise ValueError(f"poll_share {self.poll_share} is not within (0, 1]")

    @property
    def polls_calls_per_day(self) -> float:
        """The calls every shop's polls together may spend a day."""
        return self.calls_per_day * self.poll_share

    def spread(self, shops: int) -> float:
        """The seconds between a shop's polls at which ``shops`` spend the polls' share:
        ``shops × calls_per_poll × 86,400 / (calls_per_day × poll_share)``."""
        return max(shops, 0) * self.calls_per_poll * SECONDS_A_DAY / self.polls_calls_per_day

    def poll_interval(self, shops: int, declared: float) -> float:
        """The interval between a shop's polls with ``shops`` connected: the marketplace's
        ``declared`` interval, or the ``spread`` where that is longer."""
        return max(float(declared), self.spread(shops))

    def calls_a_day(self, shops: int, interval: float) -> float:
        """The calls ``shops`` polled every ``interval`` seconds spend a day."""
        return max(shops, 0) * self.calls_per_poll * SECONDS_A_DAY / interval


class ShopApiSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How a service reaches the API a marketplace's shops are polled on: the view its
    connector's settings give (``ConnectorSettings.shop_api``), handed back unread to the
    connector's session and credential check. A connector whose API needs more than one
    address subclasses it with fields of its own."""

    api_url: str
    timeout_seconds: float  # each connect or read
    call_deadline_seconds: float  # a call as a whole, its retries included
    # The longest wait between two tries of a failing call (each wait doubling from 0.5 s).
    call_retry_wait_seconds: float = 20.0
    poll_interval_seconds: int
    mark_as_read: bool
    first_poll_days: int
    max_attachment_bytes: int
    attachment_origins: tuple[str, ...]  # the only origins a message's files come from
    # The marketplace's daily allowance of listing calls per shop account (a UTC day); None:
    # no such limit, each shop polled every ``poll_interval_seconds``. With one, the poller
    # spends it across the day where buyers write (``buyer_hours``), never more, and never
    # polls more often than ``poll_interval_seconds`` (docs/POLLER.md, "Daily allowance").
    calls_per_day: int | None = None
    # How much the marketplace's buyers write at each hour of their day (24 relative
    # weights, hour 0 first, in ``buyer_zone``'s local time); empty: the poller's default.
    buyer_hours: tuple[float, ...] = ()
    buyer_zone: str = "Europe/Paris"
    # How far before its cursor a poll reads again (a listing may show a message late): more
    # overlap, more folders listed again by every poll, and more pages of the allowance.
    listing_overlap_seconds: int = 600
    # The marketplace's documented frequency: it answers a shop's listing at most once per
    # this many seconds, counted from the calls it saw (a 429 inside them). The poller
    # starts no poll of a shop sooner than this after its last poll's calls ended, whatever
    # made it due (poller/shops/pacing.py, docs/POLLER.md, "Pacing"). None: it documents none.
    call_frequency_seconds: float | None = None
    # The marketplace's daily call limit for the whole application, shared by every shop
    # (``AppCallBudget``); None: none. With one, the poller polls each shop no more often
    # than its connected shops' number allows (docs/POLLER.md, "Application call budget").
    app_calls: AppCallBudget | None = None
    # The daily call limit for the whole application of the API its orders are read from,
    # when it is not the polls' (an order API with a quota apart from the messages' API's);
    # None: none. A "poll" of this budget is an order sync round: orders syncs each
    # shop no more often than its syncing shops' number allows (docs/ORDERS.md,
    # "Application call budget").
    order_calls: AppCallBudget | None = None
    # The most calls one poll of a shop makes (counted at the requester, each attempt, the
    # token's too): past it, the poll ends with what it read kept, the rest for the next
    # poll (docs/ARCHITECTURE.md, "Calls counted as spent"). The engine's bound unless a
    # connector declares its own.
    max_calls_per_poll: int = 500


def sent_since(listed: Iterable[InboxMessage], since: datetime) -> list[InboxMessage]:
    """The seller's messages among ``listed`` from a little before ``since`` on
    (``SENT_SKEW``): what a reply channel's ``sent_messages`` gives back."""
    start = as_utc(since) - SENT_SKEW
    return [m for m in listed if m.sender_type == "SELLER" and m.created_at >= start]


def failed_reply(reason: str) -> ReplyOutcome:
    """A reply the marketplace refused, or would: FAILED, with why (an excerpt: anything
    shaped like a token masked, ``redaction.remote_excerpt``)."""
    return ReplyOutcome(status="FAILED", reason=remote_excerpt(reason, REASON_CHARS))


class InboxIncident(msgspec.Struct, frozen=True, kw_only=True):
    """A claim on an order, handled by the marketplace's customer service."""

    incident_id: str
    order_id: str
    status: str
    types: tuple[str, ...]
    waiting_for_seller: bool
    opened_by: str | None
    message: str
    created_at: datetime
    updated_at: datetime
    # The incident's kind mapped to the shared subjects (None: the buyer's words decide).
    ticket_subject: Subject | None = None


class InboxSource(Protocol):
    """A shop's inbox as the poller reads it: messages with their read state and files,
    the claims (incidents) on its orders, and marking messages read."""

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        """Messages created from ``since`` on, oldest first; ``cursor`` (a page's
        ``next_cursor``) continues the listing. ValueError for a cursor it did not give.

        For a thread whose state (``thread_details``, ``claim``) changed since ``since``
        without a new message, the connector lists its newest message again: the poller
        takes a thread's state from every message listed, already stored or not."""
        ...

    async def incidents(self, *, since: datetime, cursor: str | None = None) -> Page[InboxIncident]:
        """Incidents updated from ``since`` on, oldest first; ``cursor`` as above."""
        ...

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        """Marks the messages read at the marketplace; how many it refused."""
        ...

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        """A message's file, downloaded with the session's auth when the marketplace wants
        it, through the ``FileLinks`` the session was given (its declared origins, public
        addresses only): ``file_links.LinkRefused`` for a link off them (or when none were
        given), ``FileTooLarge`` over ``max_bytes``, ``FileUnavailable`` for an answer
        without the file, MarketplaceUnavailable when the file server is unreachable."""
        ...


class ThreadsInbox:
    """An inbox whose marketplace keeps its claims in its threads: its ``messages`` are its
    ``inbox_messages``, it lists no incident. A connector's inbox subclasses it with its
    listing, read marks and files."""

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        raise NotImplementedError

    async def messages(self, *, since: datetime, cursor: str | None = None) -> Page[InboxMessage]:
        return await self.inbox_messages(since=since, cursor=cursor)

    async def incidents(self, *, since: datetime, cursor: str | None = None) -> Page[InboxIncident]:
        return Page(items=(), next_cursor=None)


@runtime_checkable
class CountsAllowanceCalls(Protocol):
    """A session whose listing pages may spend other than one call of the daily allowance
    each (``ShopApiSettings.calls_per_day``): several list calls behind one page, or none
    (a listing it serves from another call). Without it, every page of ``inbox_messages``
    and ``incidents`` counts as one call."""

    def allowance_calls(self) -> int:
        """The calls of the allowance this session has made so far (it only grows)."""
        ...


class AllowanceSpent(Exception):
    """A listing page stopped before a call of the daily allowance its limit left no room
    for (``LimitsAllowanceCalls``): nothing of the page is given, and the calls it made are
    counted; the caller's next listing from the same point reads it again."""


@runtime_checkable
class LimitsAllowanceCalls(Protocol):
    """A session counting its calls of the daily allowance (``CountsAllowanceCalls``) whose
    one listing page may make several of them: told how far its count may go, a page stops
    before passing it instead of after."""

    def limit_allowance_calls(self, total: int | None) -> None:
        """From now on, make no call of the allowance that would take ``allowance_calls()``
        past ``total`` (None: no limit): a page needing one raises AllowanceSpent unsent."""
        ...


class MarketplaceSession(MessageSource, InboxSource, ReplyChannel, OrderSource, Protocol):
    """One shop's connection, and the only one: the poller's polls (``InboxSource``) and
    replies (``ReplyChannel``) and orders' listings (``OrderSource``) call the same kind of
    session, each process keeping one per shop (``shop_sessions.ShopSessions``), so a shop
    holds one token. Raises CredentialsRefused, MarketplaceUnavailable, or another
    ConnectorError for an answer it cannot read; messages never hold a credential."""

    async def verify(self) -> None:
        """Checks the credentials now; raises CredentialsRefused or MarketplaceUnavailable."""
        ...


class ShopApi(Protocol):
    """The part of a connector whose marketplace is polled over an API, shop by shop."""

    def session(
        self,
        credentials: Mapping[str, str],
        *,
        http: httpx.AsyncClient,
        settings: ShopApiSettings,
        files: FileLinks | None = None,
    ) -> MarketplaceSession:
        """A session on one shop (``credentials``: the fields of ``credential_fields``, as
        stored in Vault; ``settings``: what this connector's ``shop_api(marketplace)`` gave,
        its own subclass when it made one; ``files``: where its messages' files may be fetched from, none
        when None); raises ValueError when a field is missing."""
        ...

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        """Whom a reply on ``thread`` may be addressed to on this marketplace; a reply to
        anyone else is refused before it is queued."""
        ...

    def reply_text(self, text: str) -> str:
        """``text`` as the marketplace carries a reply: what it lists back once the reply
        is sent (characters it cannot carry replaced or left out). Replies are queued so
        and read back compared so."""
        ...

    def refusal_codes(self, outcome: ReplyOutcome) -> tuple[str, ...]:
        """The marketplace's own codes for why it refused a reply (a FAILED outcome), each
        once, in order; () when it named none. They are the reply's outcome code."""
        ...

    @property
    def claim_subject(self) -> str:
        """How the subject starts (any case) of the message the marketplace posts in an
        order's thread when a claim is opened on it: that message is the claim's notice,
        shown once. A claim whose notice is not there is shown under this subject."""
        ...

    def claim_opener(self, opened_by: str | None) -> SenderType:
        """Who opened a claim (its ``opened_by`` as the marketplace gave it): the buyer, or
        the marketplace's customer service."""
        ...


class DiscussionShopApi:
    """What the shop APIs whose replies go in a discussion share; each connector subclasses
    it with its ``session``. A reply goes to ``discussion_recipients`` in a discussion and
    to no one elsewhere (whether the discussion allows the one asked is the marketplace's
    to say at the reply); its text is carried as it is (JSON, multipart) and listed back
    so; a refusal names no code of its own; a claim opened by ``support_sender`` is the
    marketplace's customer care's, any other the buyer's."""

    def __init__(
        self,
        limits: Limits,
        *,
        discussion_recipients: tuple[Recipient, ...],
        support_sender: str,
        claim_subject: str,
    ) -> None:
        self.limits = limits
        self._recipients = discussion_recipients
        self._support_sender = support_sender
        self._claim_subject = claim_subject

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        return self._recipients if thread.kind == "DISCUSSION" else ()

    def reply_text(self, text: str) -> str:
        return text

    def refusal_codes(self, outcome: ReplyOutcome) -> tuple[str, ...]:
        return ()

    @property
    def claim_subject(self) -> str:
        return self._claim_subject

    def claim_opener(self, opened_by: str | None) -> SenderType:
        return "MARKETPLACE_SUPPORT" if opened_by == self._support_sender else "BUYER"
