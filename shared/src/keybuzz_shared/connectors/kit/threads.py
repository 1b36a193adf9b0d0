"""Threads: the kit's inboxes, their read marks and shown details, and declared replies."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from keybuzz_shared.connectors.kit.auth import CallErrors
from keybuzz_shared.connectors.kit.json_answers import iso_z, segment
from keybuzz_shared.connectors.kit.listing import Listing, Lookup, PageRead, Read
from keybuzz_shared.connectors.kit.requester import Requester
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

# Why the marketplace would refuse a reply on a thread standing so, in an agent's words.
Gate = Callable[[Reply, ThreadStanding, datetime], str | None]


@dataclass(frozen=True)
class Discussions:
    """Whom a reply goes to and where it is refused. ``carried``: a reply's text as messages
    carry it (XML holds no control character); ``buyer_opener``: where the marketplace
    names the buyer rather than its staff; ``gate``: the seam's ``ReplyGate``."""

    recipients: tuple[Recipient, ...]
    support_sender: str
    claim_subject: str
    threads: frozenset[str] = frozenset({"DISCUSSION"})
    carried: Callable[[str], str] | None = None
    codes: Callable[[str], tuple[str, ...]] | None = None
    buyer_opener: str = ""
    gate: Gate | None = None


# --- at once: a few calls in flight, never a burst against a rate limit ---------------------

T = TypeVar("T")
R = TypeVar("R")
AT_ONCE = 4  # an inbox's calls in flight: its details read, its messages marked


async def at_once(limit: int, items: Iterable[T], call: Callable[[T], Awaitable[R]]) -> list[R]:
    """Results in the items' order; the first failure cancels the rest and is raised."""
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


class Unmarked:
    """The read marks of an inbox whose marketplace has none for sellers."""

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return 0


@dataclass(eq=False)  # marks are themselves, whatever their parts
class ReadMarks:
    """One call a message (marking twice does nothing more), those marked skipped, within
    ``budget`` seconds: past it ``CallUnavailable``, the rest left to the next poll, so a
    burst never holds a poll past its deadline."""

    KEPT: ClassVar[int] = 10_000  # ids remembered

    mark: Callable[[str], Awaitable[object]]
    errors: CallErrors
    operation: str
    _: KW_ONLY
    budget: float | None = None
    # The ids this session marked read, oldest first.
    _marked: dict[str, None] = field(default_factory=dict, init=False)

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        todo = [i for i in dict.fromkeys(message_ids) if i not in self._marked]

        async def refused(message_id: str) -> bool:
            try:
                await self.mark(message_id)
            except (CallRefused, ValueError):  # e.g. a message the marketplace lost
                return True
            self._marked[message_id] = None
            if len(self._marked) > self.KEPT:
                del self._marked[next(iter(self._marked))]
            return False

        try:
            async with asyncio.timeout(self.budget):
                done = await at_once(AT_ONCE, todo, refused)
        except TimeoutError:
            left = sum(1 for i in todo if i not in self._marked)
            raise self.errors.unavailable(
                self.operation, f"{left} messages left to mark read after {self.budget:g} s"
            ) from None
        return sum(done)


# Where each detail is a call of its own, an item is read again only when its last change
# moved, once its reading is known stored (a later listing starts later). Until then a poll
# may have failed to store it: read again at the next listing, then ever further apart
# (1, 2, 4 … ``max_gap``), so a failed poll is made good at once and a quiet shop's items
# cost a few calls an hour.

K = TypeVar("K", bound=Hashable)


@dataclass
class _Pending:
    last: datetime
    since: datetime
    gap: int = 0
    skips: int = 0


class Rereads(Generic[K]):
    def __init__(self, *, kept: int = 20_000, max_gap: int = 64) -> None:
        self._kept = kept
        self._max_gap = max_gap
        self._read: dict[K, datetime] = {}  # item -> its last change read and known stored
        self._pending: dict[K, _Pending] = {}  # item -> its reading not yet known stored

    def confirm(self, since: datetime) -> None:
        """Listings that started before ``since`` are stored: the poller moved past them."""
        for key, pending in list(self._pending.items()):
            if pending.since < since:
                del self._pending[key]
                self._read.pop(key, None)
                self._read[key] = pending.last
        while len(self._read) > self._kept:
            del self._read[next(iter(self._read))]

    def worth_reading(self, key: K, last: datetime, since: datetime) -> bool:
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


# Items read in turn of last change (docs/ARCHITECTURE.md, ``ReadInTurn``); the cursor is
# the queue: ids (text kept as written: leading zeros) and last changes. It is held by one
# poll only (the poller keeps a shop's ``since``, never a page's cursor): none is stored.

