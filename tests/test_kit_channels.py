"""Orders listed channel by channel (``kit.ListedOrders.each_of``), on fakes: each channel's
listings asked with its name (none without a channel), read in turn by one cursor, the last page complete until the earliest channel's end
(an order changed in a channel read first is listed again by the next listing), no channel
known one listing without any, each listing's channels carried by name in its cursor (a
listing begun meanwhile or a change of channels leaves it whole), the cursors of the earlier
layouts still read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.kit.orders import ChannelCursor, EachChannel
from keybuzz_shared.connectors.seam import OrderSummary, Page, cursor_of

from tests.test_kit_listing import Calls

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def order(order_id: str, channel: str | None) -> OrderSummary:
    return OrderSummary(
        external_id=order_id,
        state="open",
        status="PENDING",
        created_at=T0,
        updated_at=T0,
        lines=(),
        sales_channel=channel,
    )


class Channel:
    """One channel's listing: two pages, complete until ``until``."""

    def __init__(self, name: str | None, until: datetime) -> None:
        self.name, self.until = name, until
        self.cursors: list[str | None] = []

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        self.cursors.append(cursor)
        if cursor is None:
            return Page(items=(order(f"{self.name}-1", self.name),), next_cursor="second")
        assert cursor == "second", cursor
        return Page(
            items=(order(f"{self.name}-2", self.name),), next_cursor=None, complete_until=self.until
        )


def across(names: list[str]) -> tuple[Any, dict[str | None, Channel]]:
    made: dict[str | None, Channel] = {}

    async def channels() -> Sequence[str]:
        return list(names)  # as asked now: a test may change them

    def listed(name: str | None) -> Any:
        # The first channel's listing ends earliest: it began first.
        made[name] = Channel(name, T0 + timedelta(minutes=len(made)))
        return made[name]

    return EachChannel(channels, listed), made


async def walk(source: Any, cursor: str | None = None) -> tuple[list[str], datetime | None]:
    ids: list[str] = []
    while True:
        page = await source.orders(since=T0, cursor=cursor)
        ids += [o.external_id for o in page.items]
        if page.next_cursor is None:
            return ids, page.complete_until
        assert page.complete_until is None
        cursor = page.next_cursor


async def test_each_channels_listings_are_asked_with_its_name_none_without_a_channel() -> None:
    asked: list[str | None] = []

    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], bool]:
        asked.append(query.get("storefront"))
        return [], False

    async def no_ids(ids: str) -> list[Any]:
        return []

    listing = kit.Listing(kit.Listing.PageNumbers[OrderSummary](), lambda low, high: {}, fetch)
    names = ["fr", "de"]

    async def channels() -> Sequence[str]:
        return list(names)

    orders = kit.ListedOrders(
        updated=listing,
        created=listing,
        by_id=kit.ListedOrders.InLists(no_ids, 2),
        read=lambda raw: order("O", None),
        calls=Calls(),
    )
    each = orders.each_of(channels, "storefront")
    await walk(each)
    cursor = (await each.orders_created(start=T0, end=T0 + timedelta(days=1))).next_cursor
    await each.orders_created(start=T0, end=T0 + timedelta(days=1), cursor=cursor)
    names[:] = []
    await walk(each)
    assert asked == ["fr", "de", "fr", "de", None]


async def test_each_channel_is_listed_in_turn_complete_until_the_earliest_end() -> None:
    source, made = across(["fr", "de", "it"])
    ids, until = await walk(source)
    assert ids == ["fr-1", "fr-2", "de-1", "de-2", "it-1", "it-2"]
    assert until == T0  # fr's, listed first
    assert [made[n].cursors for n in ("fr", "de", "it")] == [[None, "second"]] * 3


async def test_without_a_channel_known_one_listing_has_none() -> None:
    source, made = across([])
    assert await walk(source) == (["None-1", "None-2"], T0)
    assert list(made) == [None]


async def test_a_listing_keeps_its_channels_whatever_another_listing_or_a_change_does() -> None:
    names = ["fr", "de"]
    source, _ = across(names)
    first = (await source.orders(since=T0)).next_cursor
    names[:] = ["it"]  # the seller's channels change; another listing begins
    assert [o.external_id for o in (await source.orders(since=T0)).items] == ["it-1"]
    ids, _ = await walk(source, first)
    assert ids == ["fr-2", "de-1", "de-2"]


async def test_a_cursor_of_the_earlier_layouts_is_read_on_the_channels_asked_again() -> None:
    source, _ = across(["fr", "de"])
    placed = cursor_of((1, "second", None))  # de's second page by its place, no channels
    assert (await walk(source, placed))[0] == ["de-2"]
    ids, _ = await walk(source, "second")  # a listing of a single channel: the first's
    assert ids == ["fr-2", "de-1", "de-2"]


async def test_an_order_a_page_names_twice_is_read_once() -> None:
    """A page of order units names an order once a unit: it is read, and listed, once."""
    read: list[str] = []

    async def get(path: str) -> Any:
        read.append(path)
        return {"id_order": path.rsplit("/", 1)[1]}

    async def fetch(query: dict[str, str], link: str | None) -> tuple[list[Any], int]:
        return [{"id_order": "A"}, {"id_order": "A"}, {"id_order": "B"}], 3

    each = kit.ListedOrders.EachById(get, "orders").each_listed(fetch, "id_order")
    items, total = await each({}, None)
    assert read == ["orders/A", "orders/B"] and total == 3
    assert [i["id_order"] for i in items] == ["A", "B"]


async def test_a_cursor_naming_a_channel_past_its_channels_is_refused() -> None:
    source, _ = across(["fr"])
    with pytest.raises(ValueError, match="not a cursor"):
        await source.orders(since=T0, cursor=cursor_of(ChannelCursor(1, None, None, ["fr"])))
