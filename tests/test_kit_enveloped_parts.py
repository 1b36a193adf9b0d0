"""The kit's parts a connector declares rather than writes (fast, no servers): answers
that carry their content in ``data`` and a listing's total in ``pagination.total``
(``JsonAnswers``: an item, a call's content, listings by offset to
the total, by page while a next one follows or by the token the answer names), a listed page of orders read each by id
(``EachById.each_listed``), and one thread's messages built from what they share
(``ReadInTurn.thread_messages``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import httpx
import msgspec
import pytest
from keybuzz_shared.connectors import kit, seam


class Unreadable(Exception):
    pass


class Errors:
    def unreadable(self, call: str, reason: str) -> Exception:
        return Unreadable(f"{call}: {reason}")


class Answers:
    """A requester's ``get_json`` answering each path from a table, the calls kept."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers, self.asked, self.errors = answers, list[str](), Errors()
        self.queries: list[Any] = []

    async def get_json(self, path: str, params: Any = None, *, operation: str = "") -> Any:
        self.asked.append(path)
        self.queries.append(params)
        if path not in self.answers:
            raise seam.CallRefused(f"GET {path}", 404, "no such order")
        return self.answers[path]


async def test_a_page_in_data_gives_its_items_and_total_and_one_without_both_is_unreadable() -> (
    None
):
    client: Any = Answers(
        {
            "ok": {"data": [{"id": 1}], "pagination": {"total": 7}},
            "no_total": {"data": [{"id": 1}], "pagination": {}},
            "no_data": {"pagination": {"total": 7}},
            "not_json_object": [1, 2],
        }
    )

    def pages(path: str) -> kit.Listing.Fetch[int]:
        answers = kit.JsonAnswers(client, items="data", total="pagination.total")
        paging = kit.Listing.Offsets[Any](lambda item: item, size=2, overlap=1)
        return answers.listing(path, paging, "since").fetch

    assert await pages("ok")({}, None) == ([{"id": 1}], 7)
    for garbled in ("no_total", "no_data", "not_json_object"):
        with pytest.raises(Unreadable, match=f"GET {garbled}: no data and pagination.total"):
            await pages(garbled)({}, None)
    in_data = kit.JsonAnswers(client, "data").read
    assert in_data(dict[str, int], "x")({"data": {"a": 1}}) == {"a": 1}
    assert in_data(Any, "x")(["no", "envelope"]) is None
    with pytest.raises(ValueError, match="x off its shape"):
        in_data(dict[str, int], "x")({"data": ["a"]})
    assert kit.JsonAnswers(client).read(dict[str, int], "x")({"a": 1}) == {"a": 1}  # the root


async def test_a_calls_content_is_read_as_its_kind_and_one_off_its_shape_is_its_unreadable_answer() -> (
    None
):
    client: Any = Answers({"info": {"data": ["de", "fr"]}, "off": {"data": {"de": 1}}})
    answers = kit.JsonAnswers(client, "data")
    assert await answers.get("info", list[str], operation="GetInfo") == ["de", "fr"]
    with pytest.raises(Unreadable, match="GET off: GetOff off its shape"):
        await answers.get("off", list[str], operation="GetOff")


class Listed:
    """A listing's pages cut from ``items``: by ``offset`` and ``limit`` with the total in
    ``pagination.total``, or by ``page`` (two a page) with ``next``; each query kept."""

    def __init__(self, items: list[dict[str, int]]) -> None:
        self.items, self.errors = items, Errors()
        self.asked: list[tuple[str, str, dict[str, str]]] = []

    async def get_json(self, path: str, params: Any = None, *, operation: str = "") -> Any:
        self.asked.append((path, operation, dict(params)))
        if "offset" in params:
            start, size = int(params["offset"]), int(params["limit"])
            return {"data": self.items[start : start + size], "pagination": {"total": 5}}
        page = int(params["page"])
        return {"results": self.items[2 * page - 2 : 2 * page], "next": 2 * page < 5}


def read_each(raw: Any) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    return tuple(raw), ()


async def test_a_listing_declared_by_offset_reads_to_its_total_each_page_with_its_window_and_fixed_query() -> (
    None
):
    client = Listed([{"id": n} for n in range(1, 6)])
    answers = kit.JsonAnswers(cast(Any, client), "data", "data", "pagination.total")
    paging = kit.Listing.Offsets[Any](
        lambda item: item["id"], size=3, overlap=1, size_param="limit"
    )
    listing = answers.listing("items", paging, "from", operation="GetItems", fixed={"sort": "id"})
    every = await listing.every(listing.start(at(0), None, updated=True), read_each)
    assert [item["id"] for item in every.items] == [1, 2, 3, 4, 5]
    assert [(path, op, q["offset"], q["from"], q["sort"]) for path, op, q in client.asked] == [
        ("items", "GetItems", "0", "2026-11-02T10:00:00Z", "id"),
        ("items", "GetItems", "2", "2026-11-02T10:00:00Z", "id"),
    ]


