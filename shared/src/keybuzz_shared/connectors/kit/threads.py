"""Threads: how an inbox lists and reads them (in turn, reread, made whole, read marks, one item by its id, linked files, shown details) and how a reply is declared, checked and sent."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec

from keybuzz_shared.connectors.kit.json_answers import iso_z, segment
from keybuzz_shared.connectors.kit.listing import Listing, PageRead, Read
from keybuzz_shared.connectors.kit.requester import CallErrors, Requester
from keybuzz_shared.connectors.seam import (
    CallRefused,
    InboxFile,
    InboxMessage,
    Limits,
    Page,
    Recipient,
    Reply,
    ReplyFile,
    ReplyOutcome,
    RequestRefused,
    SenderType,
    ThreadDetail,
    ThreadKey,
    ThreadsInbox,
    ThreadStanding,
    cursor_of,
    failed_reply,
    sent_since,
    state_of,
)
from keybuzz_shared.file_links import FileUnavailable
from keybuzz_shared.times import as_utc

log = logging.getLogger(__name__)

# --- discussions ----------------------------------------------------------------------------
# A declaration's discussions: whom its replies go to, and where its marketplace refuses one.

# Why the marketplace would refuse a reply on a thread standing so at an instant, in words
# an agent reads; None when it may go.
Gate = Callable[[Reply, ThreadStanding, datetime], str | None]


@dataclass(frozen=True)
class Discussions:
    """Where a reply goes: ``recipients`` in a discussion (no one elsewhere); a claim
    opened by ``support_sender`` is the marketplace's customer care's; ``claim_subject``:
    the subject a claim without its notice is shown under.

    Where the marketplace's threads are others than discussions (an order's, an offer's):
    ``threads``, their kinds; ``carried``, what its messages carry of a reply's text (an
    XML API holds no control character); ``codes``, its own codes in a refused reply's
    reason; ``buyer_opener``, the opener a claim is the buyer's by, any other (or none)
    its staff's, where the marketplace names the buyer rather than its staff.

    Where the marketplace takes a reply only while its thread stands so (a claim, too long
    since the order): ``gate``, why it would refuse one (the seam's ``ReplyGate``, asked
    before the reply is queued); absent, every reply may go."""

    recipients: tuple[Recipient, ...]
    support_sender: str
    claim_subject: str
    threads: frozenset[str] = frozenset({"DISCUSSION"})
    carried: Callable[[str], str] | None = None
    codes: Callable[[str], tuple[str, ...]] | None = None
    buyer_opener: str = ""
    gate: Gate | None = None


# --- at once -------------------------------------------------------------------------------
# Calls made a few at a time: a page's details read, a poll's messages marked read, never
# a burst against a marketplace's rate limit.

T = TypeVar("T")
R = TypeVar("R")


async def at_once(limit: int, items: Iterable[T], call: Callable[[T], Awaitable[R]]) -> list[R]:
    """``call`` on each item, at most ``limit`` in flight, the results in the items' order;
    the first failure cancels the calls left and is raised as it is."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await call(item)

    try:
        async with asyncio.TaskGroup() as calls:
            tasks = [calls.create_task(one(item)) for item in items]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]


# --- read marks ----------------------------------------------------------------------------
# Read marks where the marketplace marks messages one call each: a few calls in flight
# (never a burst against its rate limit), sent again when in doubt (marking read twice does
# nothing more), those a session marked already skipped, and within a budget of seconds:
# past it, ``CallUnavailable`` and the rest left to the next call, so that marking a burst
# of messages never holds a poll past its deadline and each poll marks more. Where the
# marketplace has no read mark for sellers, an inbox is ``Unmarked``: nothing marked,
# nothing refused.


class Unmarked:
    """The read marks of an inbox whose marketplace has none for sellers."""

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return 0


class ReadMarks:
    """``mark(message_id)`` one message's call (a ``CallRefused`` or ValueError: that
    message refused, not remembered); ``budget``: seconds a ``mark_read`` may take (None:
    no limit); ``kept``: ids remembered, oldest forgotten first."""

    def __init__(
        self,
        mark: Callable[[str], Awaitable[object]],
        errors: CallErrors,
        operation: str,
        *,
        at_once: int = 4,
        budget: float | None = None,
        kept: int = 10_000,
    ) -> None:
        self._mark = mark
        self._errors = errors
        self._operation = operation
        self._at_once = at_once
        self.budget = budget
        self._kept = kept
        self._marked: dict[str, None] = {}  # ids this session marked read, oldest first

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        """Marks the messages read; how many the marketplace refused. The first other
        failure stops the marks and is raised."""
        todo = [i for i in dict.fromkeys(message_ids) if i not in self._marked]

        async def refused(message_id: str) -> bool:
            try:
                await self._mark(message_id)
            except (CallRefused, ValueError):  # e.g. a message the marketplace lost
                return True
            self._marked[message_id] = None
            if len(self._marked) > self._kept:
                del self._marked[next(iter(self._marked))]
            return False

        try:
            async with asyncio.timeout(self.budget):
                done = await at_once(self._at_once, todo, refused)
        except TimeoutError:
            left = sum(1 for i in todo if i not in self._marked)
            raise self._errors.unavailable(
                self._operation, f"{left} messages left to mark read after {self.budget:g} s"
            ) from None
        return sum(done)


