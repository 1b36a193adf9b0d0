"""A page a poll listed again is skipped (no dedupe, no threads' write) only while the
shop's row is as this process's last poll left it, and only when the page is the same."""

from __future__ import annotations

from datetime import UTC, datetime

from keybuzz_poller.shops.domain import SeenPage, ShopCursor, ShopStart, ThreadState

LEFT = ShopCursor(messages_since=datetime(2026, 11, 27, 1, 0, tzinfo=UTC))
PAGE = SeenPage(
    cursor=LEFT,
    fetched=12,
    message_ids=("m1", "m2"),
    states=(ThreadState(thread_key="order:1", claim=False),),
    clocks=(),
)


def test_the_last_page_holds_while_the_shops_row_is_as_its_poll_left_it() -> None:
    assert PAGE.still(ShopStart(cursor=LEFT, fetched=12))


def test_another_poll_since_or_a_reset_cursor_drops_it() -> None:
    assert not PAGE.still(ShopStart(cursor=LEFT, fetched=14))  # another poll listed 2
    assert not PAGE.still(ShopStart(cursor=ShopCursor(), fetched=12))  # received forgotten


def test_a_page_whose_messages_or_thread_states_differ_is_not_the_same() -> None:
    states = list(PAGE.states)
    assert PAGE.repeated(["m1", "m2"], states, [])
    assert not PAGE.repeated(["m1", "m2", "m3"], states, [])
    claimed = [ThreadState(thread_key="order:1", claim=True)]
    assert not PAGE.repeated(["m1", "m2"], claimed, [])
