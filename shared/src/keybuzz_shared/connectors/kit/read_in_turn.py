"""An inbox whose listing names what changed and whose messages come only with each item's
details, one call an item (a marketplace's care folders): the seam's ``ThreadsInbox``,
declared. The first page lists every item changed since ``since`` (the connector's
``Listing``, read whole), keeps those worth reading (``Rereads``, where details are
spent with care) and queues them in order of their last change; each page then reads the
details of the next ``page_size`` of them, ``at_once`` calls at a time, in that order, so
that a poll cut between pages has moved the poller's cursor past no message of an item
still to read. A message posted after the list was read waits for the next listing (its
item's last change moved): a page keeps each item's messages up to the last change the
list gave. An item the marketplace refuses is said in the page's ``unreadable``, the
others read; any other failure ends the page. The cursor is the queue still to read:
each item's id (a whole number) and its last change, in seconds (0: the list dates none).

A list of what needs the seller (a to-do list) dates nothing and names an item whatever
its messages' dates: its items are queued in id order, each one's messages kept from
``since`` less ``from_since`` on, and its newest (it carries the thread's state)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from keybuzz_shared.connectors.kit.at_once import at_once
from keybuzz_shared.connectors.kit.listing import Listing, Read
from keybuzz_shared.connectors.kit.read_marks import Unmarked
from keybuzz_shared.connectors.kit.rereads import Rereads
from keybuzz_shared.connectors.seam import (
    CallRefused,
    InboxFile,
    InboxMessage,
    Page,
    ThreadsInbox,
    cursor_of,
    state_of,
)
from keybuzz_shared.times import as_utc

S = TypeVar("S")  # an item as the listing names it
T = TypeVar("T")  # an item's details

Queue = list[tuple[int, datetime | None]]  # items still to read: id, last change (or none)
_UNDATED = 0  # a cursor's last change where the list dates none


def _none(_item: object) -> tuple[str, ...]:
    return ()


class ReadInTurn(Unmarked, ThreadsInbox, Generic[S, T]):
    """``listing`` and ``read``: the items changed since a poll's ``since`` (its window
    from there, without end); ``changed``: a listed item's id and last change;
    ``details``: one item's details (CallRefused: that item refused); ``messages``: its
    messages, ``unreadable_in``: why each of its others could not be read; ``named``: what
    ``unreadable`` calls an item ("care folder"); ``files``: a message's file;
    ``rereads``: the session's ledger, None to read every item listed; ``from_since``:
    where the list dates nothing, how long before ``since`` an item's messages are kept."""

    def __init__(
        self,
        listing: Listing[S, Any, Any],
        read: Read[S],
        changed: Callable[[S], tuple[int, datetime | None]],
        *,
        details: Callable[[int], Awaitable[T]],
        messages: Callable[[T], Sequence[InboxMessage]],
        named: str,
        files: Callable[[InboxFile, int], Awaitable[bytes]],
        page_size: int,
        at_once: int = 4,
        rereads: Rereads[int] | None = None,
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
        self.rereads = rereads
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
        return await self.files(file, max_bytes)

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

    async def _details(self, item_id: int) -> T | CallRefused:
        try:
            return await self.details(item_id)
        except CallRefused as refused:
            return refused


def _created(message: InboxMessage) -> datetime:
    return message.created_at


def _utc(last: datetime | None) -> datetime | None:
    return None if last is None else as_utc(last)


def _in_turn(item: tuple[int, datetime | None]) -> tuple[float, int]:
    """Oldest change first, then by id (an undated list: by id alone)."""
    item_id, last = item
    return (_UNDATED if last is None else last.timestamp(), item_id)


def _cursor_of(queue: Queue) -> str:
    return cursor_of([(i, _UNDATED if t is None else int(t.timestamp())) for i, t in queue])


def _queue_of(cursor: str) -> Queue:
    pairs = state_of(cursor, list[tuple[int, int]], lambda p: bool(p) and all(i > 0 for i, _ in p))
    try:
        return [(i, None if t == _UNDATED else datetime.fromtimestamp(t, UTC)) for i, t in pairs]
    except (ValueError, OverflowError, OSError):
        raise ValueError("not a cursor this connector handed out") from None
