"""eBay's inbox (``inbox``, the kit's ``ListedThreads`` on ``Listing.Kinds``): its kinds of conversation listed in turn, page by page by
offset, its cursor, a conversation marked read once for its messages, the recent orders
looked up once a listing. No servers: the client's calls are the test's own table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from keybuzz_connector_ebay.connector import LIMITS, Conversation, Message, inbox
from keybuzz_shared.connectors.kit import Listing
from keybuzz_shared.connectors.seam import CallRefused, ThreadsInbox, cursor_of

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SIZE = LIMITS.page_size


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def listed(name: str, last: int, kind: str) -> dict[str, Any]:
    latest = {"messageId": f"{name}-{last}", "createdDate": at(last).isoformat()}
    return {"conversationId": name, "conversationType": kind, "latestMessage": latest}


class Client:
    """Conversations by kind (each its id, its last change and its messages' minutes); the
    pages asked, the conversations read and marked, the look-ups made kept."""

    def __init__(self, kinds: dict[str, list[tuple[str, int, list[int]]]]) -> None:
        self.kinds = kinds
        self.asked: list[tuple[str, int]] = []
        self.marked: list[tuple[str, str]] = []
        self.refuse_marks: set[str] = set()
        self.lookups = 0
        self.read: list[str] = []
        self.purchases = Listing.Lookup(self.look_up, {}, "the test's orders")

    async def get_json(self, path: str, query: dict[str, str], *, operation: str) -> Any:
        kind, offset = query["conversation_type"], int(query["offset"])
        assert ("start_time" in query) == (kind == "FROM_MEMBERS")  # eBay's take none
        assert (path, operation) == ("commerce/message/v1/conversation", "getConversations")
        self.asked.append((kind, offset))
        rows = self.kinds[kind]
        page = [listed(name, last, kind) for name, last, _ in rows[offset : offset + SIZE]]
        return {"conversations": page, "next": "more" if offset + SIZE < len(rows) else None}

    async def whole(self, conversation: Conversation) -> Conversation:
        await self.purchases.get()
        name, kind = conversation.conversation_id, conversation.conversation_type
        self.read.append(name)
        said = next(m for n, _, m in self.kinds[kind] if n == name)
        thread = [Message(f"{name}-{minutes}", at(minutes), "b", "buyer") for minutes in said]
        return msgspec.structs.replace(conversation, thread=thread)

    async def username(self) -> str:
        return "seller"

    async def mark(self, conversation: Conversation) -> None:
        if conversation.conversation_id in self.refuse_marks:
            raise CallRefused("updateConversation", 404, "no such conversation")
        self.marked.append((conversation.conversation_id, conversation.conversation_type))

    async def look_up(self) -> dict[str, str]:
        self.lookups += 1
        return {}


async def every_page(inbox: ThreadsInbox, since: datetime) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = await inbox.inbox_messages(since=since, cursor=cursor)
        pages.append([m.message_id for m in page.items])
        if (cursor := page.next_cursor) is None:
            return pages


async def test_each_kind_is_listed_whole_in_turn_and_each_conversation_marked_once() -> None:
    members = [(f"m{i}", 10 + i, [5, 10 + i]) for i in range(SIZE + 1)]
    client = Client(
        {"FROM_MEMBERS": members, "FROM_EBAY": [("old", 1, [1]), ("e", 40, [2, 20, 40])]}
    )
    listed = inbox(client)  # type: ignore[arg-type]  # the test's table answers its calls
    pages = await every_page(listed, at(8))
    # messages before the window left out, "old" (its last change before it) not read
    assert pages[0] == [f"m{i}-{10 + i}" for i in range(SIZE)]
    assert pages[1:] == [[f"m{SIZE}-{10 + SIZE}"], ["e-20", "e-40"]]
    assert client.asked == [("FROM_MEMBERS", 0), ("FROM_MEMBERS", SIZE), ("FROM_EBAY", 0)]
    assert "old" not in client.read and client.lookups == 1  # once a listing, when needed
    with pytest.raises(ValueError, match="not a cursor"):
        await listed.inbox_messages(since=T0, cursor=cursor_of(["ELSEWHERE", 0, T0]))
    # a cursor of the layout before the kit's (kind, offset, window's start) reads on
    older = await listed.inbox_messages(since=T0, cursor=cursor_of(["FROM_EBAY", 0, at(8)]))
    assert [m.message_id for m in older.items] == ["e-20", "e-40"] and older.next_cursor is None

    assert await listed.mark_read(["m0-10", "e-20", "e-40"]) == 0
    assert client.marked == [("m0", "FROM_MEMBERS"), ("e", "FROM_EBAY")]  # each once
    client.refuse_marks.add("m1")
    # m1's mark refused, "x" never listed: two refused
    assert await listed.mark_read(["m1-11", "x", "m0-10"]) == 2
    await every_page(listed, at(40))  # a new listing forgets the last one's messages
    assert await listed.mark_read(["m0-10"]) == 1 and client.lookups == 2
