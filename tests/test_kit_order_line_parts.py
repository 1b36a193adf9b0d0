"""The kit's parts an order source declares rather than writes: a line's unit price from
its price for the whole quantity (``unit_price``), an offset listing read as a windowed
``Listing`` (``JsonAnswers.offsets``) and a cursor an earlier version wrote as text still read
(Back Market's ``old_cursor``). No servers: each part on data or calls of the test's own; eBay's and
Back Market's tests hold them on their doubles."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from keybuzz_connector_backmarket.orders import old_cursor
from keybuzz_shared.connectors.kit import CallErrors, JsonAnswers, Listing, reader
from keybuzz_shared.connectors.kit.listing import Seek
from keybuzz_shared.connectors.kit.orders import unit_price
from keybuzz_shared.connectors.seam import CallAnswerUnreadable

ERRORS = CallErrors.labelled("Shop")
SINCE = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("total", "quantity", "unit"),
    [
        ("59.97", 3, Decimal("19.99")),
        (12.5, 1, Decimal("12.5")),  # a JSON number, read as written
        ("0.30", 3, Decimal("0.10")),  # exactly, no float between
        (None, 2, None),
        ("n/a", 2, None),
        ("10.00", 0, None),  # no item to price
    ],
)
def test_a_lines_unit_price_is_its_total_divided_by_its_quantity(
    total: Any, quantity: int, unit: Decimal | None
) -> None:
    assert unit_price(total, quantity) == unit


class Offsets:
    """A listing by ``limit`` and ``offset``: ``items`` in pages, ``next`` while more
    follow; what was asked kept."""

    def __init__(self, items: list[int], answer: Any = None) -> None:
        self.items = items
        self.answer = answer
        self.asked: list[tuple[str, dict[str, str], str]] = []
        self.errors = ERRORS

    async def get_json(self, path: str, params: dict[str, str], operation: str) -> Any:
        self.asked.append((path, params, operation))
        if self.answer is not None:
            return self.answer
        offset, limit = int(params["offset"]), int(params["limit"])
        more = offset + limit < len(self.items)
        return {"items": self.items[offset : offset + limit], "next": "n" if more else None}


def since_query(low: datetime, high: datetime | None) -> dict[str, str]:
    return {"since": low.date().isoformat()}


def listing(client: Any) -> Listing[int, Any, str | None]:
    pages = JsonAnswers(client, items="items", items_optional=True)
    return Listing(Seek[int](), since_query, pages.offsets("items", 2, operation="getItems"))


async def test_an_offset_listing_reads_each_page_at_its_offset_until_none_follows() -> None:
    client = Offsets([1, 2, 3, 4, 5])
    items = listing(client)
    every = await items.every(items.start(SINCE, None, updated=True), reader(int, "an item"))
    assert every.items == (1, 2, 3, 4, 5)
    assert [(path, op) for path, _, op in client.asked] == [("items", "getItems")] * 3
    assert [asked for _, asked, _ in client.asked] == [
        {"since": "2026-11-01", "limit": "2", "offset": str(offset)} for offset in (0, 2, 4)
    ]


async def test_an_offset_listings_page_names_the_next_offset_in_its_cursor() -> None:
    client = Offsets([1, 2, 3])
    items = listing(client)
    first = await items.page(None, SINCE, None, reader(int, "an item"))
    assert first.items == (1, 2) and first.next_cursor is not None
    last = await items.page(first.next_cursor, SINCE, None, reader(int, "an item"))
    assert last.items == (3,) and last.next_cursor is None
    assert client.asked[-1][1]["offset"] == "2"


async def test_an_offset_page_without_its_list_is_the_marketplaces_unreadable_answer() -> None:
    items = listing(Offsets([], answer={"items": {"1": 1}}))
    with pytest.raises(CallAnswerUnreadable, match="getItems"):
        await items.page(None, SINCE, None, reader(int, "an item"))


def test_a_cursor_written_as_text_earlier_is_read_as_the_state_its_fields_make() -> None:
    state = old_cursor("modified|2026-11-01T00:00:00+00:00|3")
    assert state == Listing.PageNumbers.state(True, SINCE, None, 3)
    assert old_cursor("created|2026-11-01T00:00:00Z|1") == Listing.PageNumbers.state(
        False, SINCE, None, 1
    )


@pytest.mark.parametrize(
    "cursor",
    [
        "modified|2026-11-01T00:00:00+00:00|0",  # off the pattern
        "modified|2026-11-01T00:00:00+00:00|3|",  # the pattern, not whole
        "modified|2026-13-01T00:00:00+00:00|3",  # a field the earlier listing never wrote
        "",
    ],
)
def test_any_other_text_is_no_cursor(cursor: str) -> None:
    assert old_cursor(cursor) is None
