"""A page a poll listed again is skipped (no dedupe, no threads' write) only while the
shop's row is as this process's last poll left it, and only when the page is the same —
every page of the poll, not its last only: a busy shop's overlap holds several."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from keybuzz_poller.shops.domain import (
    ListedPage,
    SeenPages,
    Shop,
    ShopCursor,
    ShopStart,
    ThreadState,
)
from keybuzz_poller.shops.poll import poll_shop
from poller_shop_fakes import fake_shops
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


async def test_a_poll_listing_every_page_as_the_last_one_left_them_asks_the_store_nothing() -> None:
    fake = fake_shops()  # pages of two messages
    await connected(fake)
    fake.marketplace.messages_listed.extend(message(f"m{n}", n) for n in range(1, 6))
    await poll_shop(fake.ports, SHOP)  # three pages, stored
    asked: list[list[str]] = []
    known = fake.store.known_messages

    async def counted(shop: Shop, message_ids: Sequence[str]) -> set[str]:
        asked.append(list(message_ids))
        return await known(shop, message_ids)

    fake.store.known_messages = counted  # type: ignore[method-assign]
    cursor = (await fake.store.started(SHOP)).cursor
    # The shop's row as the poll left it (its count of listed messages: the schedule's).
    await poll_shop(fake.ports, SHOP, ShopStart(cursor=cursor, fetched=5))
    assert asked == []
    fake.marketplace.messages_listed.append(message("m6", 6))
    await poll_shop(fake.ports, SHOP, ShopStart(cursor=cursor, fetched=10))
    assert asked == [["m5", "m6"]]  # the page that changed, only
    assert ("t1", "FNAC", "m6") in fake.store.tables.messages


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
