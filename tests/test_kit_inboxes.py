"""The kit's inboxes a connector declares rather than writes (``ReadInTurn``: a list of what
changed, each item's details in turn; ``ListedThreads``: threads listed by last change in
a window reaching back at most so far) and the small parts beside them (``item_at``, one
item by its id; ``JsonAnswers``' page; ``window_query``'s end written its own way), a
listing of messages as an inbox and a session without orders. No
servers: each part on calls of the test's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from keybuzz_connector_cdiscount.orders import iso_seconds
from keybuzz_shared.connectors.kit import (
    CallErrors,
    JsonAnswers,
    KitSession,
    Listing,
    item_at,
    read_as,
    reader,
)
from keybuzz_shared.connectors.kit.listing import PageNumbers, Seek, window_query
from keybuzz_shared.connectors.kit.threads import ListedThreads, ReadInTurn
from keybuzz_shared.connectors.seam import (
    CallAnswerUnreadable,
    CallRefused,
    InboxFile,
    InboxMessage,
    Reply,
    ThreadKey,
)
from keybuzz_shared.file_links import FileUnavailable

ERRORS = CallErrors.labelled("Shop")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


class Changed(msgspec.Struct, frozen=True):
    id: int
    last: datetime


class Client:
    """A client's calls answered from the test's own table; each path asked kept."""

    errors = ERRORS

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def get_json(
        self, path: str, params: dict[str, str] | None = None, *, operation: str = ""
    ) -> Any:
        self.asked.append(path)
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        return answer


def message(item: int, minutes: int) -> InboxMessage:
    return InboxMessage(
        message_id=f"{item}-{minutes}",
        thread=ThreadKey("DISCUSSION", str(item)),
        sender_type="BUYER",
        sender_name=None,
        subject="",
        body="",
        created_at=T0 + timedelta(minutes=minutes),
        unread=True,
    )


async def no_file(file: InboxFile, most: int) -> bytes:
    return b""


def in_turn(listed: list[dict[str, Any]], details: dict[int, Any], size: int) -> ReadInTurn:
    async def page(query: dict[str, str], link: str | None) -> tuple[list[Any], bool]:
        return listed, False

    async def read(item_id: str) -> list[InboxMessage]:
        found = details[int(item_id)]
        if isinstance(found, Exception):
            raise found
        return list(found)

    return ReadInTurn(
        Listing(PageNumbers[Changed](), lambda low, high: {}, page),
        reader(Changed, "item"),
        lambda item: (item.id, item.last),
        item=ReadInTurn.Item(read, lambda messages: messages, "item"),  # no file
        page_size=size,
    )


async def test_items_are_read_in_order_of_their_last_change_and_again_only_once_changed() -> None:
    listed = [
        {"id": 1, "last": T0 + timedelta(minutes=9)},
        {"id": 2, "last": T0},
        {"id": 3, "last": T0 + timedelta(minutes=5)},
    ]
    details = {1: [message(1, 9)], 2: [message(2, 0)], 3: [message(3, 5)]}
    inbox = in_turn(listed, details, size=2)
    first = await inbox.inbox_messages(since=T0)
    assert [m.message_id for m in first.items] == ["2-0", "3-5"]
    assert first.next_cursor is not None
    second = await inbox.inbox_messages(since=T0, cursor=first.next_cursor)
    assert [m.message_id for m in second.items] == ["1-9"] and second.next_cursor is None
    # A later listing (the earlier one stored): no item whose last change stayed is read.
    again = await inbox.inbox_messages(since=T0 + timedelta(minutes=10))
    assert again.items == () and again.next_cursor is None
    with pytest.raises(FileUnavailable):  # an inbox whose messages carry no file
        await inbox.file(InboxFile(name="a.pdf", url="a.pdf", content_type="x/y"), 10)


async def test_a_message_after_the_listed_change_waits_and_a_refused_item_is_said() -> None:
    listed = [{"id": 1, "last": T0 + timedelta(minutes=5)}, {"id": 2, "last": T0}]
    refused = ERRORS.refused("GET item", 404, "gone")
    details = {1: [message(1, 5), message(1, 6)], 2: refused}
    page = await in_turn(listed, details, size=10).inbox_messages(since=T0)
    assert [m.message_id for m in page.items] == ["1-5"]
    assert len(page.unreadable) == 1 and page.unreadable[0].startswith("item 2: ")


async def test_a_change_within_a_second_keeps_its_message_on_a_later_page() -> None:
    """The queue keeps each last change as listed: an item read from the cursor keeps its
    message of that very instant, as an item read at the first page does."""
    at = T0 + timedelta(seconds=1, microseconds=500_000)
    listed = [{"id": 1, "last": T0}, {"id": 2, "last": at}]
    said = msgspec.structs.replace(message(2, 0), message_id="2-at", created_at=at)
    inbox = in_turn(listed, {1: [message(1, 0)], 2: [said]}, size=1)
    first = await inbox.inbox_messages(since=T0)
    assert [m.message_id for m in first.items] == ["1-0"] and first.next_cursor is not None
    second = await inbox.inbox_messages(since=T0, cursor=first.next_cursor)
    assert [m.message_id for m in second.items] == ["2-at"]


async def test_a_queue_cursor_it_did_not_hand_out_is_refused() -> None:
    with pytest.raises(ValueError):
        await in_turn([], {}, size=10).inbox_messages(since=T0, cursor="../elsewhere")


class Files(Client):
    """A client whose files are their links' bytes, each link asked kept."""

    def __init__(self, answers: dict[str, Any]) -> None:
        super().__init__(answers)
        self.params: list[Any] = []

    async def get_json(
        self, path: str, params: dict[str, str] | None = None, *, operation: str = ""
    ) -> Any:
        self.params.append((params, operation))
        return await super().get_json(path, params, operation=operation)

    async def get_bytes(self, url: str, most: int) -> bytes:
        self.asked.append(url)
        return url.encode()