# --- rereads -------------------------------------------------------------------------------
# Which items of a listing by last change to read in detail again, where each detail is a
# call of its own (an allowance spent with care): an item is read again only when its last
# change moved since this session last read it, once that reading is known stored: a later
# listing starts later (the poller's cursor moved past the poll that read it). Until then a
# listing from the same ``since`` may follow a poll that failed to store what it read (cut
# at its deadline, the database lost), or one that found nothing new in it (a session just
# started): the item is read again at the next listing, then at listings ever further apart
# (1, 2, 4 … at most ``max_gap`` skipped), so that a failed poll is made good at once and a
# quiet shop's items cost a few calls an hour.

K = TypeVar("K", bound=Hashable)


@dataclass
class _Pending:
    """An item read from ``since`` at its ``last`` change, not yet known stored;
    ``skips``: listings to let pass before reading it again, ``gap`` the last such wait."""

    last: datetime
    since: datetime
    gap: int = 0
    skips: int = 0


class Rereads(Generic[K]):
    """A session's ledger of its items' readings (``kept``: items remembered, oldest
    forgotten first; ``max_gap``: listings skipped at most between two readings of an item
    not known stored)."""

    def __init__(self, *, kept: int = 20_000, max_gap: int = 64) -> None:
        self._kept = kept
        self._max_gap = max_gap
        self._read: dict[K, datetime] = {}  # item -> its last change read and known stored
        self._pending: dict[K, _Pending] = {}  # item -> its reading not yet known stored

    def confirm(self, since: datetime) -> None:
        """The items read by listings that started before ``since``: the poller moved its
        cursor on since, past what they gave."""
        for key, pending in list(self._pending.items()):
            if pending.since < since:
                del self._pending[key]
                self._read.pop(key, None)
                self._read[key] = pending.last
        while len(self._read) > self._kept:
            del self._read[next(iter(self._read))]

    def worth_reading(self, key: K, last: datetime, since: datetime) -> bool:
        """Whether the item changed last at ``last`` is read in the listing from ``since``;
        an item to be read is noted pending."""
        if self._read.get(key) == last:
            return False  # read, stored, and no change since
        pending = self._pending.get(key)
        if pending is None or pending.last != last or pending.since != since:
            self._pending[key] = _Pending(last, since)
            while len(self._pending) > self._kept:
                del self._pending[next(iter(self._pending))]
            return True
        if pending.skips > 0:
            pending.skips -= 1
            return False
        pending.gap = min(max(1, pending.gap * 2), self._max_gap)
        pending.skips = pending.gap
        return True


# --- read in turn --------------------------------------------------------------------------
# An inbox whose listing names what changed and whose messages come only with each item's
# details, one call an item (a marketplace's care folders): the seam's ``ThreadsInbox``,
# declared. The first page lists every item changed since ``since`` (the connector's
# ``Listing``, read whole), keeps those worth reading (``Rereads``, where details are
# spent with care) and queues them in order of their last change; each page then reads the
# details of the next ``page_size`` of them, ``at_once`` calls at a time, in that order, so
# that a poll cut between pages has moved the poller's cursor past no message of an item
# still to read. A message posted after the list was read waits for the next listing (its
# item's last change moved): a page keeps each item's messages up to the last change the
# list gave. An item the marketplace refuses is said in the page's ``unreadable``, the
# others read; any other failure ends the page. The cursor is the queue still to read:
# each item's id (a whole number, or text kept as the marketplace writes it: leading zeros)
# and its last change, in seconds (0: the list dates none).
#
# A list of what needs the seller (a to-do list) dates nothing and names an item whatever
# its messages' dates: its items are queued in id order, each one's messages kept from
# ``since`` less ``from_since`` on, and its newest (it carries the thread's state).

S = TypeVar("S")  # an item as the listing names it

ItemId = int | str  # an item's id as the listing gives it
Queue = list[tuple[ItemId, datetime | None]]  # items still to read: id, last change (or none)
_UNDATED = 0  # a cursor's last change where the list dates none


def _none(_item: object) -> tuple[str, ...]:
    return ()


