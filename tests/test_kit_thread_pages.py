"""The kit's inbox page of threads listed by last change (kit/threads.py, ``ListedThreads``),
without a server:
each thread made whole before its messages are mapped, a thread whose messages cannot be
mapped costing that thread only (said), and the listing's next state the page's cursor,
the listing complete only on its last page."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.connectors.kit.listing import PageRead, WindowCursor

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Thread(msgspec.Struct, frozen=True):
    id: str
    messages: tuple[str, ...] | None  # None: listed without them


def message(thread: Thread, body: str) -> seam.InboxMessage:
    if body.startswith(".."):
        raise ValueError(f"{body!r} names another path")
    return seam.InboxMessage(
        message_id=f"{thread.id}-{body}",
        thread=seam.ThreadKey(kind="DISCUSSION", id=thread.id),
        sender_type="BUYER",
        sender_name=None,
        subject="",
        body=body,
        created_at=NOW,
        unread=True,
    )


async def test_a_page_reads_each_thread_whole_and_a_bad_one_costs_only_itself() -> None:
    read_again: list[str] = []

    async def whole(thread: Thread) -> Thread:
        read_again.append(thread.id)
        return Thread(thread.id, ("read whole",))

    listed = (Thread("a", ("hello",)), Thread("b", None), Thread("c", ("../orders", "ok")))
    following = WindowCursor(NOW, NOW, None, 2)
    page = await inbox(PageRead(listed, ("thread d off its shape",), following), whole)
    assert [m.message_id for m in page.items] == ["a-hello", "b-read whole"]
    assert read_again == ["b"]
    assert page.unreadable == (
        "thread d off its shape",
        "thread c: '../orders' names another path",
    )
    assert page.next_cursor is not None and page.complete_until is None
    assert seam.state_of(page.next_cursor, WindowCursor, lambda s: True) == following

    last = await inbox(PageRead((), (), None), whole)
    assert last.next_cursor is None and last.complete_until == NOW and last.items == ()


class OnePage:
    """A listing of one page, read in the window [NOW, NOW]."""

    paging = SimpleNamespace(empty_page_ends=True)  # the strategy's flag the inbox reads

    def __init__(self, step: PageRead[Thread, Any]) -> None:
        self.read = step

    def start(self, low: datetime, high: datetime | None, *, updated: bool) -> WindowCursor:
        return WindowCursor(low, high)

    async def step(self, state: WindowCursor, read: Any) -> PageRead[Thread, Any]:
        return self.read


async def inbox(step: PageRead[Thread, Any], whole: Any) -> seam.Page[seam.InboxMessage]:
    async def mapper() -> Any:
        return lambda t: [message(t, body) for body in t.messages or ()]

    async def no_file(file: seam.InboxFile, max_bytes: int) -> bytes:
        return b""

    listed: kit.KitSession.ListedThreads[Thread] = kit.KitSession.ListedThreads(
        OnePage(step),  # type: ignore[arg-type]
        lambda raw: ((), ()),
        complete=lambda t: t.messages is not None,
        read_whole=whole,
        mapper=mapper,
        named=lambda t: f"thread {t.id}",
        files=no_file,
        now=lambda: NOW,
    )
    return await listed.inbox_messages(since=NOW)
