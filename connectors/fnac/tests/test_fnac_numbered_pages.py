"""A numbered listing's page, its item nodes read one by one by the listing, asked in the
connector's typed query (connectors/fnac/src/keybuzz_connector_fnac/client.py's ``read_page``,
session.py's ``FnacShop.pages``). No server."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
from keybuzz_connector_fnac.client import NS, parse, read_page, xml_instant
from keybuzz_connector_fnac.connector import LIMITS
from keybuzz_connector_fnac.models import DateRange, IncidentsQuery, Listed, Paging
from keybuzz_connector_fnac.session import FnacShop, Pages, Renumbered, iso_window
from keybuzz_shared.connectors.kit import Listing, Node
from keybuzz_shared.connectors.seam import read_each, state_of

START = datetime(2026, 11, 1, tzinfo=UTC)


class Item(msgspec.Struct, frozen=True):
    item_id: str
    quantity: int


def page_of(xml: str) -> Listed:
    """A Fnac answer's page holding ``xml``: its paging and its item nodes, raw."""
    return read_page(parse(f'<page xmlns="{NS}">{xml}</page>'.encode()), "item")


def item_ids(raw: Sequence[Node]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A listing's read: each item node read once, one off its shape said with its id."""
    return read_each(raw, lambda node: node.decode(Item).item_id)


def test_a_page_is_its_item_nodes_and_its_paging_each_item_read_alone() -> None:
    page = page_of(
        "<page>2</page><total_paging>3</total_paging>"
        "<item><item_id>A</item_id><quantity>1</quantity></item>"
        "<item><item_id>B</item_id><quantity>many</quantity></item>"
        '<item id="C"><quantity>1</quantity></item><item><quantity>1</quantity></item>'
    )
    assert page.paging == Paging(page=2, total_paging=3)
    assert len(page.items) == 4  # the items off their shape are listed: read by the listing
    assert item_ids(page.items) == (
        ("A",),
        (
            "item B: <quantity> is not an integer",
            "item C: <item> lacks <item_id>",
            "item ?: <item> lacks <item_id>",
        ),
    )


async def test_each_page_is_asked_by_its_number_and_window_and_hands_on_its_count() -> None:
    asked: list[IncidentsQuery] = []

    async def ask(query: IncidentsQuery) -> Listed:
        asked.append(query)
        return page_of(
            f"<page>{query.page}</page><total_paging>2</total_paging>"
            f"<nb_total_result>3</nb_total_result><item><item_id>I{query.page}</item_id>"
            "<quantity>1</quantity></item><item><item_id>bad</item_id></item>"
        )

    client = SimpleNamespace(shop={"shop_id": "S"}, listed=ask)
    shop = FnacShop(client, msgspec.structs.replace(LIMITS, page_size=1))  # type: ignore[arg-type]
    fetch = shop.pages(IncidentsQuery, "UpdatedAt", sort="ASC")
    listing: Listing[str, Any, Any] = Listing(Renumbered(1), iso_window, fetch)
    end = START + timedelta(days=1)
    first = await listing.page(None, START, end, item_ids)
    assert (first.items, first.unreadable) == (("I1",), ("item bad: <item> lacks <quantity>",))
    assert first.next_cursor is not None
    state = state_of(first.next_cursor, Pages)
    assert (state.page, state.total) == (2, 3)
    last = await listing.page(first.next_cursor, START, end, item_ids)
    assert last.items == ("I2",) and last.next_cursor is None and last.complete_until == end
    window = DateRange(type="UpdatedAt", min=xml_instant(START), max=xml_instant(end))
    assert asked == [
        IncidentsQuery(page=n, results_count=1, date=window, sort="ASC") for n in (1, 2)
    ]