class ReadInTurn(Unmarked, ThreadsInbox, Generic[S, T]):
    """``listing`` and ``read``: the items changed since a poll's ``since`` (its window
    from there, without end); ``changed``: a listed item's id and last change;
    ``details``: one item's details (CallRefused: that item refused); ``messages``: its
    messages, ``unreadable_in``: why each of its others could not be read; ``named``: what
    ``unreadable`` calls an item ("care folder"); ``files``: a message's file (None: a
    marketplace whose messages carry none, each asked for unavailable);
    ``rereads``: keep the session's ledger (``Rereads``), else read every item listed; ``from_since``:
    where the list dates nothing, how long before ``since`` an item's messages are kept."""

    def __init__(
        self,
        listing: Listing[S, Any, Any],
        read: Read[S],
        changed: Callable[[S], tuple[ItemId, datetime | None]],
        *,
        details: Callable[[Any], Awaitable[T]],  # an id as ``changed`` gives it
        messages: Callable[[T], Sequence[InboxMessage]],
        named: str,
        files: Callable[[InboxFile, int], Awaitable[bytes]] | None,
        page_size: int,
        at_once: int = 4,
        rereads: bool = False,
        unreadable_in: Callable[[T], Sequence[str]] = _none,
        from_since: timedelta | None = None,
    ) -> None:
        self.listing = listing
        self.read = read
        self.changed = changed
        self.details = details
        self.map = messages
        self.named = named
        self.files = files
        self.page_size = page_size
        self.at_once = at_once
        self.rereads = Rereads[ItemId]() if rereads else None
        self.unreadable_in = unreadable_in
        self.from_since = from_since

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        unreadable: list[str] = []
        if cursor is None:
            queue, left_out = await self._queue(as_utc(since))
            unreadable += left_out
        else:
            queue = _queue_of(cursor)
        batch, rest = queue[: self.page_size], queue[self.page_size :]
        found: list[InboxMessage] = []
        read = await at_once(self.at_once, [item_id for item_id, _ in batch], self._details)
        for (item_id, last), item in zip(batch, read, strict=True):
            if isinstance(item, CallRefused):  # e.g. an item the marketplace lost
                unreadable.append(f"{self.named} {item_id}: {item}")
            else:
                found += self._kept(self.map(item), last, as_utc(since))
                unreadable += self.unreadable_in(item)
        return Page(
            items=tuple(sorted(found, key=lambda m: m.created_at)),
            next_cursor=_cursor_of(rest) if rest else None,
            unreadable=tuple(unreadable),
        )

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        if self.files is None:
            raise FileUnavailable(404)
        return await self.files(file, max_bytes)

    @staticmethod
    def thread_messages(
        thread: ThreadKey,
        said: Iterable[tuple[str, SenderType, str | None, str, datetime]],
        *,
        files: Iterable[tuple[InboxFile, datetime]] = (),
        waiting: bool = True,
        opened: datetime | None = None,
        **shared: Any,
    ) -> list[InboxMessage]:
        """One thread's messages as the seam's, oldest first: each ``said`` message (its id,
        sender, sender's name, text, time), unread unless the seller's; ``shared``: what
        they all carry (``subject``, ``thread_details``, ``language``, ``ticket_subject``).
        ``files`` hung on the thread go each with the last message written up to its
        upload (the first for an earlier one). While ``waiting`` (the marketplace says the
        seller must act), the thread waits since the buyer's first message after the
        seller's last (``opened`` without one)."""
        ordered = sorted(said, key=lambda m: as_utc(m[4]))  # ties kept in the given order
        last_ours = max((i for i, m in enumerate(ordered) if m[1] == "SELLER"), default=-1)
        buyers = [as_utc(m[4]) for m in ordered[last_ours + 1 :] if m[1] == "BUYER"]
        since = (buyers[0] if buyers else _utc(opened)) if waiting else None
        hung: dict[str, list[InboxFile]] = {}
        for file, at in files:
            before = [m[0] for m in ordered if as_utc(m[4]) <= as_utc(at)]
            if ordered:
                hung.setdefault(before[-1] if before else ordered[0][0], []).append(file)
        return [
            InboxMessage(
                message_id=message_id,
                thread=thread,
                sender_type=sender,
                sender_name=name or None,
                body=text,
                created_at=as_utc(at),
                unread=sender != "SELLER",
                files=tuple(hung.get(message_id, ())),
                reply_needed_since=since,
                **shared,
            )
            for message_id, sender, name, text, at in ordered
        ]

    def _kept(
        self, messages: Sequence[InboxMessage], last: datetime | None, since: datetime
    ) -> list[InboxMessage]:
        """An item's messages up to its last change; where the list dates none, those
        from ``since`` less ``from_since`` on, and its newest."""
        if last is not None:
            return [m for m in messages if m.created_at <= last]
        if self.from_since is None or not messages:
            return list(messages)
        low, newest = since - self.from_since, max(reversed(messages), key=_created)
        return [m for m in messages if m.created_at >= low or m is newest]

    async def _queue(self, since: datetime) -> tuple[Queue, tuple[str, ...]]:
        """The items changed since ``since`` worth reading, oldest change first."""
        if self.rereads is not None:
            self.rereads.confirm(since)
        every = await self.listing.every(self.listing.start(since, None, updated=True), self.read)
        listed = [(i, _utc(last)) for i, last in map(self.changed, every.items)]
        changed = sorted(listed, key=_in_turn)
        rereads = self.rereads
        if rereads is not None:
            changed = [
                (i, last)
                for i, last in changed
                if last is None or rereads.worth_reading(i, last, since)
            ]
        return changed, every.unreadable

    async def _details(self, item_id: ItemId) -> T | CallRefused:
        try:
            return await self.details(item_id)
        except CallRefused as refused:
            return refused


def _created(message: InboxMessage) -> datetime:
    return message.created_at