S = TypeVar("S")  # an item as the listing names it
D = TypeVar("D")  # an item as its own call reads it

ItemId = int | str  # an item's id as the listing gives it
Queue = list[tuple[ItemId, datetime | None]]  # items still to read: id, last change (or none)
_UNDATED = 0  # an undated item's place in turn: first


@dataclass(eq=False)  # an inbox is itself, whatever its parts
class ReadInTurn(Unmarked, ThreadsInbox, Generic[S, T]):
    """``item``: each listed one read (by the id ``changed`` gives, as text);
    ``from_since``: where the list dates nothing (a to-do list), how long before ``since``
    messages are kept, and the newest (it carries the thread's state)."""

    @dataclass(frozen=True)
    class Item(Generic[D]):
        """A listed item whose messages are read by a call of its own, for the inbox that reads
        it in turn and for the replies that read it back. ``read``: CallRefused, the item
        unreadable (404: none); ``valid``: an id of it (another refused, unasked)."""

        read: Callable[[str], Awaitable[D]]
        messages: Callable[[D], Sequence[InboxMessage]]
        named: str
        _: KW_ONLY
        valid: Callable[[str], bool] = bool
        unreadable_in: Callable[[D], Sequence[str]] = lambda _item: ()
        files: Callable[[InboxFile, int], Awaitable[bytes]] | None = None

        @classmethod
        def at(
            cls,
            client: Requester,
            path: str,
            read: Callable[[Any], D],
            messages: Callable[[D], Sequence[InboxMessage]],
            named: str,
            *,
            valid: Callable[[str], bool] = bool,
            operation: str = "",
            params: Mapping[str, str] | None = None,
        ) -> ReadInTurn.Item[D]:
            """Each read by ``GET <path>/<id>`` (``item_at``), its files fetched by ``client``."""
            call = f"GET {path.strip('/')}/{{id}}"
            one = partial(
                item_at, client, path, read=read, call=call, valid=valid, operation=operation
            )
            files = lambda file, most: client.get_bytes(file.url, most)  # noqa: E731
            return cls(partial(one, params=params), messages, named, valid=valid, files=files)

        async def messages_of(self, item_id: str) -> list[InboxMessage]:
            return list(self.messages(await self.read(item_id)))

        def replies(
            self, label: str, post: Callable[[Reply], Awaitable[str | None]], **options: Any
        ) -> DeclaredReplies:
            """Replies on the item (an id not ``valid`` refused), each read back on it."""
            return DeclaredReplies(
                label, self.named, post=post, listed=self.messages_of, is_id=self.valid, **options
            )

    listing: Listing[S, Any, Any]
    read: Read[S]
    changed: Callable[[S], tuple[ItemId, datetime | None]]
    _: KW_ONLY
    item: ReadInTurn.Item[T]
    page_size: int
    from_since: timedelta | None = None
    ledger: Rereads[ItemId] = field(default_factory=Rereads, init=False)

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        unreadable: list[str] = []
        if cursor is None:
            queue, left_out = await self._queue(as_utc(since))
            unreadable += left_out
        else:
            queue = state_of(cursor, Queue, lambda pairs: bool(pairs) and all(map(_an_id, pairs)))
        batch, rest = queue[: self.page_size], queue[self.page_size :]
        found: list[InboxMessage] = []
        read = await at_once(AT_ONCE, [item_id for item_id, _ in batch], self._details)
        for (item_id, last), item in zip(batch, read, strict=True):
            if isinstance(item, CallRefused):  # e.g. an item the marketplace lost
                unreadable.append(f"{self.item.named} {item_id}: {item}")
            else:
                found += self._kept(self.item.messages(item), last, as_utc(since))
                unreadable += self.item.unreadable_in(item)
        return Page(
            items=tuple(sorted(found, key=lambda m: m.created_at)),
            next_cursor=cursor_of(rest) if rest else None,
            unreadable=tuple(unreadable),
        )

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        if self.item.files is None:
            raise FileUnavailable(404)
        return await self.item.files(file, max_bytes)

    @staticmethod
    def thread_messages(
        thread: ThreadKey,
        said: Iterable[tuple[str, SenderType, str | None, str, datetime]],
        *,
        files: Iterable[tuple[InboxFile, datetime]] = (),
        files_of: Mapping[str, Sequence[InboxFile]] | None = None,
        waiting: bool | datetime = True,
        opened: datetime | None = None,
        **shared: Any,
    ) -> list[InboxMessage]:
        """``said``: (id, sender, name, text, time); ``files`` hung on the thread go with the
        last message up to their upload (the first for an earlier one), ``files_of`` a
        message's with it; while ``waiting``, since the buyer's first message after the
        seller's last (else ``opened``), or since the moment the marketplace says."""
        ordered = sorted(said, key=lambda m: as_utc(m[4]))  # ties kept in the given order
        last_ours = max((i for i, m in enumerate(ordered) if m[1] == "SELLER"), default=-1)
        buyers = [as_utc(m[4]) for m in ordered[last_ours + 1 :] if m[1] == "BUYER"]
        since = (buyers[0] if buyers else _utc(opened)) if waiting else None
        if isinstance(waiting, datetime):
            since = as_utc(waiting)
        hung = {message_id: list(given) for message_id, given in (files_of or {}).items()}
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
        if last is not None:
            return [m for m in messages if m.created_at <= last]
        if self.from_since is None or not messages:
            return list(messages)
        low, newest = since - self.from_since, max(reversed(messages), key=lambda m: m.created_at)
        return [m for m in messages if m.created_at >= low or m is newest]

    async def _queue(self, since: datetime) -> tuple[Queue, tuple[str, ...]]:
        self.ledger.confirm(since)
        every = await self.listing.every(self.listing.start(since, None, updated=True), self.read)
        listed = sorted(
            ((i, _utc(last)) for i, last in map(self.changed, every.items)),
            key=lambda item: (_UNDATED if item[1] is None else item[1].timestamp(), item[0]),
        )
        worth = [(i, t) for i, t in listed if t is None or self.ledger.worth_reading(i, t, since)]
        return worth, every.unreadable

    async def _details(self, item_id: ItemId) -> T | CallRefused:
        try:
            return await self.item.read(str(item_id))
        except CallRefused as refused:
            return refused


