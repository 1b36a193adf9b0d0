"""The kit's inbox of threads listed by last update with no end, page after page by the
marketplace's token (kit/threads.py, ``ListedThreads`` with ``updated``), without a server: a listing
is complete until the newest update it read, on the marketplace's clock; one that read no
thread until a moment before it was asked, never before ``since``; a next page is asked
by its token alone; a cursor it did not hand out is refused; one thread's messages are
mapped as a page maps them (a reply's read-back)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from keybuzz_shared.connectors.kit import KitSession, Listing
from keybuzz_shared.connectors.seam import InboxFile, InboxMessage, ThreadKey, read_each

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=3)


class Thread(msgspec.Struct, frozen=True):
    id: str
    updated: datetime


class Pages:
    """The marketplace's pages in turn, each with the token of the next (None: the last);
    every query asked kept."""

    def __init__(self, *pages: tuple[list[Thread], str | None]) -> None:
        self.pages = list(pages)
        self.asked: list[dict[str, str]] = []

    async def __call__(self, query: dict[str, str], link: str | None) -> tuple[Any, str | None]:
        self.asked.append(query)
        return self.pages.pop(0)


def said(thread: Thread) -> Sequence[InboxMessage]:
    return [
        InboxMessage(
            message_id=f"{thread.id}-1",
            thread=ThreadKey("DISCUSSION", thread.id),
            sender_type="BUYER",
            sender_name=None,
            subject="",
            body="Bonjour",
            created_at=thread.updated,
            unread=True,
        )
    ]


async def mapper() -> Any:
    return said


async def whole(thread: Thread) -> Thread:
    return thread


async def no_files(file: InboxFile, max_bytes: int) -> bytes:
    raise AssertionError("no file is asked")


def inbox(pages: Pages) -> KitSession.ListedThreads[Thread]:
    return KitSession.ListedThreads(
        Listing(
            Listing.SeekToken[Thread](lambda thread: thread.updated),
            Listing.window_query("since", None, lambda moment: moment.isoformat()),
            pages,
        ),
        lambda raw: read_each(raw, lambda thread: thread),
        complete=lambda thread: True,
        read_whole=whole,
        mapper=mapper,
        updated=lambda thread: thread.updated,
        named=lambda thread: thread.id,
        files=no_files,
        now=lambda: NOW,
    )


async def test_a_listing_is_complete_until_the_newest_update_it_read() -> None:
    newest = NOW - timedelta(hours=2)  # the marketplace's clock, behind ours
    pages = Pages(
        ([Thread("a", newest), Thread("b", newest - timedelta(hours=1))], "token-2"),
        ([Thread("c", newest - timedelta(hours=5))], None),
    )
    threads = inbox(pages)
    first = await threads.inbox_messages(since=SINCE)
    assert [m.message_id for m in first.items] == ["a-1", "b-1"]
    assert first.next_cursor is not None and first.complete_until is None
    last = await threads.inbox_messages(since=SINCE, cursor=first.next_cursor)
    assert [m.message_id for m in last.items] == ["c-1"] and last.next_cursor is None
    assert last.complete_until == newest  # from the first page, not our clock
    assert pages.asked == [{"since": SINCE.isoformat()}, {"page_token": "token-2"}]


async def test_a_listing_that_read_nothing_is_complete_until_a_moment_before_it_was_asked() -> None:
    quiet = await inbox(Pages(([], None))).inbox_messages(since=SINCE)
    assert quiet.items == () and quiet.complete_until == NOW - timedelta(minutes=1)
    ahead = NOW + timedelta(hours=1)  # a ``since`` past our clock: never moved back
    assert (await inbox(Pages(([], None))).inbox_messages(since=ahead)).complete_until == ahead


@pytest.mark.parametrize("cursor", ["", "not a cursor", "kA=="])
async def test_a_cursor_it_did_not_hand_out_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        await inbox(Pages()).inbox_messages(since=SINCE, cursor=cursor)


async def test_one_threads_messages_are_mapped_as_its_pages_map_them() -> None:
    pages = Pages()  # no page read: only one thread's messages are asked
    found = await inbox(pages).messages_in(Thread("a", NOW))
    assert [(m.message_id, m.thread.id) for m in found] == [("a-1", "a")] and pages.asked == []


async def test_pages_out_of_date_order_are_complete_until_the_newest_of_all_pages() -> None:
    # The last page holds the newest update: complete until it, not only until the first
    # page's newest (nor the last page's alone when the first held it).
    newest = NOW - timedelta(hours=2)
    for first_page, last_page in (
        ([Thread("a", newest - timedelta(hours=3))], [Thread("b", newest)]),
        ([Thread("a", newest)], [Thread("b", newest - timedelta(hours=3))]),
    ):
        threads = inbox(Pages((first_page, "token-2"), (last_page, None)))
        first = await threads.inbox_messages(since=SINCE)
        last = await threads.inbox_messages(since=SINCE, cursor=first.next_cursor)
        assert last.next_cursor is None and last.complete_until == newest


@pytest.mark.parametrize(
    "second",
    [([], "token-3"), ([Thread("b", NOW - timedelta(hours=1))], "token-2")],
    ids=["empty-page-with-a-token", "the-same-token-again"],
)
async def test_a_page_saying_more_with_nothing_or_the_same_token_ends_the_listing(
    second: tuple[list[Thread], str | None], caplog: pytest.LogCaptureFixture
) -> None:
    # A marketplace that answers an empty page with a token, or names the token it was
    # asked with: followed, the listing would page on for ever.
    pages = Pages(([Thread("a", NOW - timedelta(hours=2))], "token-2"), second, ([], None))
    threads = inbox(pages)
    first = await threads.inbox_messages(since=SINCE)
    last = await threads.inbox_messages(since=SINCE, cursor=first.next_cursor)
    assert last.next_cursor is None and len(pages.asked) == 2
    assert "listing stopped" in caplog.text