def _utc(last: datetime | None) -> datetime | None:
    return None if last is None else as_utc(last)


def _in_turn(item: tuple[ItemId, datetime | None]) -> tuple[float, ItemId]:
    """Oldest change first, then by id (an undated list: by id alone)."""
    item_id, last = item
    return (_UNDATED if last is None else last.timestamp(), item_id)


def _cursor_of(queue: Queue) -> str:
    return cursor_of([(i, _UNDATED if t is None else int(t.timestamp())) for i, t in queue])


def _queue_of(cursor: str) -> Queue:
    pairs = state_of(cursor, list[tuple[ItemId, int]], lambda p: bool(p) and all(map(_an_id, p)))
    try:
        return [(i, None if t == _UNDATED else datetime.fromtimestamp(t, UTC)) for i, t in pairs]
    except (ValueError, OverflowError, OSError):
        raise ValueError("not a cursor this connector handed out") from None


def _an_id(pair: tuple[ItemId, int]) -> bool:
    item_id = pair[0]
    return item_id > 0 if isinstance(item_id, int) else item_id.isprintable() and bool(item_id)


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- threads listed by last change ----------------------------------------------------------
# An inbox of threads the marketplace lists by last change, each with its messages (a
# seller's discussions, an operator's threads): the seam's ``ThreadsInbox``, declared. A
# listing reads its window page after page by the connector's ``Listing``; each thread of a
# page is made whole (read again where the listing gave only some of its messages) and
# mapped, a thread whose messages cannot be mapped (an attachment id naming another path)
# costing that thread, said in the page's ``unreadable``, never the page; the listing's next
# state is the page's cursor.
#
# Where the window is complete decides the poller's next ``since``. A marketplace that
# takes a window's end is asked [since, now] (``reach``: how far back it searches at most;
# a ``since`` further back starts there, said in the log), complete until now, and a page
# that read no thread ends the listing (nothing to seek from). One that takes none (its
# listing from ``since`` on, ``updated`` given) is complete on its own clock: until the
# newest update the listing read (threads updated at that instant come again; the poller
# drops what it has), or, having read none, until a moment before it was asked on ours
# (``IDLE_MARGIN``: for its clock being behind), never before ``since`` (from ``since``,
# every poll of an idle shop would ask for the same span, for ever).
IDLE_MARGIN = timedelta(minutes=1)


@dataclass(eq=False)  # an inbox is itself, whatever its parts
class ListedThreads(ThreadsInbox, Generic[T]):
    """``listing`` and ``read``: the threads changed in a window; ``complete``: whether a
    listed thread holds all its messages, else ``read_whole`` reads it again; ``mapper``:
    a page's mapping of a thread to its messages (ValueError: that thread unreadable),
    made once a page, where it needs what a call gives; ``named``: a thread as
    ``unreadable`` names it; ``files``, ``marks``: the inbox's files and read marks;
    ``updated``: a thread's last update, where the listing has no end; ``reach``: how far
    back a window may start; ``label``: the marketplace in the log; ``now``: our clock."""

    listing: Listing[T, Any, Any]
    read: Read[T]
    _: KW_ONLY
    complete: Callable[[T], bool]
    read_whole: Callable[[T], Awaitable[T]]
    mapper: Callable[[], Awaitable[Callable[[T], Sequence[InboxMessage]]]]
    named: Callable[[T], str]
    files: Callable[[InboxFile, int], Awaitable[bytes]]
    marks: ReadMarks | Unmarked = field(default_factory=Unmarked)
    updated: Callable[[T], datetime] | None = None
    reach: timedelta | None = None
    label: str = "the marketplace"
    now: Callable[[], datetime] = _utc_now

    @classmethod
    def of_messages(
        cls,
        listing: Listing[T, Any, Any],
        read: Read[T],
        message: Callable[[T], InboxMessage],
        files: Callable[[InboxFile, int], Awaitable[bytes]],
        **options: Any,
    ) -> ListedThreads[T]:
        """The inbox of a marketplace that lists messages, not threads, written in a window:
        each listed message a thread of one, whole; ``options``: the others' (``marks``,
        ``reach``, ``label``)."""

        async def mapper() -> Callable[[T], Sequence[InboxMessage]]:
            return lambda item: (message(item),)

        async def whole(item: T) -> T:
            return item

        return cls(listing, read, complete=lambda _: True, read_whole=whole, mapper=mapper,
                   named=lambda _: "a message", files=files,
                   **options)  # fmt: skip

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        since, asked = as_utc(since), as_utc(self.now())
        if cursor is not None:
            state = self.listing.resume(cursor, updated=True)
        else:
            state = self.listing.start(*self._window(since, asked), updated=True)
        step = await self.listing.step(state, self.read)
        if self.updated is None:
            complete_until = state.high
            if not step.items:  # no thread read: nothing to seek from, the listing ends
                step = PageRead((), step.unreadable, None)
        else:  # the newest update of every page read, this one's too (pages need not be in order)
            listed = [as_utc(self.updated(thread)) for thread in step.items]
            newest = max([*listed, *([state.newest] if state.newest else [])], default=None)
            complete_until = newest or max(since, asked - IDLE_MARGIN)
        return await self._page(step, complete_until)

    async def _page(self, step: PageRead[T, Any], complete_until: datetime) -> Page[InboxMessage]:
        unreadable = list(step.unreadable)
        found: list[InboxMessage] = []
        messages = await self.mapper()
        for thread in step.items:
            whole = thread if self.complete(thread) else await self.read_whole(thread)
            try:
                found += messages(whole)
            except ValueError as exc:
                unreadable.append(f"{self.named(thread)}: {exc}")
        following = step.following
        return Page(
            items=tuple(found),
            next_cursor=cursor_of(following) if following else None,
            complete_until=None if following else complete_until,
            unreadable=tuple(unreadable),
        )

    def _window(self, since: datetime, asked: datetime) -> tuple[datetime, datetime | None]:
        if self.updated is not None:
            return since, None
        if self.reach is not None and since < asked - self.reach:
            log.info(
                "%s searches so far back at most: the listing starts later",
                self.label,
                extra={"since": iso_z(since), "from": iso_z(asked - self.reach)},
            )
            since = asked - self.reach
        return since, asked

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return await self.marks.mark_read(message_ids)

    async def messages_in(self, thread: T) -> list[InboxMessage]:
        """The thread's messages as a page maps them (a reply's read-back)."""
        return list((await self.mapper())(thread))

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        return await self.files(file, max_bytes)


