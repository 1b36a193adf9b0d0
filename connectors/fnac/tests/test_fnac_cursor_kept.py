"""A backfill job keeps its page's cursor in PostgreSQL (``order_backfill_jobs``) across
restarts: cursors Fnac's session handed out before its listings were the kit's still
continue where they were, and a cursor edited by hand is refused. No server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from keybuzz_connector_fnac.client import NS, parse, read_page, xml_instant
from keybuzz_connector_fnac.connector import LIMITS
from keybuzz_connector_fnac.models import (
    Listed,
    Paged,
)
from keybuzz_connector_fnac.session import session_of
from keybuzz_shared.connectors import kit

START, END = datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 8, 16, tzinfo=UTC)
# Written before the kit: an order listing's window [START, END), its page 3 next, 250
# orders at the last page read (the layout: since, until, page, total).
ORDERS_BEFORE_THE_KIT = "lNb_am03ANb_aoD9gAPM-g=="
# Fnac's last page of orders, page 3 of 250 orders: one order.
LAST_ORDERS = (
    f'<orders_query_response xmlns="{NS}" status="OK"><page>3</page><total_paging>3'
    "</total_paging><nb_total_result>250</nb_total_result><order><order_id>57BEAFDA828A8"
    f"</order_id><state>Shipped</state><created_at>{START.isoformat()}</created_at></order>"
    "</orders_query_response>"
)


class FakeFnac:
    """Fnac's last page of orders (one order), what was asked kept."""

    shop = {"shop_id": "S"}

    def __init__(self) -> None:
        self.asked: list[Any] = []

    async def authenticate(self) -> None:
        raise AssertionError("no call but the listings")

    async def listed(self, query: Paged) -> Listed:
        self.asked.append(query)
        return read_page(parse(LAST_ORDERS.encode()), "order")


def session(fnac: FakeFnac) -> kit.KitSession:
    return session_of(fnac, LIMITS)  # type: ignore[arg-type]


async def test_an_order_cursor_handed_out_before_the_kit_continues_its_window() -> None:
    fnac = FakeFnac()
    page = await session(fnac).orders_created(start=START, end=END, cursor=ORDERS_BEFORE_THE_KIT)
    (asked,) = fnac.asked
    assert asked.page == 3 and asked.date is not None
    assert (asked.date.type, asked.date.min) == ("CreatedAt", xml_instant(START))
    assert [o.external_id for o in page.items] == ["57BEAFDA828A8"]
    assert page.next_cursor is None and page.complete_until == END
    page = await session(fnac).orders(since=START, cursor=ORDERS_BEFORE_THE_KIT)
    assert fnac.asked[-1].page == 3 and fnac.asked[-1].date.type == "UpdatedAt"
    assert page.next_cursor is None and page.complete_until == END


async def test_a_cursor_edited_by_hand_is_refused() -> None:
    fnac = FakeFnac()
    # Cut short; an order listing's page 0; another layout (since, page: none it hands out).
    for cursor in (ORDERS_BEFORE_THE_KIT[:-6], "lNb_am03ANb_aoD9gADM-g==", "ktb_am03AAI="):
        with pytest.raises(ValueError, match="not a cursor"):
            await session(fnac).orders_created(start=START, end=END, cursor=cursor)
        with pytest.raises(ValueError, match="not a cursor"):
            await session(fnac).inbox_messages(since=START, cursor=cursor)
    assert fnac.asked == []
