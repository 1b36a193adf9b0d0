"""The kit's listing strategies and its declared order source, without a server: each
strategy's cursor goes out and comes back as the same state, a cursor edited by hand is
refused, a listing ends where the marketplace says, seeking moves the window's start,
offsets overlap and step back; the order source's window, overlap, creation cut, unreadable
orders and orders by id."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from keybuzz_connector_fnac.session import Count, Pages, Renumbered
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.kit.listing import Numbered, OffsetState, Token, WindowCursor
from keybuzz_shared.connectors.seam import (
    CallRefused,
    OrderSummary,
    cursor_of,
    read_each,
    state_of,
)

T0 = datetime(2026, 9, 1, tzinfo=UTC)


class Item(msgspec.Struct, frozen=True):
    id: str
    at: datetime


def read(raw: Sequence[Any]) -> tuple[tuple[Item, ...], tuple[str, ...]]:
    return read_each(raw, lambda r: msgspec.convert(r, Item))


def item(number: int, minutes: int) -> dict[str, Any]:
    return {"id": f"I{number:03d}", "at": (T0 + timedelta(minutes=minutes)).isoformat()}


def since(low: datetime, high: datetime | None) -> dict[str, str]:
    return {"from": low.isoformat()}


def round_trip(listing: kit.Listing[Any, Any, Any], state: Any, *, updated: bool) -> Any:
    """``state`` as a cursor and back."""
    return listing.resume(cursor_of(state), updated=updated)


# --- next link -------------------------------------------------------------------------------


async def test_next_link_follows_the_marketplaces_link_until_it_names_none() -> None:
    pages = {None: ([item(1, 1), item(2, 2)], "p2"), "p2": ([item(3, 3)], None)}
    asked: list[tuple[dict[str, str], str | None]] = []

    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
        asked.append((query, link))
        return pages[link]

    listing = kit.Listing(kit.Listing.Seek[Item](), since, fetch)
    first = await listing.step(listing.start(T0, T0 + timedelta(days=1), updated=False), read)
    assert [i.id for i in first.items] == ["I001", "I002"]
    assert first.following == WindowCursor(T0, T0 + timedelta(days=1), "p2")
    resumed = round_trip(listing, first.following, updated=False)
    assert resumed == first.following
    last = await listing.step(resumed, read)
    assert [i.id for i in last.items] == ["I003"] and last.following is None
    assert [link for _, link in asked] == [None, "p2"]


def test_next_link_refuses_a_cursor_edited_by_hand() -> None:
    listing = kit.Listing(kit.Listing.Seek[Item](), since, _never)
    with pytest.raises(ValueError, match="not a cursor"):
        listing.resume(
            cursor_of(WindowCursor(T0, None, "p2", page=3)), updated=True
        )  # no page numbers
    with pytest.raises(ValueError, match="not a cursor"):
        listing.resume("bm90LWEtY3Vyc29y", updated=True)


# --- seek ------------------------------------------------------------------------------------


class SeekedShop:
    """A listing sorted by ``at`` from ``from`` on, ``size`` a page; its next link (or page
    number) continues from the same ``from``."""

    def __init__(self, items: list[dict[str, Any]], size: int) -> None:
        self.items, self.size = items, size
        self.asked: list[tuple[dict[str, str], str | None]] = []

    async def fetch(self, query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
        self.asked.append((query, link))
        low = datetime.fromisoformat(query["from"])
        matching = [i for i in self.items if datetime.fromisoformat(i["at"]) >= low]
        skip = int(link or query.get("page", "1")) - 1 if link or "page" in query else 0
        skip *= self.size
        page = matching[skip : skip + self.size]
        more = skip + self.size < len(matching)
        return page, str(skip // self.size + 2) if more else None


async def test_seek_asks_the_next_page_from_the_last_instant_read() -> None:
    shop = SeekedShop([item(n, n) for n in range(1, 6)], size=2)
    listing = kit.Listing(kit.Listing.Seek[Item](lambda i: i.at), since, shop.fetch)
    state = listing.start(T0, None, updated=True)
    first = await listing.step(state, read)
    assert first.following == WindowCursor(T0 + timedelta(minutes=2), None)  # no link: seeking
    second = await listing.step(round_trip(listing, first.following, updated=True), read)
    # The instant sought from comes again (callers drop it by id), none is skipped.
    assert [i.id for i in second.items] == ["I002", "I003"]
    seen = {i.id for i in first.items + second.items}
    rest = await listing.every(second.following, read)
    assert seen | {i.id for i in rest.items} == {f"I{n:03d}" for n in range(1, 6)}
    assert all(link is None for _, link in shop.asked)


async def test_seek_follows_the_link_of_a_page_wholly_at_one_instant_else_its_number() -> None:
    stuck = [item(n, 0) for n in range(1, 4)] + [item(4, 5)]
    by_link = kit.Listing(kit.Listing.Seek[Item](lambda i: i.at), since, SeekedShop(stuck, 2).fetch)
    first = await by_link.step(by_link.start(T0, None, updated=True), read)
    assert first.following == WindowCursor(T0, None, "2")  # seeking from T0 would ask it again
    by_number = kit.Listing(
        kit.Listing.Seek[Item](lambda i: i.at, page_param="page"), since, SeekedShop(stuck, 2).fetch
    )
    first = await by_number.step(by_number.start(T0, None, updated=True), read)
    assert first.following == WindowCursor(T0, None, page=2)
    second = await by_number.step(round_trip(by_number, first.following, updated=True), read)
    assert [i.id for i in second.items] == ["I003", "I004"]
    with pytest.raises(ValueError, match="not a cursor"):
        by_number.resume(cursor_of(WindowCursor(T0, None, page=0)), updated=True)


# --- offsets ---------------------------------------------------------------------------------


class OffsetShop:
    """Items in an update window ``[from, to]``, sorted by creation then id, ``max`` from
    ``offset`` with the total; ``between`` runs after each answer."""

    def __init__(self, count: int) -> None:
        self.items = [
            {"id": f"I{n:03d}", "at": T0 + timedelta(minutes=n), "updated": T0}
            for n in range(count)
        ]
        self.offsets: list[int] = []
        self.between = lambda calls: None

    async def fetch(self, query: dict[str, str], link: str | None) -> tuple[list[Any], int]:
        low, high = datetime.fromisoformat(query["from"]), datetime.fromisoformat(query["to"])
        matching = [i for i in self.items if low <= i["updated"] <= high]
        offset, size = int(query["offset"]), int(query["max"])
        self.offsets.append(offset)
        page = [{"id": i["id"], "at": i["at"].isoformat()} for i in matching[offset:][:size]]
        self.between(len(self.offsets))
        return page, len(matching)


def window(low: datetime, high: datetime | None) -> dict[str, str]:
    assert high is not None
    return {"from": low.isoformat(), "to": high.isoformat()}


def offsets(shop: OffsetShop) -> kit.Listing[Item, OffsetState, int]:
    paging = kit.Listing.Offsets[Item](lambda i: (i.at, i.id), size=10, overlap=3)
    return kit.Listing(paging, window, shop.fetch)


@pytest.mark.parametrize("leaving", [2, 6])
async def test_offsets_list_each_item_once_while_items_leave_the_window(leaving: int) -> None:
    shop = OffsetShop(45)

    def change(calls: int) -> None:
        if calls == 1:  # items the first page listed change past the window's end
            for moved in shop.items[3 : 3 + leaving]:
                moved["updated"] = T0 + timedelta(days=2)

    shop.between = change
    listing = offsets(shop)
    state = listing.start(T0, T0 + timedelta(days=1), updated=True)
    first = await listing.step(state, read)
    assert first.following is not None and first.following.offset == 10 - 3  # the overlap
    resumed = round_trip(listing, first.following, updated=True)
    assert resumed == first.following
    rest = await listing.every(resumed, read)
    ids = [i.id for i in first.items + rest.items]
    assert len(ids) == len(set(ids)) == 45
    stepped_back = any(b < a for a, b in zip(shop.offsets[1:], shop.offsets[2:], strict=False))
    assert stepped_back == (leaving > 3)  # more left than the overlap covers


def test_offsets_refuse_a_cursor_edited_by_hand_or_of_the_other_listing() -> None:
    listing = offsets(OffsetShop(0))
    state = listing.start(T0, T0 + timedelta(days=1), updated=True)
    with pytest.raises(ValueError, match="not a cursor"):
        listing.resume(cursor_of(state), updated=False)
    with pytest.raises(ValueError, match="not a cursor"):
        listing.resume(cursor_of(msgspec.structs.replace(state, offset=-10)), updated=True)


async def test_offsets_end_at_the_total_count() -> None:
    listing = offsets(OffsetShop(10))
    page = await listing.step(listing.start(T0, T0 + timedelta(days=1), updated=True), read)
    assert len(page.items) == 10 and page.following is None


# --- page numbers over a total that may shrink (Fnac's own strategy, on the kit's listing) ---


@pytest.mark.parametrize("leaving", [0, 4])
async def test_renumbered_pages_step_back_by_the_items_that_left_none_skipped(
    leaving: int,
) -> None:
    shop = OffsetShop(45)

    def change(calls: int) -> None:
        if calls == 1:  # items the first page listed change past the window's end
            for moved in shop.items[3 : 3 + leaving]:
                moved["updated"] = T0 + timedelta(days=2)

    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], Count]:
        number, size = int(query.pop("page")), int(query.pop("size", "10"))
        page, total = await shop.fetch(
            {**query, "offset": str((number - 1) * size), "max": str(size)}, link
        )
        return page, (number * size < total, total)

    shop.between = change
    listing = kit.Listing(Renumbered[Item](10), window, fetch)
    first = await listing.step(listing.start(T0, T0 + timedelta(days=1), updated=True), read)
    rest = await listing.every(round_trip(listing, first.following, updated=True), read)
    ids = [i.id for i in first.items + rest.items]
    assert set(ids) == {i["id"] for i in shop.items}  # those that left: on page 1
    stepped_back = any(b < a for a, b in zip(shop.offsets, shop.offsets[1:], strict=False))
    assert stepped_back == (leaving > 0)
    with pytest.raises(ValueError, match="not a cursor"):
        listing.resume(cursor_of(Pages(T0, None, 0)), updated=True)


# --- page numbers ----------------------------------------------------------------------------


async def test_page_numbers_go_on_while_a_next_page_is_said_and_the_page_lists_some() -> None:
    pages = {"1": ([item(1, 1)], True), "2": ([item(2, 2)], True), "3": ([], True)}
    asked: list[dict[str, str]] = []

    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], bool]:
        asked.append(query)
        return pages[query["page"]]

    listing = kit.Listing(kit.Listing.PageNumbers[Item](size=50), since, fetch)
    first = await listing.step(listing.start(T0, None, updated=False), read)
    assert first.following == Numbered(False, T0, None, 2)
    assert round_trip(listing, first.following, updated=False) == first.following
    rest = await listing.every(first.following, read)
    assert [i.id for i in rest.items] == ["I002"]  # page 3 said more but listed none
    assert asked[0] == {"from": T0.isoformat(), "page": "1", "page-size": "50"}
    with pytest.raises(ValueError, match="not a cursor"):
        listing.resume(cursor_of(Numbered(False, T0, None, 0)), updated=False)
    with pytest.raises(ValueError, match="not a cursor"):
        listing.resume(cursor_of(first.following), updated=True)


# --- a seek token ----------------------------------------------------------------------------


async def test_a_seek_token_is_asked_alone_until_none_is_given_the_newest_item_kept() -> None:
    pages = {None: ([item(1, 9), item(2, 4)], "t2"), "t2": ([item(3, 2)], None)}
    asked: list[dict[str, str]] = []

    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
        asked.append(query)
        return pages[query.get("page_token")]

    listing = kit.Listing(kit.Listing.SeekToken[Item](lambda i: i.at), since, fetch)
    first = await listing.step(listing.start(T0, None, updated=True), read)
    assert first.following == Token(T0, None, "t2", T0 + timedelta(minutes=9))
    resumed = round_trip(listing, first.following, updated=True)
    assert resumed == first.following
    last = await listing.step(resumed, read)
    assert [i.id for i in last.items] == ["I003"] and last.following is None
    assert asked == [{"from": T0.isoformat()}, {"page_token": "t2"}]  # the token alone
    for edited in (Token(T0, None), Token(T0, None, "")):  # a first page is no cursor
        with pytest.raises(ValueError, match="not a cursor"):
            listing.resume(cursor_of(edited), updated=True)


def test_a_listing_takes_a_cursor_of_an_earlier_version_its_connector_reads() -> None:
    def legacy(cursor: str) -> Numbered | None:
        number = cursor.removeprefix("page ")
        return Numbered(False, T0, None, int(number)) if number.isdigit() else None

    listing = kit.Listing(kit.Listing.PageNumbers[Item](), since, _never, legacy)
    assert listing.resume("page 4", updated=False) == Numbered(False, T0, None, 4)
    for refused in ("page 0", "page four"):  # not valid, not one it reads
        with pytest.raises(ValueError, match="not a cursor"):
            listing.resume(refused, updated=False)


async def _never(query: dict[str, str], link: str | None) -> tuple[list[Any], Any]:
    raise AssertionError("no call expected")


# --- the declared order source ---------------------------------------------------------------


def order(number: int, created: datetime, updated: datetime | None = None) -> dict[str, Any]:
    return {
        "id": f"O{number}",
        "created": created.isoformat(),
        "updated": (updated or created).isoformat(),
    }


def read_order(raw: Any) -> OrderSummary:
    if not isinstance(raw, dict) or "created" not in raw:
        raise ValueError("an order without its creation date")
    created = datetime.fromisoformat(raw["created"])
    updated = datetime.fromisoformat(raw["updated"])
    return OrderSummary(external_id=raw["id"], state="X", created_at=created, updated_at=updated)


class OrderShop:
    """Orders by page number; what each listing was asked kept."""

    def __init__(self, pages: list[list[Any]]) -> None:
        self.pages = pages
        self.asked: list[dict[str, str]] = []

    async def fetch(self, query: dict[str, str], link: str | None) -> tuple[list[Any], bool]:
        self.asked.append(query)
        number = int(query["page"])
        return self.pages[number - 1], number < len(self.pages)


def source(marketplace: OrderShop, **options: Any) -> kit.ListedOrders:
    def window(low: datetime, high: datetime | None) -> dict[str, str]:
        return {"from": low.isoformat()} | ({"to": high.isoformat()} if high else {})

    listing = kit.Listing(kit.Listing.PageNumbers[OrderSummary](), window, marketplace.fetch)
    return kit.ListedOrders(
        updated=listing,
        created=listing,
        by_id=options.pop("by_id", kit.ListedOrders.InLists(_no_ids, 2)),
        read=read_order,
        calls=options.pop("calls", Calls()),
        **options,
    )


class Calls:
    """What an order source's log lines name: the API's label and logger, the shop."""

    spec = kit.ApiSpec(
        "Test", logging.getLogger("test.kit.orders"), kit.CallErrors.labelled("Test")
    )

    def __init__(self, shop: dict[str, str] | None = None) -> None:
        self.shop = shop or {}


async def _no_ids(ids: str) -> list[Any]:
    raise AssertionError("no order asked by id")


async def test_an_update_listing_reads_from_the_overlap_before_since_to_now() -> None:
    shop = OrderShop([[order(1, T0)], [order(2, T0)]])
    now = T0 + timedelta(hours=1)
    orders = source(shop, overlap=timedelta(minutes=5), now=lambda: now)
    first = await orders.orders(since=T0)
    assert shop.asked[0]["from"] == (T0 - timedelta(minutes=5)).isoformat()
    assert shop.asked[0]["to"] == now.isoformat()
    assert first.next_cursor is not None and first.complete_until is None
    last = await orders.orders(since=T0, cursor=first.next_cursor)
    assert last.next_cursor is None and last.complete_until == now  # where the window ends
    unended = await source(OrderShop([[order(1, T0)]]), now=None).orders(since=T0)
    assert unended.next_cursor is None and unended.complete_until is None


async def test_a_creation_window_leaves_out_its_end_and_stops_at_a_page_wholly_past_it() -> None:
    end = T0 + timedelta(days=1)
    pages = [
        [order(2, T0 + timedelta(hours=2)), order(1, T0)],
        [order(3, end - timedelta(seconds=1)), order(4, end)],
        [order(5, end), order(6, end + timedelta(hours=1))],
        [order(7, end + timedelta(days=1))],
    ]
    shop = OrderShop(pages)
    orders = source(shop)
    found, page = await created_in(orders, end)
    assert found == ["O1", "O2", "O3"]  # oldest first in a page, the end left out
    assert len(shop.asked) == 3 and page.complete_until == end  # page 4 never asked


async def created_in(orders: Any, end: datetime) -> tuple[list[str], Any]:
    """The ids a creation window from T0 to ``end`` lists, page after page; its last page."""
    found, cursor = [], None
    while True:
        page = await orders.orders_created(start=T0, end=end, cursor=cursor)
        found += [o.external_id for o in page.items]
        if page.next_cursor is None:
            return found, page
        cursor = page.next_cursor


async def test_a_newest_first_creation_window_reads_on_past_pages_wholly_after_its_end() -> None:
    """Newest first (``Paging.newest_first``), a window's orders follow those created after
    its end: a page wholly past it ends nothing."""
    end = T0 + timedelta(days=1)
    listed = [order(3, end + timedelta(hours=2)), order(2, end), order(1, T0)]

    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], int]:
        at = int(query["offset"])
        return listed[at : at + 2], len(listed)

    paging = kit.Listing.Offsets[OrderSummary](
        lambda o: (o.created_at, o.external_id), size=2, overlap=1, newest_first=True
    )
    listing = kit.Listing(paging, lambda low, high: {}, fetch)
    orders = kit.ListedOrders(
        updated=listing,
        created=listing,
        by_id=kit.ListedOrders.InLists(_no_ids, 2),
        read=read_order,
        calls=Calls(),
    )
    assert (await created_in(orders, end))[0] == ["O1"]


async def test_an_order_it_cannot_read_is_left_out_said_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    orders = source(OrderShop([[order(1, T0), {"id": "O2"}]]), calls=Calls({"shop_id": "42"}))
    with caplog.at_level(logging.WARNING, "test.kit.orders"):
        page = await orders.orders_created(start=T0, end=T0 + timedelta(days=1))
    assert [o.external_id for o in page.items] == ["O1"]
    assert page.unreadable == ("an order without its creation date",)
    [line] = caplog.records
    assert line.getMessage() == "Test order left out: unreadable"
    assert line.__dict__["shop_id"] == "42"


async def test_orders_by_id_one_call_each_a_404_none_an_id_not_a_path_not_asked() -> None:
    asked: list[str] = []

    async def get(path: str) -> Any:
        asked.append(path)
        if path == "/orders/404":
            raise CallRefused("GET orders/{id}", 404, "no such order")
        return order(int(path.rsplit("/", 1)[1]), T0)

    found = await kit.ListedOrders.EachById(get, "/orders", str.isdigit).orders(
        ["1", "404", "x/..", "1", "2"], _read_orders
    )
    assert [o.external_id for o in found] == ["O1", "O2"]
    assert asked == ["/orders/1", "/orders/404", "/orders/2"]
    refused = kit.ListedOrders.EachById(_refused_500, "/orders")
    with pytest.raises(CallRefused):
        await refused.orders(["1"], _read_orders)


async def test_orders_by_id_in_lists_of_a_size_only_those_asked() -> None:
    lists: list[str] = []

    async def get(ids: str) -> list[Any]:
        lists.append(ids)
        return [order(int(i[1:]), T0) for i in ids.split(",")] + [order(99, T0)]

    asked = ["O1", "O2", "O3", "O1", "O4,O5", " "]
    found = await kit.ListedOrders.InLists(get, 2).orders(asked, _read_orders)
    assert [o.external_id for o in found] == ["O1", "O2", "O3"]
    assert lists == ["O1,O2", "O3"]


async def test_without_a_way_by_id_the_orders_named_are_found_in_the_listing_read_whole() -> None:
    shop = OrderShop([[order(1, T0), order(2, T0)], [order(3, T0)]])
    found = await source(shop, by_id=None).orders_by_id(["O3", "O1", "O9"])
    assert sorted(o.external_id for o in found) == ["O1", "O3"]
    assert [q["page"] for q in shop.asked] == ["1", "2"] and "to" not in shop.asked[0]


def test_an_order_state_the_marketplace_adds_later_is_pending_without_delivery() -> None:
    states = kit.ListedOrders.States(SENT=("SHIPPED", "SHIPPED"))
    assert states["SENT"] == ("SHIPPED", "SHIPPED")
    assert states["LOST_IN_TRANSIT"] == ("PENDING", None)


def _read_orders(raw: Sequence[Any]) -> tuple[tuple[OrderSummary, ...], tuple[str, ...]]:
    return read_each(raw, read_order)


async def _refused_500(path: str) -> Any:
    raise CallRefused("GET orders/{id}", 500, "broken")


def test_every_state_is_the_seams_cursor() -> None:
    for state in (
        WindowCursor(T0, None, "p"),
        OffsetState(True, T0, T0, 3),
        Numbered(False, T0, T0),
    ):
        assert state_of(cursor_of(state), type(state)) == state


# --- every strategy's pages bounded ----------------------------------------------------------


def _hostile(strategy: str, page: str) -> tuple[kit.Listing[Item, Any, Any], list[Any]]:
    """A listing of ``strategy`` whose first page lists an item and says more, and whose
    every later page is ``page``: "empty" (nothing listed, more said) or "same" (the same
    next page named again); its calls kept."""
    asked: list[Any] = []
    empty = page == "empty"

    async def linked(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
        asked.append(link)
        if link is None:
            return [item(1, 1)], "p2"
        return ([] if empty else [item(len(asked), 1)]), ("p3" if empty else "p2")

    async def token(query: dict[str, str], link: str | None) -> tuple[list[Any], str | None]:
        asked.append(query)
        if "page_token" not in query:
            return [item(1, 1)], "t2"
        return ([] if empty else [item(len(asked), 2)]), ("t3" if empty else "t2")

    async def numbered(query: dict[str, str], link: str | None) -> tuple[list[Any], Any]:
        asked.append(query)
        first = query["page"] == "1"
        more = True if strategy == "pages" else (True, None)
        return ([item(1, 1)] if first else []), more

    fetch: Any = {"link": linked, "seek": linked, "token": token}.get(strategy, numbered)
    paging: Any = {
        "link": kit.Listing.Seek[Item](),
        "seek": kit.Listing.Seek[Item](lambda i: i.at),
        "token": kit.Listing.SeekToken[Item](lambda i: i.at),
        "pages": kit.Listing.PageNumbers[Item](),
        "renumbered": Renumbered[Item](10),  # Fnac's own, on the kit's listing
    }[strategy]
    return kit.Listing(paging, since, fetch), asked


@pytest.mark.parametrize(
    ("strategy", "page"),
    [
        ("link", "empty"),
        ("link", "same"),
        ("seek", "empty"),
        ("token", "empty"),
        ("token", "same"),
        ("pages", "empty"),
        ("renumbered", "empty"),
    ],
)
async def test_every_paging_stops_at_a_page_saying_more_with_nothing_or_naming_itself(
    strategy: str, page: str, caplog: pytest.LogCaptureFixture
) -> None:
    listing, asked = _hostile(strategy, page)
    whole = await listing.every(listing.start(T0, None, updated=True), read)
    assert whole.following is None and len(asked) <= 3  # followed, the listing never ends
    assert "listing stopped" in caplog.text