# --- discussion reads ----------------------------------------------------------------------
# What a connector reads of a discussion the marketplace gives with its messages and the
# parties a reply may go to (its eligible receivers, its authorised participants): whom a
# reply goes to (``offered_parties``): each of the seam's recipients is some kinds of party,
# and a reply goes to the parties of those kinds the discussion offers, only where it offers
# every kind (a reply to ALL needs the buyer and the marketplace's customer care both
# offered).

P = TypeVar("P")  # a party a reply may go to


def offered_parties(
    kinds: Mapping[Recipient, tuple[str, ...]],
    recipient: Recipient,
    offered: Sequence[P],
    kind: Callable[[P], str],
) -> list[P] | None:
    """The parties of ``offered`` a reply to ``recipient`` goes to (``kinds``: the kinds of
    party each recipient is; ``kind``: a party's); None where ``recipient`` is no kind of
    party or the discussion does not offer each of its kinds."""
    wanted = kinds.get(recipient, ())
    chosen = [party for party in offered if kind(party) in wanted]
    if not wanted or {kind(party) for party in chosen} != set(wanted):
        return None
    return chosen


# --- one item ------------------------------------------------------------------------------
# One item of a marketplace's API read by its id (a discussion, a care folder), as every
# JSON API's connector reads one: the id as one segment of the item's path, an id that
# cannot be one refused as the marketplace refuses an unknown one (404) without a call, and
# an answer off the item's shape the marketplace's unreadable answer, naming the call.


async def item_at(
    client: Requester,
    path: str,
    item_id: str,
    read: Callable[[Any], T],
    call: str,
    *,
    valid: Callable[[str], bool] = bool,
    operation: str = "",
    shape: Any = None,
    params: Mapping[str, str] | None = None,
) -> T:
    """The item ``item_id`` names under ``path`` (``<path>/<id>``, asked with ``params``),
    read by ``read`` (ValueError: off its shape); CallRefused (404) for an id that is not
    ``valid`` or no path segment, unasked; CallAnswerUnreadable naming ``call`` for an
    answer ``read`` refuses. ``operation`` and ``shape``, where given, are the requester's
    ``get_json``'s: the operation whose frequency and ``Retry-After`` the call obeys, and
    the answer's type (``msgspec.Raw``: its bytes, for ``read`` to decode)."""
    found = segment(item_id) if valid(item_id) else None
    if found is None:
        raise client.errors.refused(call, 404, f"{item_id!r} is not an id")
    given = {"operation": operation, "shape": shape}
    answer = await client.get_json(
        f"{path}/{found}", params, **{k: v for k, v in given.items() if v}
    )
    try:
        return read(answer)
    except ValueError as exc:
        raise client.errors.unreadable(call, str(exc)) from None


# --- linked files --------------------------------------------------------------------------
# A message's file given as a link (a file host's URL), as the seam's ``InboxFile``: named
# by the link's last path segment, decoded (its id where the link names none), its media
# type guessed from that name (``application/octet-stream`` where none is known); a
# file's media type where the marketplace gives one with it, or only its name.


def media_type_of(*names: str) -> str:
    """A file's media type as the first of its ``names`` the platform's table knows says
    it (its name, or ``file.<format>`` where the marketplace gives a format)."""
    known = (mimetypes.guess_type(name)[0] for name in names)
    return next((found for found in known if found), "application/octet-stream")


# --- shown details -------------------------------------------------------------------------
# What a ticket shows beside a thread (the seam's ``ThreadDetail``s), from the
# marketplace's codes: a code shown by the words the marketplace or the connector gives it
# (``labelled``), the code itself where none is known, so a code added later is shown, never
# lost; a detail with nothing to show left out (``shown``).