async def test_a_listing_declared_by_page_reads_while_a_next_page_follows() -> None:
    client = Listed([{"id": n} for n in range(1, 6)])
    listing = kit.JsonAnswers(cast(Any, client)).listing(
        "items", kit.Listing.PageNumbers[Any](), "since", written=lambda t: t.strftime("%H%M")
    )
    every = await listing.every(listing.start(at(7), None, updated=True), read_each)
    assert [item["id"] for item in every.items] == [1, 2, 3, 4, 5]
    assert [(q["page"], q["since"]) for _, _, q in client.asked] == [
        ("1", "1007"),
        ("2", "1007"),
        ("3", "1007"),
    ]


class Tokens:
    """A requester's ``get_json`` answering three pages' bytes by token, the calls kept."""

    def __init__(self, pages: dict[str | None, bytes | None]) -> None:
        self.pages, self.errors = pages, Errors()
        self.asked: list[tuple[dict[str, str], bool]] = []

    async def get_json(self, path: str, params: Any, *, shape: Any, paced: bool, **_: Any) -> Any:
        self.asked.append((dict(params), paced))
        page = self.pages[params.get("token")]
        return None if page is None else msgspec.json.decode(page, type=shape)


async def test_a_listing_declared_by_token_follows_the_token_its_first_page_paced_its_items_as_bytes() -> (
    None
):
    pages: dict[str | None, bytes | None] = {
        None: b'{"page": {"items": [{"id": 1}, {"id": "off"}], "next": "t2"}}',
        "t2": b'{"page": {"items": [{"id": 3}], "next": null}}',
        "bad": b'{"page": {"items": 7}}',
        "none": None,  # no answer (a 204)
    }
    client = Tokens(pages)
    answers = kit.JsonAnswers(cast(Any, client), items="page.items", follows="page.next")
    paging = kit.Listing.SeekToken[Any](lambda item: at(item.id), token_param="token")
    listing = answers.listing("items", paging, "from", until="to", fixed={"x": "1"}, paced=True)
    read = kit.reader(Said, "item")
    every = await listing.every(listing.start(at(0), at(9), updated=True), read)
    assert [item.id for item in every.items] == [1, 3]
    assert every.unreadable and "item off its shape" in every.unreadable[0]
    assert client.asked == [
        ({"from": "2026-11-02T10:00:00Z", "to": "2026-11-02T10:09:00Z", "x": "1"}, True),
        ({"token": "t2"}, False),  # the token holds the query; only a first page is paced
    ]
    for garbled in ("bad", "none"):
        with pytest.raises(Unreadable, match="GET items: no list of page.items"):
            await listing.fetch({"token": garbled}, None)


class Said(msgspec.Struct, frozen=True):
    id: int


async def test_a_listed_page_is_read_each_by_id_its_total_kept_and_unnamed_items_not_asked() -> (
    None
):
    client = Answers({"orders/A1": {"id": "A1", "whole": True}, "orders/B%2F2": {"id": "B/2"}})

    async def listed(query: dict[str, str], link: str | None) -> tuple[list[Any], int]:
        return [{"id": "A1"}, {"id": ""}, {"other": 1}, "junk", {"id": "B/2"}, {"id": ".."}], 9

    by_id = kit.ListedOrders.EachById(client.get_json, "orders")
    items, total = await by_id.each_listed(listed, "id")({}, None)
    assert (items, total) == ([{"id": "A1", "whole": True}, {"id": "B/2"}], 9)
    assert client.asked == ["orders/A1", "orders/B%2F2"]


async def test_an_order_listed_then_gone_is_left_out_and_the_page_read_on() -> None:
    """Deleted between the listing and its read (a 404): that order alone is missing."""
    client = Answers({"orders/A1": {"id": "A1"}, "orders/C3": {"id": "C3"}})

    async def listed(query: dict[str, str], link: str | None) -> tuple[list[Any], int]:
        return [{"id": "A1"}, {"id": "GONE"}, {"id": "C3"}], 3

    items, _ = await kit.ListedOrders.EachById(client.get_json, "orders").each_listed(listed, "id")(
        {}, None
    )
    assert items == [{"id": "A1"}, {"id": "C3"}]
    assert client.asked == ["orders/A1", "orders/GONE", "orders/C3"]


def at(minute: int) -> datetime:
    return datetime(2026, 11, 2, 10, minute, tzinfo=UTC)


def build(
    said: list[tuple[str, seam.SenderType, str | None, str, datetime]], **options: Any
) -> list[seam.InboxMessage]:
    thread = seam.ThreadKey(kind="DISCUSSION", id="T1", order_id="O1")
    return kit.KitSession.ReadInTurn.thread_messages(
        thread, said, subject="Ticket T1", opened=at(0), **options
    )


