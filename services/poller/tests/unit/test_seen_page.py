"""A page a poll listed again is skipped (no dedupe, no threads' write) only while the
shop's row is as this process's last poll left it, and only when the page is the same —
every page of the poll, not its last only: a busy shop's overlap holds several."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import msgspec
from keybuzz_poller.shops.domain import (
    ListedPage,
    SeenPages,
    Shop,
    ShopCursor,
    ShopStart,
    ThreadState,
)
from keybuzz_poller.shops.poll import _Listing, poll_shop
from keybuzz_shared.connectors.seam import InboxMessage
from poller_shop_fakes import FakeShops, fake_shops
from poller_shop_fakes import shop_message as message
from test_shop_polling import SHOP, connected, incident

LEFT = ShopCursor(messages_since=datetime(2026, 11, 27, 1, 0, tzinfo=UTC))
STATES = (ThreadState(thread_key="order:1", claim=False),)
PAGE = ListedPage(message_ids=("m1", "m2"), states=STATES, clocks=())
SEEN = SeenPages(cursor=LEFT, fetched=12, pages=(PAGE,))


def test_the_last_pages_hold_while_the_shops_row_is_as_its_poll_left_it() -> None:
    assert SEEN.still(ShopStart(cursor=LEFT, fetched=12))


def test_another_poll_since_or_a_reset_cursor_drops_them() -> None:
    assert not SEEN.still(ShopStart(cursor=LEFT, fetched=14))  # another poll listed 2
    assert not SEEN.still(ShopStart(cursor=ShopCursor(), fetched=12))  # received forgotten


def test_a_page_whose_messages_thread_states_or_place_differ_is_not_the_same() -> None:
    assert SEEN.repeated(0, PAGE)
    assert not SEEN.repeated(
        0, ListedPage(message_ids=("m1", "m2", "m3"), states=STATES, clocks=())
    )
    claimed = (ThreadState(thread_key="order:1", claim=True),)
    assert not SEEN.repeated(0, ListedPage(message_ids=("m1", "m2"), states=claimed, clocks=()))
    assert not SEEN.repeated(1, PAGE)  # the last poll listed one page only


def dedupe_reads(fake: FakeShops) -> list[list[str]]:
    """The ids each dedupe read of the store asks for, from now on."""
    asked: list[list[str]] = []
    known = fake.store.known_messages

    async def counted(shop: Shop, message_ids: Sequence[str]) -> set[str]:
        asked.append(list(message_ids))
        return await known(shop, message_ids)

    fake.store.known_messages = counted  # type: ignore[method-assign]
    return asked


async def test_a_poll_listing_every_page_as_the_last_one_left_them_asks_the_store_nothing() -> None:
    fake = fake_shops()  # pages of two messages
    await connected(fake)
    fake.marketplace.messages_listed.extend(message(f"m{n}", n) for n in range(1, 6))
    await poll_shop(fake.ports, SHOP)  # three pages, stored
    asked = dedupe_reads(fake)
    cursor = (await fake.store.started(SHOP)).cursor
    # The shop's row as the poll left it (its count of listed messages: the schedule's).
    await poll_shop(fake.ports, SHOP, ShopStart(cursor=cursor, fetched=5))
    assert asked == []
    fake.marketplace.messages_listed.append(message("m6", 6))
    await poll_shop(fake.ports, SHOP, ShopStart(cursor=cursor, fetched=10))
    # The page that changed: m5 the last poll listed (stored), m6 past the cursor and not
    # listed then (new): nothing asked.
    assert asked == []
    assert ("t1", "FNAC", "m6") in fake.store.tables.messages
    # One at or before the cursor the last poll did not list may be stored: asked.
    fake.marketplace.messages_listed.append(message("m7", 6))
    left = fake.ports.seen_pages[SHOP.key]
    await poll_shop(fake.ports, SHOP, ShopStart(cursor=left.cursor, fetched=left.fetched))
    assert asked == [["m7"]]
    assert ("t1", "FNAC", "m7") in fake.store.tables.messages


async def test_a_poll_after_one_its_bound_cut_asks_the_store_for_every_message() -> None:
    """A cut listing sets the cursor back: messages past it may be stored."""
    fake = fake_shops()
    await connected(fake)
    fake.marketplace.messages_listed.extend(message(f"m{n}", n) for n in range(1, 6))
    await poll_shop(fake.ports, SHOP)
    seen = fake.ports.seen_pages[SHOP.key]
    assert seen.whole
    fake.ports.seen_pages[SHOP.key] = msgspec.structs.replace(seen, whole=False)
    asked = dedupe_reads(fake)
    fake.marketplace.messages_listed.append(message("m6", 6))
    start = ShopStart(cursor=(await fake.store.started(SHOP)).cursor, fetched=5)
    assert (await poll_shop(fake.ports, SHOP, start)).stored == 1
    assert asked and asked[-1][-1] == "m6"


async def test_an_open_incident_listed_again_as_the_last_poll_left_it_costs_no_unit_of_work() -> (
    None
):
    fake = fake_shops()
    await connected(fake)
    fake.marketplace.incidents_listed.append(incident("INC1"))
    await poll_shop(fake.ports, SHOP)  # stored, its ticket opened
    commits, cursor = fake.unit_of_work.commits, (await fake.store.started(SHOP)).cursor
    # An open incident is in every poll's overlap: listed again as stored, nothing to write.
    await poll_shop(fake.ports, SHOP, ShopStart(cursor=cursor, fetched=1))
    assert fake.unit_of_work.commits == commits
    # Changed at the marketplace (closed): stored again.
    fake.marketplace.incidents_listed[0] = incident("INC1", status="CLOSED")
    await poll_shop(fake.ports, SHOP, ShopStart(cursor=cursor, fetched=2))
    assert fake.unit_of_work.commits == commits + 1


async def test_a_listing_is_whole_only_once_read_to_its_end() -> None:
    """A listing the poll's bound or the day's allowance left before its end is not whole."""

    async def pages() -> AsyncIterator[list[InboxMessage]]:
        yield [message("a", 1)]
        yield [message("b", 2)]

    left, read = _Listing(pages()), _Listing(pages())
    async for _ in left.each():
        break
    assert [page async for page in read.each()] and read.read_whole
    assert not left.read_whole