def labelled(code: str | None, labels: Mapping[str, str]) -> str | None:
    """``code`` as its label in ``labels`` says it, else as it is; None for no code."""
    return (labels.get(code) or code) if code else None


def shown(*details: tuple[str, str, str | None]) -> tuple[ThreadDetail, ...]:
    """Each (name, label, value) with a value, as a ticket shows it, in the order given."""
    return tuple(ThreadDetail(name=name, label=label, value=v) for name, label, v in details if v)


# --- reply files ---------------------------------------------------------------------------
# A reply's files checked against the connector's ``Limits`` at the session, as its
# marketplace would check them (the poller checks them before queueing too: a reply queued
# before a limit changed meets it here): how many, each one's size, their total, their
# formats. The first rule a reply breaks is its FAILED outcome's words.


def _mb(size: int) -> str:
    return f"{size / 2**20:g} MB"


def refused_files(
    limits: Limits,
    files: Sequence[ReplyFile],
    marketplace: str,
    *,
    accepted: Callable[[ReplyFile], bool] | None = None,
    formats: str = "",
) -> str | None:
    """Why ``marketplace`` would refuse these files, if it would. A file's format is taken
    when ``accepted`` says so (default: its media type among ``limits.attachment_formats``,
    any when they name none); ``formats``: the formats a refusal names (default: those)."""
    if len(files) > limits.max_attachments:
        return f"{marketplace} takes at most {limits.max_attachments} files a reply"
    each = limits.max_file_bytes
    for file in files:
        if each is not None and len(file.data) > each:
            return f"{file.name}: {marketplace} takes files of at most {_mb(each)} ({len(file.data)} bytes)"
    total = sum(len(f.data) for f in files)
    if total > limits.max_attachment_bytes:
        return (
            f"{marketplace} takes at most {_mb(limits.max_attachment_bytes)} of files "
            f"a reply ({total} bytes given)"
        )
    known = limits.attachment_formats
    takes = accepted or (lambda f: not known or f.content_type.strip().lower() in known)
    for file in files:
        if not takes(file):
            return f"{file.name}: {marketplace} takes only {formats or ', '.join(known)} files"
    return None


# --- declared replies ----------------------------------------------------------------------
# The reply channel (the seam's ``ReplyChannel``) of a shop API, declared: what every
# marketplace does alike around the one call that posts a reply and the one listing that
# reads it back; each connector fills in what its marketplace is.
#
# A reply's text is sent as the marketplace's messages carry it (``carried``). One on a
# thread of a kind the marketplace has not (``threads``: its discussions, or an order's and
# an offer's threads), to someone it takes none from (``recipients``), empty, longer than
# its ``Limits`` or with files they refuse, on an id not of its form (``is_id``), or that
# its own rule refuses (``refused``) is a FAILED outcome without a call; so is one it refused
# (a ``RequestRefused``: its own words, or the reason ``post`` gives, where the marketplace's
# rules keep it unsent). Whatever else the call raises goes up (unavailable: nothing sent;
# outcome unknown: read the thread back before sending again).
#
# The read-back is ``listed``, a discussion's messages (one the marketplace has forgotten,
# a 404, lists none), of which the seller's from a little before the reply (``sent_since``,
# earlier by ``dated_to`` where the marketplace's dates are coarser); or, where the
# marketplace lists by date, ``read_back``, the seller's messages on the thread since then.
# A thread of a kind the marketplace has not holds no message sent.
#
# Read first (``read_first``): replies on a discussion the marketplace is asked for before
# each reply (whom a reply may go to, whether it is open) and read back the same way: one
# read of the discussion by its id serves the post, which sends on the discussion as it is
# now or says why it keeps the reply unsent, and the read-back, the discussion's messages
# as the inbox maps them. The rest is ``DeclaredReplies``' (checks before any call,
# refusals, a 404 listing none).


def read_first(
    label: str,
    discussion: str,
    *,
    read: Callable[[str], Awaitable[T]],
    send: Callable[[T, Reply], Awaitable[str | None]],
    messages: Callable[[T], Awaitable[Sequence[InboxMessage]]],
    refused: Callable[[Reply], str | None] | None = None,
    limits: Limits | None = None,
) -> DeclaredReplies:
    """Replies on ``label``'s discussions: ``read`` one by its id, ``send`` a reply on it
    (a text: why it was not sent), ``messages`` its messages as the inbox maps them;
    ``refused``, ``limits``: as ``DeclaredReplies`` takes them."""

    async def post(reply: Reply) -> str | None:
        return await send(await read(reply.thread.id), reply)

    async def listed(discussion_id: str) -> Sequence[InboxMessage]:
        return await messages(await read(discussion_id))

    return DeclaredReplies(
        label, discussion, post=post, listed=listed, refused=refused, limits=limits
    )


