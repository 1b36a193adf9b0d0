"""A numbered listing's page read item by item and asked in the connector's typed query
(connectors/fnac/src/keybuzz_connector_fnac/numbered_pages.py, ``FnacShop.pages``), and a cursor of an earlier layout still read as the listing's
state (kit/listing.py). No server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
from keybuzz_connector_fnac.connector import LIMITS
from keybuzz_connector_fnac.models import DateRange, IncidentsQuery
from keybuzz_connector_fnac.numbered_pages import Listed, iso_window, map_each, read_listed
from keybuzz_connector_fnac.session import FnacShop
from keybuzz_shared.connectors.kit import Listing
from keybuzz_shared.connectors.kit.listing import Count, Pages, earlier
from keybuzz_shared.connectors.kit.xml_answers import Node
from keybuzz_shared.connectors.seam import cursor_of, state_of
from lxml import etree

NS = "urn:test"
START = datetime(2026, 11, 1, tzinfo=UTC)


class Off(Exception):
    pass


class Paging(msgspec.Struct, frozen=True, kw_only=True):
    page: int = 1
    total_paging: int = 1
    nb_total_result: int | None = None

    @property
    def count(self) -> Count:
        return self.page < self.total_paging, self.nb_total_result


class Item(msgspec.Struct, frozen=True):
    item_id: str
    quantity: int


def node(xml: str) -> Node:
    return Node(etree.fromstring(f'<page xmlns="{NS}">{xml}</page>'.encode()), NS, Off)


def test_a_page_is_its_items_read_alone_and_its_paging() -> None:
    page = read_listed(
        node(
            "<page>2</page><total_paging>3</total_paging>"
            "<item><item_id>A</item_id><quantity>1</quantity></item>"
            "<item><item_id>B</item_id><quantity>many</quantity></item>"
        ),
        "item",
        lambda node: node.decode(Item),
        Paging,
    )
    assert page.paging == Paging(page=2, total_paging=3)
    assert page.items == (Item("A", 1),)
    assert page.unreadable == ("item B: <quantity> is not an integer",)
    assert page.listed == 2  # the item left out counts among those listed


async def test_each_page_is_asked_by_its_number_and_window_and_hands_on_its_count() -> None:
    asked: list[IncidentsQuery] = []

    async def ask(query: IncidentsQuery) -> Listed[Any, Paging]:
        asked.append(query)
        items = (Item(f"I{query.page}", 1),)
        paging = Paging(page=query.page, total_paging=2, nb_total_result=3)
        return Listed(paging, items, ("bad",))

    client = SimpleNamespace(credentials=SimpleNamespace(shop_id="S"))
    shop = FnacShop(client, msgspec.structs.replace(LIMITS, page_size=1))  # type: ignore[arg-type]
    fetch = shop.pages(ask, IncidentsQuery, "UpdatedAt", sort="ASC")
    listing: Listing[str, Any, Any] = Listing(Listing.Renumbered(1), iso_window, fetch)
    end = START + timedelta(days=1)
    first = await listing.page(None, START, end, map_each(lambda item: item.item_id))
    assert (first.items, first.unreadable) == (("I1",), ("bad",))
    assert first.next_cursor is not None
    state = state_of(first.next_cursor, Pages)
    assert (state.page, state.total) == (2, 3)
    last = await listing.page(first.next_cursor, START, end, map_each(lambda i: i.item_id))
    assert last.items == ("I2",) and last.next_cursor is None and last.complete_until == end
    window = DateRange(type="UpdatedAt", min=START, max=end)
    assert asked == [
        IncidentsQuery(page=n, results_count=1, date=window, sort="ASC") for n in (1, 2)
    ]


class OldCursor(msgspec.Struct, array_like=True, frozen=True):
    since: datetime
    page: int


def test_a_cursor_of_the_earlier_layout_is_read_as_the_listings_state() -> None:
    legacy = earlier(
        OldCursor, lambda old: old.page >= 2, lambda old: Pages(old.since, None, old.page)
    )
    assert legacy(cursor_of(OldCursor(START, 3))) == Pages(START, None, 3)
    assert legacy(cursor_of(OldCursor(START, 1))) is None  # one it never handed out
    assert legacy(cursor_of(Pages(START, None, 2))) is None  # another layout
    assert legacy("not a cursor") is None