async def test_an_item_read_at_its_path_is_the_inboxs_and_its_replies_read_back() -> None:
    """One declaration of how an item and its messages are read serves the inbox (read in
    turn, its files by the same client) and the replies (read back on the item, an id not
    of the item's form refused before any call)."""
    said = [message(4, 1), msgspec.structs.replace(message(4, 3), sender_type="SELLER")]
    client = Files({"/items/4": {"id": 4, "said": [1, 3]}, "/items": {"results": []}})

    def messages(item: dict[str, Any]) -> list[InboxMessage]:
        return [said[n] for n, _ in enumerate(item["said"])]

    item = ReadInTurn.Item.at(
        client,  # type: ignore[arg-type]
        "/items",
        lambda answer: answer,
        messages,
        "item",
        valid=str.isdigit,
        operation="GetItem",
        params={"with": "messages"},
    )

    async def page(query: dict[str, str], link: str | None) -> tuple[list[Any], bool]:
        return [{"id": 4, "last": T0 + timedelta(minutes=5)}], False

    inbox = ReadInTurn(
        Listing(PageNumbers[Changed](), lambda low, high: {}, page),
        reader(Changed, "item"),
        lambda listed: (listed.id, listed.last),
        item=item,
        page_size=10,
    )
    assert list((await inbox.inbox_messages(since=T0)).items) == said
    assert client.params == [({"with": "messages"}, "GetItem")]
    file = InboxFile(name="a.pdf", url="https://files/a.pdf", content_type="application/pdf")
    assert await inbox.file(file, 10) == b"https://files/a.pdf"

    sent: list[str] = []

    async def post(reply: Reply) -> None:
        sent.append(reply.thread.id)

    replies = item.replies("Shop", post)
    assert replies.discussion == "item"
    assert await replies.sent_messages(ThreadKey("DISCUSSION", "4"), T0) == said[1:]
    refused = await replies.reply(
        Reply(thread=ThreadKey("DISCUSSION", "4x"), in_reply_to="m", body="hi")
    )
    assert (refused.status, sent) == ("FAILED", [])
    assert (
        await replies.reply(Reply(thread=ThreadKey("DISCUSSION", "4"), in_reply_to="m", body="hi"))
    ).status == "SENT"
    assert sent == ["4"]
    with pytest.raises(CallRefused):  # an id not of the item's form: refused, never asked
        await item.read("4x")
    assert client.asked.count("/items/4") == 2


class Thread(msgspec.Struct, frozen=True):
    id: str
    updated: datetime


