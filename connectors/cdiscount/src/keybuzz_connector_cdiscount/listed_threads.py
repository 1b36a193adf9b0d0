"""An inbox of threads listed by their last change, each with its messages (a seller's
discussions): the seam's ``ThreadsInbox``, declared. A listing reads the window [since,
now], fixed at its first page (``reach``: how far back the marketplace searches at most;
a ``since`` further back starts there, said in the log), page after page by the
connector's ``Listing``; each page's threads are made whole and mapped (``thread_page``),
and a page that read no thread ends the listing (nothing to seek from). Read marks and
files are the connector's, declared: ``ReadMarks`` (or ``Unmarked``) and ``files_under``,
a file fetched with the shop's token only under the API's own address for files."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import httpx
from keybuzz_shared.connectors.kit import (
    Listing,
    Read,
    ReadMarks,
    Requester,
    Unmarked,
    iso_z,
    thread_page,
)
from keybuzz_shared.connectors.seam import InboxFile, InboxMessage, Page, ThreadsInbox
from keybuzz_shared.file_links import LinkRefused
from keybuzz_shared.times import as_utc

T = TypeVar("T")  # a thread as listed

log = logging.getLogger(__name__)

# A page's threads mapped: made once a page, where the mapping needs what a call gives
# (the marketplace's labels of its codes).
Mapper = Callable[[], Awaitable[Callable[[T], Sequence[InboxMessage]]]]


def files_under(
    client: Requester, prefix: str, refusal: str
) -> Callable[[InboxFile, int], Awaitable[bytes]]:
    """A message's file fetched with the shop's credentials, only at an address under
    ``prefix`` (LinkRefused with ``refusal`` for another)."""

    async def fetch(file: InboxFile, max_bytes: int) -> bytes:
        if not url_under(file.url, prefix):
            raise LinkRefused(refusal)
        return await client.get_bytes(file.url, max_bytes)

    return fetch


class ListedThreads(ThreadsInbox, Generic[T]):
    """``listing`` and ``read``: the threads changed in a window; ``whole``: a thread with
    all its messages (as listed, or read again); ``mapper``: the page's mapping of a
    thread to its messages; ``named``: a thread as ``unreadable`` names it; ``marks``,
    ``files``: the inbox's read marks and files; ``label``: the marketplace in the log;
    ``now``: the clock a listing's window ends at."""

    def __init__(
        self,
        listing: Listing[T, Any, Any],
        read: Read[T],
        *,
        whole: Callable[[T], Awaitable[T]],
        mapper: Mapper[T],
        named: Callable[[T], str],
        marks: ReadMarks | Unmarked,
        files: Callable[[InboxFile, int], Awaitable[bytes]],
        reach: timedelta | None = None,
        label: str = "the marketplace",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.listing = listing
        self.read = read
        self.whole = whole
        self.mapper = mapper
        self.named = named
        self.marks = marks
        self.files = files
        self.reach = reach
        self.label = label
        self.now = now

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        if cursor is not None:
            state = self.listing.resume(cursor, updated=True)
        else:
            state = self._start(since)
        step = await self.listing.step(state, self.read)
        messages = await self.mapper()
        if not step.items:  # no thread read: nothing to seek from, the listing ends
            step = dataclasses.replace(step, items=(), following=None)
        return await thread_page(step, self.whole, messages, self.named, complete_until=state.high)

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return await self.marks.mark_read(message_ids)

    async def messages_in(self, thread: T) -> list[InboxMessage]:
        """The thread's messages as a page maps them (a reply's read-back)."""
        return list((await self.mapper())(thread))

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        return await self.files(file, max_bytes)

    def _start(self, since: datetime) -> Any:
        until, low = as_utc(self.now()), as_utc(since)
        if self.reach is not None and low < until - self.reach:
            log.info(
                "%s searches so far back at most: the listing starts later",
                self.label,
                extra={"since": iso_z(low), "from": iso_z(until - self.reach)},
            )
            low = until - self.reach
        return self.listing.start(low, until, updated=True)


def url_under(url: str, prefix: str) -> bool:
    """``url`` names something under ``prefix`` once resolved as the HTTP client resolves
    it: ``files/../orders`` is ``/orders`` (where a shop's token goes with the request; a
    dot segment in any other spelling is refused for every link, ``file_links``)."""
    try:
        resolved = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return str(resolved).startswith(prefix)
