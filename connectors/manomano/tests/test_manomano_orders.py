"""ManoMano's orders as the seam's: each status as docs/MANOMANO.md's table says, an
order off its shape or with an id that is not ManoMano's left out and said, a page read
from its pagination block; no server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from keybuzz_connector_manomano.orders import ORDER_STATES, orders_page, read_order
from keybuzz_double_manomano.sellers import order
from keybuzz_shared.connectors.seam import DELIVERY_STATUSES, ORDER_STATUSES

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def listed(state: str, **changed: Any) -> dict[str, Any]:
    made = order(1001, "M100100000001", 0, NOW, NOW) | {"status": state}
    return made | changed


@pytest.mark.parametrize(
    ("status", "ours", "delivery"),
    [
        ("WAITING_PAYMENT", "PENDING", None),
        ("PENDING", "PENDING", None),
        ("PREPARATION", "CONFIRMED", "PREPARING"),
        ("SHIPPED", "SHIPPED", "SHIPPED"),
        ("REFUSED", "CANCELLED", None),
        ("CANCELLED", "CANCELLED", None),
        ("REFUNDING", "RETURNED", None),
        ("REFUNDED", "RETURNED", None),
        ("SOMETHING_NEW", "PENDING", None),
    ],
)
def test_each_status_maps_to_ours_its_own_word_kept(
    status: str, ours: str, delivery: str | None
) -> None:
    summary = read_order(listed(status))
    assert (summary.state, summary.status, summary.delivery_status) == (status, ours, delivery)


def test_every_mapped_status_is_in_our_vocabulary() -> None:
    for ours, delivery in ORDER_STATES.values():
        assert ours in ORDER_STATUSES and (delivery is None or delivery in DELIVERY_STATUSES)


def test_an_order_reads_its_buyer_lines_and_prices() -> None:
    summary = read_order(listed("SHIPPED"))
    assert summary.external_id == "M100100000001"
    assert summary.buyer_name == "Camille Petit"
    line = summary.lines[0]
    assert (line.seller_sku, line.quantity, str(line.unit_price), line.currency) == (
        "PERC-18V",
        1,
        "89.90",
        "EUR",
    )


def test_a_line_has_its_own_status_else_its_orders() -> None:
    made = listed("SHIPPED")
    refunded = {**made["products"][0], "status": "refunded"}
    summary = read_order(made | {"products": [refunded, made["products"][0]]})
    assert [(line.state, line.status) for line in summary.lines] == [
        ("REFUNDED", "RETURNED"),
        ("SHIPPED", "SHIPPED"),
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"order_reference": "403-1027206-4659269"},  # another marketplace's id
        {"created_at": "yesterday"},
        {"status": 12},
    ],
)
def test_an_order_off_its_shape_is_refused_saying_why(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="order off its shape"):
        read_order(listed("SHIPPED", **bad))


def test_a_page_says_whether_another_follows() -> None:
    assert orders_page({"content": [1], "pagination": {"page": 1, "pages": 2}}) == ([1], True)
    assert orders_page({"content": [], "pagination": {"page": 2, "pages": 2}}) == ([], False)
    for garbage in ([], {"content": "x"}, "<html>", None):
        with pytest.raises(ValueError):
            orders_page(garbage)
