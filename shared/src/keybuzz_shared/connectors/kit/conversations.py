"""An inbox of conversations listed kind after kind (a marketplace that lists its
members' conversations apart from its own), page by page by offset: the seam's
``ThreadsInbox``, declared (``Conversations``). A listing's window starts at its first
page's ``since`` and has no end; each kind is listed whole, then the next. A conversation
whose last change is before the window is skipped unread; the others are read whole
(``messages``) and their messages from the window's start on kept. The cursor (the kind,
the next page's offset, the window's start) is the engine's, as are the read marks: the
marketplace marks a conversation read, so the listing remembers which conversation of
which kind each message it gave came from (that listing's only), and ``mark_read`` marks
each conversation once; a message no listing gave, or whose conversation the marketplace
refused to mark, is counted refused. What a listing needs to look up once (the seller's
recent orders) is a ``PerListing``, read when first needed and dropped at the next
listing's first page."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import msgspec

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

C = TypeVar("C")  # a conversation as listed
T = TypeVar("T")  # what a listing looks up once

log = logging.getLogger(__name__)


class ListedAt(msgspec.Struct, array_like=True, frozen=True):
    """A listing's place: the kind of conversation listed, the next page's offset and
    the window's start (the layout eBay's cursors had before the engine held them)."""

    kind: str
    offset: int
    low: datetime


@dataclass(frozen=True)
class ConversationKind:
    """One kind of conversation the marketplace lists apart: its name in the listing's
    query, and whether that listing filters by the window's start (``windowed``) or lists
    them all (their last change then decides)."""

    name: str
    windowed: bool = True


# One page of a kind's listing: (kind, offset, the window's start or None where the kind
# takes no time filter) → the page's raw items and whether a next page follows.
PageOf = Callable[[str, int, datetime | None], Awaitable[tuple[list[Any], bool]]]


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


class Conversations(ThreadsInbox, Generic[C]):
    """``kinds``: listed in this order; ``page``: one page of a kind's listing (``size``
    conversations); ``read``: a page's conversations, and why each other could not be
    read; ``conversation_id`` and ``last_change`` (None: unknown, read it); ``messages``:
    a conversation's messages, read whole (its kind given); ``mark``: marks one
    conversation of a kind read; ``files``: a message's file; ``lookups``: what each
    listing looks up once."""

    def __init__(
        self,
        kinds: Sequence[ConversationKind],
        page: PageOf,
        read: Callable[[list[Any]], tuple[Sequence[C], Sequence[str]]],
        *,
        size: int,
        conversation_id: Callable[[C], str],
        last_change: Callable[[C], datetime | None],
        messages: Callable[[C, str], Awaitable[Sequence[InboxMessage]]],
        mark: Callable[[str, str], Awaitable[object]],
        files: Callable[[InboxFile, int], Awaitable[bytes]],
        lookups: Sequence[PerListing[Any]] = (),
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

    async def messages_in(self, conversation: C, kind: str) -> list[InboxMessage]:
        """A conversation's messages (a reply's read-back)."""
        return list(await self.messages_of(conversation, kind))

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        return await self.files(file, max_bytes)