def _utc(last: datetime | None) -> datetime | None:
    return None if last is None else as_utc(last)


def _an_id(pair: tuple[ItemId, datetime | None]) -> bool:
    item_id = pair[0]
    return item_id > 0 if isinstance(item_id, int) else item_id.isprintable() and bool(item_id)


# How far a window is complete (the poller's next ``since``): docs/ARCHITECTURE.md,
# ``ListedThreads``; without an end and having read none, a moment before it was asked.
IDLE_MARGIN = timedelta(minutes=1)


@dataclass(eq=False)  # an inbox is itself, whatever its parts
class ListedThreads(ThreadsInbox, Generic[T]):
    """Threads listed by last change, each with its messages, mapped by a ``mapper`` made
    once a page (it may need a call); its options: docs/ARCHITECTURE.md, ``ListedThreads``."""

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
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    since_only: bool = False
    lookups: Sequence[Lookup[Any]] = ()
    mark_thread: Callable[[T], Awaitable[object]] | None = None
    _listed: dict[str, T] = field(default_factory=dict, init=False)  # this listing's: id → thread

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        since, asked = as_utc(since), as_utc(self.now())
        if cursor is not None:
            state = self.listing.resume(cursor, updated=True)
        else:
            state = self.listing.start(*self._window(since, asked), updated=True)
            self._listed = {}
            for lookup in self.lookups:
                lookup.drop()
        step = await self.listing.step(state, self.read)
        if self.updated is None:
            complete_until = state.high
            if not step.items and self.listing.paging.empty_page_ends:
                step = PageRead((), step.unreadable, None)
        else:  # the newest update of every page read, this one's too (pages need not be in order)
            listed = [as_utc(self.updated(thread)) for thread in step.items]
            newest = max([*listed, *([state.newest] if state.newest else [])], default=None)
            complete_until = newest or max(since, asked - IDLE_MARGIN)
        return await self._page(step, complete_until, state.low)

    async def _page(
        self, step: PageRead[T, Any], complete_until: datetime, low: datetime
    ) -> Page[InboxMessage]:
        unreadable = list(step.unreadable)
        found: list[InboxMessage] = []
        messages = await self.mapper()
        for thread in step.items:
            whole = thread if self.complete(thread) else await self.read_whole(thread)
            try:
                kept = [m for m in messages(whole) if not self.since_only or m.created_at >= low]
            except ValueError as exc:
                unreadable.append(f"{self.named(thread)}: {exc}")
                continue
            found += kept
            if self.mark_thread is not None:
                self._listed |= dict.fromkeys((m.message_id for m in kept), whole)
        return PageRead(tuple(found), tuple(unreadable), step.following).page(complete_until)

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
        if self.mark_thread is None:
            return await self.marks.mark_read(message_ids)
        threads = [self._listed.get(m) for m in dict.fromkeys(message_ids)]
        names = [None if t is None else self.named(t) for t in threads]
        refused: set[str | None] = {None}  # None: a message this listing never gave
        for name, thread in dict(zip(names, threads, strict=True)).items():
            if thread is None:
                continue
            try:
                await self.mark_thread(thread)
            except CallRefused:  # e.g. a thread the marketplace lost
                refused.add(name)
        return sum(1 for name in names if name in refused)

    async def messages_in(self, thread: T) -> list[InboxMessage]:
        return list((await self.mapper())(thread))

    def read_first(
        self,
        label: str,
        discussion: str,
        read: Callable[[str], Awaitable[T]],
        send: Callable[[T, Reply], Awaitable[str | None]],
        **options: Any,
    ) -> DeclaredReplies:
        """Replies on a thread read first (whom a reply may go to, whether it is open): one
        ``read`` (by id) serves the ``send`` and the read-back, mapped as the pages are."""

        async def post(reply: Reply) -> str | None:
            return await send(await read(reply.thread.id), reply)

        async def listed(thread_id: str) -> list[InboxMessage]:
            return await self.messages_in(await read(thread_id))

        return DeclaredReplies(label, discussion, post=post, listed=listed, **options)

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        return await self.files(file, max_bytes)