@dataclass(frozen=True)
class DeclaredReplies:
    """Replies on ``label``'s threads (what it calls one: ``discussion``): ``post`` sends
    one, its text as carried (a ``RequestRefused``: refused; a text: why it was not sent);
    ``listed`` reads a discussion's messages back (404: one it does not know), or
    ``read_back`` the seller's on a thread since a moment; ``threads``: the kinds of thread
    a reply goes on, ``recipients``: whom it may go to (empty: anyone), ``limits``: its
    text's and files' (None: not checked), ``is_id``: a thread id's form, ``refused``: what
    else the marketplace refuses in a reply, ``carried``: a reply's text as its messages
    carry it (None: as written), ``dated_to``: how coarse the dates it lists are."""

    label: str
    discussion: str
    _: KW_ONLY
    post: Callable[[Reply], Awaitable[str | None]]
    listed: Callable[[str], Awaitable[Sequence[InboxMessage]]] | None = None
    read_back: Callable[[ThreadKey, datetime], Awaitable[Sequence[InboxMessage]]] | None = None
    threads: frozenset[str] = frozenset({"DISCUSSION"})
    recipients: tuple[Recipient, ...] = ()
    limits: Limits | None = None
    is_id: Callable[[str], bool] = bool
    refused: Callable[[Reply], str | None] | None = None
    carried: Callable[[str], str] | None = None
    dated_to: timedelta = timedelta(0)

    # What a connector's replies are built with: replies on a discussion read first
    # (``read_first``), a reply's files against its limits (``refused_files``), the parties
    # a discussion offers a reply to (``offered_parties``).
    read_first = staticmethod(read_first)
    refused_files = staticmethod(refused_files)
    offered_parties = staticmethod(offered_parties)

    @classmethod
    def on_threads(
        cls,
        declared: Discussions,
        label: str,
        discussion: str,
        limits: Limits,
        post: Callable[[Reply], Awaitable[str | None]],
        read_back: Callable[[ThreadKey, datetime], Awaitable[Sequence[InboxMessage]]],
    ) -> DeclaredReplies:
        """Replies on the threads ``declared`` names, to its recipients, their text as its
        messages carry it, read back by date."""
        return cls(
            label,
            discussion,
            post=post,
            read_back=read_back,
            threads=declared.threads,
            recipients=declared.recipients,
            limits=limits,
            carried=declared.carried,
        )

    def __post_init__(self) -> None:
        if (self.listed is None) == (self.read_back is None):
            raise TypeError(f"{self.label}'s replies are read back by listed or read_back")

    async def reply(self, reply: Reply) -> ReplyOutcome:
        if self.carried is not None:
            reply = msgspec.structs.replace(reply, body=self.carried(reply.body))
        if problem := self.unsendable(reply):
            return failed_reply(problem)
        try:
            refused = await self.post(reply)
        except RequestRefused as exc:
            return failed_reply(str(exc))
        return failed_reply(refused) if refused else ReplyOutcome(status="SENT")

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        if thread.kind not in self.threads:
            return []
        if self.read_back is not None:
            return list(await self.read_back(thread, since))
        assert self.listed is not None  # one of the two, checked when declared
        try:
            messages = await self.listed(thread.id)
        except CallRefused as exc:
            if exc.status == 404:
                return []
            raise
        return sent_since(messages, since - self.dated_to)

    def unsendable(self, reply: Reply) -> str | None:
        """Why the marketplace would refuse this reply, read from it alone (None: none)."""
        if reply.thread.kind not in self.threads:
            return (
                f"{self.label}'s replies go to a {self.discussion}, not to an {reply.thread.kind}"
            )
        if self.recipients and reply.recipient not in self.recipients:
            return f"{self.label}'s replies go to {' or '.join(self.recipients)}, not {reply.recipient}"
        if self.limits is not None and (problem := self._beyond(self.limits, reply)):
            return problem
        if not self.is_id(reply.thread.id):
            return f"{reply.thread.id!r} is not a {self.label} {self.discussion}"
        return self.refused(reply) if self.refused is not None else None

    def _beyond(self, limits: Limits, reply: Reply) -> str | None:
        if not reply.body.strip():
            return "empty reply"
        if len(reply.body) > limits.max_text_length:
            return f"reply longer than {limits.max_text_length} characters"
        return refused_files(limits, reply.attachments, self.label)


# --- conversations, kind after kind -------------------------------------------------------
# An inbox of conversations listed kind after kind (a marketplace that lists its
# members' conversations apart from its own), page by page by offset: the seam's
# ``ThreadsInbox``, declared (``Conversations``). A listing's window starts at its first
# page's ``since`` and has no end; each kind is listed whole, then the next. A conversation
# whose last change is before the window is skipped unread; the others are read whole
# (``messages``) and their messages from the window's start on kept. The cursor (the kind,
# the next page's offset, the window's start) is the engine's, as are the read marks: the
# marketplace marks a conversation read, so the listing remembers which conversation of
# which kind each message it gave came from (that listing's only), and ``mark_read`` marks
# each conversation once; a message no listing gave, or whose conversation the marketplace
# refused to mark, is counted refused. What a listing needs to look up once (the seller's
# recent orders) is a ``Conversations.PerListing``, read when first needed and dropped at the next
# listing's first page.

C = TypeVar("C")  # a conversation as listed


