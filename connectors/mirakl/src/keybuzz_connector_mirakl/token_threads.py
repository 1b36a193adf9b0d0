"""An inbox of threads the marketplace lists by last update from a date it is given, with
no end (it takes none), each next page by its token (``SeekToken``): the seam's
``ThreadsInbox``, declared. The marketplace's clock decides where a listing is complete: a
listing is complete until the newest update it read (threads updated at that instant come
again; the poller drops the messages it has), and one that read no thread until a moment
before it was asked on our clock (``idle_margin``: for the marketplace's clock being
behind ours), never before ``since`` — from ``since``, every poll of an idle shop would ask
for the same span, for ever. Each page's threads are made whole and mapped
(``thread_page``); read marks and files are the connector's, declared."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from keybuzz_shared.connectors.kit import (
    Fetch,
    Listing,
    Read,
    ReadMarks,
    SeekToken,
    Unmarked,
    thread_page,
)
from keybuzz_shared.connectors.seam import InboxFile, InboxMessage, Page, ThreadsInbox
from keybuzz_shared.times import as_utc

T = TypeVar("T")  # a thread as listed


class TokenThreads(ThreadsInbox, Generic[T]):
    """``updated``: a thread's last update on the marketplace's clock; ``query`` and
    ``fetch``: the listing's first page (its window's start) and its call, a next page
    asked by ``token_param`` alone; ``read``: a page's threads read; ``whole``: a thread
    with all its messages (as listed, or read again); ``mapped``: a thread's messages;
    ``named``: a thread as ``unreadable`` names it; ``files``, ``marks``: the inbox's
    files and read marks; ``now``: our clock."""

    def __init__(
        self,
        updated: Callable[[T], datetime],
        query: Callable[[datetime, datetime | None], dict[str, str]],
        fetch: Fetch[str | None],
        read: Read[T],
        *,
        whole: Callable[[T], Awaitable[T]],
        mapped: Callable[[T], Sequence[InboxMessage]],
        named: Callable[[T], str],
        files: Callable[[InboxFile, int], Awaitable[bytes]],
        marks: ReadMarks | Unmarked | None = None,
        token_param: str = "page_token",
        idle_margin: timedelta = timedelta(minutes=1),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.updated = updated
        paging = SeekToken[T](lambda thread: as_utc(updated(thread)), token_param=token_param)
        self.listing: Listing[T, Any, Any] = Listing(paging, query, fetch)
        self.read = read
        self.whole = whole
        self.mapped = mapped
        self.named = named
        self.files = files
        self.marks = marks or Unmarked()
        self.idle_margin = idle_margin
        self.now = now

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        if cursor is None:
            state = self.listing.start(since, None, updated=True)
        else:
            state = self.listing.resume(cursor, updated=True)
        asked = self.now()
        step = await self.listing.step(state, self.read)
        # The newest update of every page read, this one's too: pages need not be in order.
        listed = [as_utc(self.updated(thread)) for thread in step.items]
        newest = max([*listed, *([state.newest] if state.newest else [])], default=None)
        idle = max(as_utc(since), as_utc(asked) - self.idle_margin)
        return await thread_page(
            step, self.whole, self.mapped, self.named, complete_until=newest or idle
        )

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return await self.marks.mark_read(message_ids)

    async def messages_in(self, thread: T) -> list[InboxMessage]:
        """The thread's messages as a page maps them (a reply's read-back)."""
        return list(self.mapped(thread))

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        return await self.files(file, max_bytes)
