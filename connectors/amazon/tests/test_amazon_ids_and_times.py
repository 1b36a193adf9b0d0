"""Amazon's order ids in a text or a value (keybuzz_connector_amazon.ids) and its times,
UTC written with a Z (keybuzz_connector_amazon.times): fast, no servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from keybuzz_connector_amazon.ids import amazon_order_ids_in, is_amazon_order_id
from keybuzz_connector_amazon.times import amazon_time, parse_amazon_time


def test_amazon_time_is_utc_with_a_z_whatever_the_offset() -> None:
    paris = timezone(timedelta(hours=1))
    assert amazon_time(datetime(2026, 11, 22, 9, 30, 15, 999, tzinfo=paris)) == (
        "2026-11-22T08:30:15Z"
    )
    assert amazon_time(datetime(2026, 11, 22, 8, 0)) == "2026-11-22T08:00:00Z"  # naive = UTC
    parsed = parse_amazon_time("2026-11-22T09:30:15+01:00")
    assert parsed == datetime(2026, 11, 22, 8, 30, 15, tzinfo=UTC) and parsed.tzinfo == UTC
    assert parse_amazon_time("2026-11-22T08:30:15Z") == parsed


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Order 405-1234567-1234567 ...", ["405-1234567-1234567"]),
        ("#405-1234567-1234567#", ["405-1234567-1234567"]),
        ("1405-1234567-1234567", []),  # a longer number is not an order id
        ("405-1234567-12345678", []),
        (
            "a 405-1234567-1234567 and 171-0000000-0000001",
            ["405-1234567-1234567", "171-0000000-0000001"],
        ),
    ],
)
def test_order_ids_in_text_stand_between_non_digits(text: str, found: list[str]) -> None:
    assert amazon_order_ids_in(text) == found


def test_a_whole_value_is_an_order_id_or_not() -> None:
    assert is_amazon_order_id("405-1234567-1234567")
    assert not is_amazon_order_id("405-1234567-1234567\n")
    assert not is_amazon_order_id(" 405-1234567-1234567")
