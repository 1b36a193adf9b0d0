"""The kit's conversations engine (``Conversations``): kinds of conversation listed in
turn, page by page by offset, the cursor and the read marks the engine's, what a listing
looks up once (the kit's ``Listing.Lookup``, dropped at each listing). No servers: the
marketplace is the test's own table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from keybuzz_shared.connectors.kit import KitSession, Listing
from keybuzz_shared.connectors.seam import (
    CallRefused,
    InboxFile,
    InboxMessage,
    ThreadKey,
    cursor_of,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def message(conversation: str, minutes: int) -> InboxMessage:
    return InboxMessage(
        message_id=f"{conversation}-{minutes}",
        thread=ThreadKey("DISCUSSION", conversation),
        sender_type="BUYER",
        sender_name=None,
        subject="s",
        body="b",
        created_at=T0 + timedelta(minutes=minutes),
        unread=True,
    )


class Shop:
    """Conversations by kind (each a name, its last change in minutes, its messages'
    minutes); the pages asked, the conversations marked, the look-ups made kept."""

    def __init__(self, kinds: dict[str, list[tuple[str, int, list[int]]]], size: int) -> None:
        self.kinds, self.size = kinds, size
        self.asked: list[tuple[str, int, datetime | None]] = []
        self.marked: list[tuple[str, str]] = []
        self.refuse_marks: set[str] = set()
        self.lookups = 0
        self.lookup = Listing.Lookup(self.look_up, "none", "the test's look-up")

    async def page(self, kind: str, offset: int, low: datetime | None) -> tuple[list[Any], bool]:
        self.asked.append((kind, offset, low))
        listed = self.kinds[kind]
        return listed[offset : offset + self.size], offset + self.size < len(listed)

    async def messages(self, listed: tuple[str, int, list[int]], kind: str) -> list[InboxMessage]:
        await self.lookup.get()
        return [message(listed[0], m) for m in listed[2]]

    async def mark(self, conversation: str, kind: str) -> None:
        if conversation in self.refuse_marks:
            raise CallRefused("mark", 404, "no such conversation")
        self.marked.append((conversation, kind))

    async def look_up(self) -> str:
        self.lookups += 1
        return "found"

    def inbox(self) -> KitSession.Conversations[tuple[str, int, list[int]]]:
        def read(raw: list[Any]) -> tuple[list[tuple[str, int, list[int]]], list[str]]:
            return [c for c in raw if c[0]], [f"unnamed {c}" for c in raw if not c[0]]

        async def no_file(file: InboxFile, most: int) -> bytes:
            return b""

        return KitSession.Conversations(
            {"MEMBERS": True, "OWN": False},
            self.page,
            read,
            size=self.size,
            conversation_id=lambda c: c[0],
            last_change=lambda c: T0 + timedelta(minutes=c[1]),
            messages=self.messages,
            mark=self.mark,
            files=no_file,
            lookups=(self.lookup,),
        )


async def every_page(inbox: KitSession.Conversations[Any], since: datetime) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = await inbox.inbox_messages(since=since, cursor=cursor)
        pages.append([m.message_id for m in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def test_each_kind_is_listed_whole_in_turn_from_the_windows_start() -> None:
    shop = Shop(
        {
            "MEMBERS": [("a", 10, [5, 10]), ("b", 20, [20]), ("c", 30, [30])],
            "OWN": [("old", 1, [1]), ("e", 40, [2, 40])],
        },
        size=2,
    )
    since = T0 + timedelta(minutes=8)
    pages = await every_page(shop.inbox(), since)
    # a's message before the window is left out, eBay's "old" (its last change before
    # the window) read not at all, e's message before the window left out too
    assert pages == [["a-10", "b-20"], ["c-30"], ["e-40"]]
    assert shop.asked == [("MEMBERS", 0, since), ("MEMBERS", 2, since), ("OWN", 0, None)]
    assert shop.lookups == 1  # once a listing, when first needed


async def test_a_cursor_it_did_not_hand_out_is_refused() -> None:
    inbox = Shop({"MEMBERS": [], "OWN": []}, size=2).inbox()
    for forged in (cursor_of(["ELSEWHERE", 0, T0]), cursor_of(["MEMBERS", -2, T0]), "garbage"):
        with pytest.raises(ValueError, match="not a cursor"):
            await inbox.inbox_messages(since=T0, cursor=forged)


async def test_a_conversation_is_marked_read_once_and_refusals_are_counted() -> None:
    shop = Shop({"MEMBERS": [("a", 10, [5, 10]), ("b", 20, [20])], "OWN": [("e", 40, [40])]}, 5)
    inbox = shop.inbox()
    await every_page(inbox, T0)
    assert await inbox.mark_read(["a-5", "a-10", "e-40"]) == 0
    assert shop.marked == [("a", "MEMBERS"), ("e", "OWN")]  # each conversation once
    shop.refuse_marks.add("b")
    # b's mark refused, "x" never listed: two refused, a marked again (marking twice is
    # harmless)
    assert await inbox.mark_read(["b-20", "x", "a-5"]) == 2
    # a new listing forgets the last one's messages and looks up anew
    await every_page(inbox, T0 + timedelta(minutes=30))
    assert await inbox.mark_read(["a-5"]) == 1
    assert shop.lookups == 2


async def test_a_refused_look_up_gives_its_fallback_and_is_not_asked_again() -> None:
    asked: list[int] = []

    async def refused() -> str:
        asked.append(1)
        raise CallRefused("orders", 403, "no")

    lookup = Listing.Lookup(refused, "fallback", "the orders")
    assert await lookup.get() == "fallback" and await lookup.get() == "fallback"
    assert asked == [1]
    lookup.drop()
    assert await lookup.get() == "fallback" and asked == [1, 1]