P = TypeVar("P")  # a party a reply may go to


def offered_parties(
    kinds: Mapping[Recipient, tuple[str, ...]],
    recipient: Recipient,
    offered: Sequence[P],
    kind: Callable[[P], str],
) -> list[P] | None:
    """The parties of ``offered`` a reply to ``recipient`` goes to; None unless the
    discussion offers each of its ``kinds`` (a reply to ALL needs the buyer and the
    customer care both)."""
    wanted = kinds.get(recipient, ())
    chosen = [party for party in offered if kind(party) in wanted]
    if not wanted or {kind(party) for party in chosen} != set(wanted):
        return None
    return chosen


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
    """``<path>/<id>`` read by ``read``; an id not ``valid`` or no path segment is refused
    as the marketplace refuses an unknown one (404), unasked; an answer ``read`` refuses
    (ValueError) is unreadable, naming ``call``."""
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


def media_type_of(*names: str) -> str:
    """The first of ``names`` the platform's table knows (else octet-stream)."""
    known = (mimetypes.guess_type(name)[0] for name in names)
    return next((found for found in known if found), "application/octet-stream")


def labelled(code: str | None, labels: Mapping[str, str]) -> str | None:
    """``code`` by its label, else as it is: a code added later is shown, never lost."""
    return (labels.get(code) or code) if code else None


def shown(*details: tuple[str, str, str | None]) -> tuple[ThreadDetail, ...]:
    """Each (name, label, value) with a value, as a ticket shows it, in the order given."""
    return tuple(ThreadDetail(name=name, label=label, value=v) for name, label, v in details if v)


# --- reply files: checked here too, as a reply queued before a limit changed meets it ----


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
    """The first rule the files break, in words; ``accepted``: a file's format taken
    (default: among ``limits.attachment_formats``, any if none)."""
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


# A reply the marketplace would refuse is a FAILED outcome without a call; whatever else the
# call raises goes up (unavailable: nothing sent; outcome unknown: read back first).


@dataclass(frozen=True)
class DeclaredReplies:
    """``post``: a ``RequestRefused`` or a text is the reply refused; read back by
    ``listed`` (a discussion's messages, 404: none) or ``read_back`` (the seller's since a
    moment); ``dated_to``: how coarse the listed dates are."""

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

    refused_files = staticmethod(refused_files)
    offered_parties = staticmethod(offered_parties)

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
        if reply.thread.kind not in self.threads:
            return (
                f"{self.label}'s replies go to a {self.discussion}, not to an {reply.thread.kind}"
            )
        if self.recipients and reply.recipient not in self.recipients:
            return f"{self.label}'s replies go to {' or '.join(self.recipients)}, not {reply.recipient}"
        if (limits := self.limits) is not None:
            if not reply.body.strip():
                return "empty reply"
            if len(reply.body) > limits.max_text_length:
                return f"reply longer than {limits.max_text_length} characters"
            if problem := refused_files(limits, reply.attachments, self.label):
                return problem
        if not self.is_id(reply.thread.id):
            return f"{reply.thread.id!r} is not a {self.label} {self.discussion}"
        return self.refused(reply) if self.refused is not None else None