class ListedAt(msgspec.Struct, array_like=True, frozen=True):
    """A listing's place: the kind of conversation listed, the next page's offset and
    the window's start (the layout a connector's own cursors had, so that stored ones
    still decode)."""

    kind: str
    offset: int
    low: datetime


# One page of a kind's listing: (kind, offset, the window's start or None where the kind
# takes no time filter) → the page's raw items and whether a next page follows.
PageOf = Callable[[str, int, datetime | None], Awaitable[tuple[list[Any], bool]]]


class Conversations(ThreadsInbox, Generic[C]):
    """``kinds``: listed in this order; ``page``: one page of a kind's listing (``size``
    conversations); ``read``: a page's conversations, and why each other could not be
    read; ``conversation_id`` and ``last_change`` (None: unknown, read it); ``messages``:
    a conversation's messages, read whole (its kind given); ``mark``: marks one
    conversation of a kind read; ``files``: a message's file; ``lookups``: what each
    listing looks up once."""

    @dataclass(frozen=True)
    class Kind:
        """One kind of conversation the marketplace lists apart: its name in the listing's
        query, and whether that listing filters by the window's start (``windowed``) or lists
        them all (their last change then decides)."""

        name: str
        windowed: bool = True

    class PerListing(Generic[T]):
        """What a listing looks up once, when first needed (``fetch``); where the marketplace
        refuses it, ``fallback`` and a warning naming ``what``: the messages come without it."""

        def __init__(self, fetch: Callable[[], Awaitable[T]], fallback: T, what: str) -> None:
            self._fetch = fetch
            self._fallback = fallback
            self._what = what
            self._found: tuple[T] | None = None

        def drop(self) -> None:
            self._found = None

        async def get(self) -> T:
            if self._found is None:
                try:
                    self._found = (await self._fetch(),)
                except CallRefused as exc:
                    log.warning("%s could not be read: %s", self._what, exc)
                    self._found = (self._fallback,)
            return self._found[0]

    def __init__(
        self,
        kinds: Sequence[Conversations.Kind],
        page: PageOf,
        read: Callable[[list[Any]], tuple[Sequence[C], Sequence[str]]],
        *,
        size: int,
        conversation_id: Callable[[C], str],
        last_change: Callable[[C], datetime | None],
        messages: Callable[[C, str], Awaitable[Sequence[InboxMessage]]],
        mark: Callable[[str, str], Awaitable[object]],
        files: Callable[[InboxFile, int], Awaitable[bytes]],
        lookups: Sequence[Conversations.PerListing[Any]] = (),
    ) -> None:
        self.kinds = {kind.name: kind for kind in kinds}
        self.order = [kind.name for kind in kinds]
        self.page = page
        self.read = read
        self.size = size
        self.conversation_id = conversation_id
        self.last_change = last_change
        self.messages_of = messages
        self.mark = mark
        self.files = files
        self.lookups = lookups
        # message id → (its conversation, its kind), for the current listing's messages
        # only (made anew at its first page), not every message the session ever read.
        self.conversations: dict[str, tuple[str, str]] = {}

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        if cursor is None:
            at = ListedAt(self.order[0], 0, as_utc(since))
            self.conversations = {}
            for lookup in self.lookups:
                lookup.drop()
        else:
            at = state_of(cursor, ListedAt, lambda a: a.offset >= 0 and a.kind in self.kinds)
        windowed = self.kinds[at.kind].windowed
        raw, more = await self.page(at.kind, at.offset, at.low if windowed else None)
        found, unreadable = self.read(raw)
        items: list[InboxMessage] = []
        for conversation in found:
            last = self.last_change(conversation)
            if last is not None and as_utc(last) < at.low:
                continue
            conversation_id = self.conversation_id(conversation)
            for message in await self.messages_of(conversation, at.kind):
                if message.created_at >= at.low:
                    items.append(message)
                    self.conversations[message.message_id] = (conversation_id, at.kind)
        following = self._following(at, more)
        return Page(
            items=tuple(items),
            next_cursor=cursor_of(following) if following else None,
            unreadable=tuple(unreadable),
        )

    def _following(self, at: ListedAt, more: bool) -> ListedAt | None:
        """The next page of this kind, else the next kind's first, else none."""
        if more:
            return ListedAt(at.kind, at.offset + self.size, at.low)
        after = self.order.index(at.kind) + 1
        return ListedAt(self.order[after], 0, at.low) if after < len(self.order) else None

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        """Each listed message's conversation marked read once; how many messages were
        refused (never listed, or their conversation's mark refused)."""
        wanted = list(dict.fromkeys(message_ids))
        refused_conversations: set[tuple[str, str]] = set()
        for conversation in dict.fromkeys(
            self.conversations[m] for m in wanted if m in self.conversations
        ):
            try:
                await self.mark(*conversation)
            except CallRefused:  # e.g. a conversation the marketplace lost
                refused_conversations.add(conversation)
        return sum(
            1
            for m in wanted
            if m not in self.conversations or self.conversations[m] in refused_conversations
        )

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        return await self.files(file, max_bytes)