async def test_a_since_beyond_the_reach_starts_at_it_and_the_window_ends_at_now() -> None:
    asked: list[dict[str, str]] = []
    now = T0 + timedelta(days=400)

    async def page(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
        asked.append(query)
        return [], None

    query = window_query("from", "to", iso_seconds)
    inbox: ListedThreads[Thread] = ListedThreads(
        Listing(Seek[Thread](lambda t: t.updated), query, page),
        reader(Thread, "thread"),
        complete=lambda thread: True,
        read_whole=_same,
        mapper=_no_messages,
        named=lambda thread: thread.id,
        files=no_file,
        reach=timedelta(days=182),
        now=lambda: now,
    )
    found = await inbox.inbox_messages(since=T0)
    reach = now - timedelta(days=182)
    assert asked == [{"from": iso_seconds(reach), "to": iso_seconds(now)}]
    assert found.next_cursor is None and found.complete_until == now


async def _same(thread: Thread) -> Thread:
    return thread


async def _no_messages() -> Any:
    return lambda thread: []


async def test_one_item_by_its_id_an_id_that_is_no_segment_refused_without_a_call() -> None:
    client = Client({"/items/7": {"id": 7}, "/items/8": {"id": "eight"}})
    assert await item_at(client, "/items", "7", lambda answer: answer, "GET items") == {"id": 7}
    with pytest.raises(CallRefused) as refused:
        await item_at(client, "/items", "..", lambda a: a, "GET items")
    assert refused.value.status == 404 and client.asked == ["/items/7"]
    with pytest.raises(CallRefused):
        await item_at(client, "/items", "x7", lambda a: a, "GET items", valid=str.isdigit)
    with pytest.raises(CallAnswerUnreadable):
        await item_at(client, "/items", "8", lambda a: read_as(Thread, a, "item"), "GET items")


class NamedCalls(Client):
    """A requester's calls as ``item_at`` makes them: each one's options kept."""

    def __init__(self, answers: dict[str, Any]) -> None:
        super().__init__(answers)
        self.options: list[dict[str, Any]] = []

    async def get_json(
        self, path: str, params: dict[str, str] | None = None, **options: Any
    ) -> Any:
        self.options.append(options)
        return await super().get_json(path, params)


async def test_one_item_is_asked_by_its_operation_and_read_from_its_bytes() -> None:
    client = NamedCalls({"/items/7": b'{"id": 7}'})
    found = await item_at(
        client,
        "/items",
        "7",
        lambda raw: msgspec.json.decode(raw, type=dict[str, int]),
        "M10",
        operation="M10",
        shape=msgspec.Raw,
    )
    assert found == {"id": 7}
    assert client.options == [{"operation": "M10", "shape": msgspec.Raw}]
    await item_at(client, "/items", "7", lambda raw: raw, "GET items")
    assert client.options[1] == {}


def test_a_results_page_says_whether_another_follows_and_a_page_without_them_is_unreadable() -> (
    None
):
    client: Any = Client({})
    page = JsonAnswers(client).page_of
    assert page("GET items", {"results": [1], "next": "p2"}) == ([1], True)
    assert page("GET items", {"results": [], "next": None}) == ([], False)
    with pytest.raises(CallAnswerUnreadable):
        page("GET items", {"items": []})


def test_a_windows_end_may_be_written_its_own_way() -> None:
    query = window_query(
        "min", "max", iso_seconds, end_written=lambda at: iso_seconds(at, up=True), size="10"
    )
    moment = T0 + timedelta(milliseconds=300)
    assert query(moment, moment) == {
        "min": "2026-11-01T00:00:00Z",
        "max": "2026-11-01T00:00:01Z",
        "size": "10",
    }
    assert window_query("min", None, iso_seconds)(moment, moment) == {"min": "2026-11-01T00:00:00Z"}


class Said(msgspec.Struct, frozen=True):
    id: str
    at: datetime


def said_message(said: Said) -> InboxMessage:
    thread = ThreadKey("DISCUSSION", said.id, None)
    return InboxMessage(
        message_id=said.id,
        thread=thread,
        sender_type="BUYER",
        sender_name=None,
        subject="",
        body="text",
        created_at=said.at,
        unread=True,
    )


class NumberedPages(Client):
    """A listing's pages by number, as the test's table answers them."""

    async def get_json(
        self, path: str, params: dict[str, str] | None = None, *, operation: str = ""
    ) -> Any:
        self.asked.append(f"{path}?page={(params or {}).get('page')}")
        return self.answers[(params or {}).get("page", "1")]


async def test_a_listing_of_messages_is_an_inbox_each_message_a_thread_of_one() -> None:
    """``ListedThreads`` of messages, each whole, on pages by number whose answer says ``more`` (a
    ``JsonAnswers`` of its own key): a message off its shape costs itself, and an empty
    page saying more ends the listing (no third call)."""
    first = {"messages": [{"id": "m1", "at": T0.isoformat()}, {"id": 2}], "more": True}
    client = NumberedPages({"1": first, "2": {"messages": [], "more": True}})
    pages = JsonAnswers(client, items="messages", follows="more")  # type: ignore[arg-type]
    listing = pages.listing("messages", PageNumbers[Said](), "since")

    async def mapper() -> Any:
        return lambda said: (said_message(said),)

    async def whole(said: Said) -> Said:
        return said

    inbox = ListedThreads(
        listing,
        reader(Said, "a message"),
        complete=lambda _: True,
        read_whole=whole,
        mapper=mapper,
        named=lambda _: "a message",
        files=no_file,
    )
    page = await inbox.inbox_messages(since=T0)
    assert [m.message_id for m in page.items] == ["m1"] and len(page.unreadable) == 1
    assert page.next_cursor is not None
    end = await inbox.inbox_messages(since=T0, cursor=page.next_cursor)
    assert end.items == () and end.next_cursor is None
    assert client.asked == ["messages?page=1", "messages?page=2"]


async def test_a_session_declaring_no_orders_lists_none_without_a_call() -> None:
    """A marketplace that gives no orders declares none (no stub): every listing empty."""
    client = NumberedPages({})
    absent: Any = None  # neither its inbox nor its replies are asked here
    session = KitSession(absent, absent, verify=lambda: client.get_json("/"))
    assert (await session.orders(since=T0)).items == ()
    assert (await session.orders_created(start=T0, end=T0)).next_cursor is None
    assert await session.orders_by_id(["1"]) == [] and client.asked == []