def test_a_threads_messages_are_oldest_first_unread_unless_the_sellers_and_share_the_thread() -> (
    None
):
    found = build(
        [("2", "SELLER", "Shop", "ok", at(5)), ("1", "BUYER", "", "hi", at(1))], language="fr"
    )
    assert [(m.message_id, m.unread, m.sender_name) for m in found] == [
        ("1", True, None),
        ("2", False, "Shop"),
    ]
    assert {(m.subject, m.language, m.thread.id) for m in found} == {("Ticket T1", "fr", "T1")}


def test_the_thread_waits_since_the_buyers_first_message_after_the_sellers_last_only_while_waiting() -> (
    None
):
    said: list[tuple[str, seam.SenderType, str | None, str, datetime]] = [
        ("1", "BUYER", None, "a", at(1)),
        ("2", "SELLER", None, "b", at(2)),
        ("3", "SYSTEM", None, "c", at(3)),
        ("4", "BUYER", None, "d", at(4)),
        ("5", "BUYER", None, "e", at(5)),
    ]
    assert {m.reply_needed_since for m in build(said)} == {at(4)}
    assert {m.reply_needed_since for m in build(said[:3])} == {at(0)}  # none since: its opening
    assert {m.reply_needed_since for m in build(said, waiting=False)} == {None}
    # Where the marketplace says since when the thread waits, that moment.
    assert {m.reply_needed_since for m in build(said, waiting=at(9))} == {at(9)}


def test_a_file_on_the_thread_goes_with_the_last_message_written_up_to_its_upload() -> None:
    said: list[tuple[str, seam.SenderType, str | None, str, datetime]] = [
        ("1", "BUYER", None, "a", at(1)),
        ("2", "BUYER", None, "b", at(3)),
    ]
    early, middle, late = (
        seam.InboxFile(name=n, url=f"https://x/{n}", content_type="image/png") for n in "eml"
    )
    found = build(said, files=[(early, at(0)), (middle, at(2)), (late, at(3))])
    assert [[f.name for f in m.files] for m in found] == [["e", "m"], ["l"]]
    # A message's own files go with it, whatever their time, beside the thread's.
    found = build(said, files=[(late, at(3))], files_of={"1": [early, middle]})
    assert [[f.name for f in m.files] for m in found] == [["e", "m"], ["l"]]


def test_an_orders_state_is_its_least_advanced_line_not_cancelled_or_cancelled_when_all_are() -> (
    None
):
    def line(n: int, status: str) -> seam.OrderLine:
        return seam.OrderLine(
            line_id=str(n), state=status.lower(), status=status, product_name="", quantity=1
        )

    least = kit.ListedOrders.least_advanced
    assert least([line(1, "DELIVERED"), line(2, "CANCELLED"), line(3, "SHIPPED")]) == line(
        3, "SHIPPED"
    )
    assert least([line(1, "RETURNED"), line(2, "DELIVERED")]) == line(2, "DELIVERED")
    assert least([line(1, "CANCELLED"), line(2, "RETURNED")]) == line(2, "RETURNED")
    assert least([line(1, "CANCELLED"), line(2, "CANCELLED")]) == line(1, "CANCELLED")
    assert least([]) is None


class Item(msgspec.Struct, frozen=True):
    a: int


async def test_an_item_in_data_is_asked_with_its_query_read_as_its_kind_and_one_off_its_shape_is_unreadable() -> (
    None
):
    client: Any = Answers(
        {"items/1": {"data": {"a": 1}}, "items/2": {"data": {"a": "x"}}, "items/3": {}}
    )
    read, with_messages = (
        kit.JsonAnswers(client, "data").read(Item, "item"),
        {"embedded": "messages"},
    )
    found = await kit.item_at(client, "items", "1", read, "GET items/{id}", params=with_messages)
    assert found == Item(a=1) and client.queries == [with_messages]
    for off in ("2", "3"):
        with pytest.raises(Unreadable, match=r"GET items/\{id\}: item off its shape"):
            await kit.item_at(client, "items", off, read, "GET items/{id}")


def test_a_hold_declared_as_data_holds_only_its_status_with_its_documents_value() -> None:
    """Kaufland's 401 for a request's headers holds the shop; its 401 for the keys, or the
    same problem under another status, is no hold (the requester reads them as refused)."""
    held = kit.Refusals.Held.said(401, "type", "/problems/headers", 300.0, "headers refused")
    headers = {"type": "/problems/headers"}
    assert held(httpx.Response(401), headers) == kit.Refusals.Held(300.0, "headers refused")
    assert held(httpx.Response(401), {"type": "/problems/invalid-credentials"}) is None
    assert held(httpx.Response(403), headers) is None
    assert held(httpx.Response(401), "not a document") is None
