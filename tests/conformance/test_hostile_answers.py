"""The conformance suite: hostile answers from a marketplace, JSON or XML — nested past
what the decoder takes, a number no type holds, text where the API has numbers or dates,
every key given twice — never store a wrong message, never crash a poll: an answer no
decoder takes fails the shop's polls while it lasts (connected, nothing stored or
announced), and a number no type holds does too unless it sits in a field the connector's
own types skip unread (then the answer is read, the message written meanwhile stored once);
mistyped items are set aside; and the message written meanwhile is stored once after.
Duplicate keys are read as their last value, as msgspec and most decoders do. The XML
doubles answer alike (``conformance.XML_FAULTS``); XML carries no number nor key given
twice (``conformance.CANNOT_CARRY``: those cases skipped there)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from keybuzz_sandbox.conformance import Fault, ShopDriver, Unsupported, Written
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import (
    Connected,
    Stack,
    connected,
    holds,
    poll_now,
    polled_since,
    shop_status,
    stored_ids,
    tickets,
)
from tests.conformance.test_shop_api_connectors import (
    NEXT_POLL,
    Polled,
    first_polled,
    polled_shop,
    refused_without_harm,
    shops,
    skip_unless_answered,
    stored_after,
    ticket_of,
)
from tests.stack_fixture import wait_for

HOSTILE_JSON: list[Fault] = ["DEEP_NESTING", "HUGE_NUMBER"]


@pytest.mark.parametrize("fault", HOSTILE_JSON)
async def test_hostile_answers_fail_the_poll_cleanly_and_nothing_is_lost(
    conformance: Stack, connector: Connector, driver: ShopDriver, fault: Fault
) -> None:
    skip_unless_answered(driver, fault)
    async with polled_shop(conformance, connector, driver) as polled:
        if fault == "HUGE_NUMBER" and await read_past_the_number(conformance, driver, polled):
            return
        failed = await refused_without_harm(conformance, connector, driver, polled, fault)
    # The marketplace's answer judged unreadable, not an error of ours escaping the client.
    assert failed["lastError"].startswith(f"{connector.marketplace}: "), failed["lastError"]


async def read_past_the_number(conformance: Stack, driver: ShopDriver, polled: Polled) -> bool:
    """Whether the connector reads past a number no type holds in a field it does not read
    (the double puts it first in the answer): a connector decoding answers into its own
    types skips that field unread, where one reading JSON values must refuse the answer.
    True once the message written under the fault is stored, once, with its words; False,
    the fault left on, when the poll failed first (``refused_without_harm`` holds it)."""
    await driver.set_fault(conformance.admin, "HUGE_NUMBER")
    text = "un nombre que nul type ne tient, à côté"
    written = await driver.buyer_writes(conformance.admin, polled.shop, text)
    failed_before = polled.first["lastErrorAt"]
    await poll_now(conformance, polled.mine)  # what the poll does is asserted, not when

    async def outcome() -> str | None:
        status = await shop_status(conformance, polled.mine)
        if status is not None and status["lastErrorAt"] != failed_before:
            return "failed"
        return "read" if await holds(conformance, polled.mine, written.message_id) else None

    if await wait_for(outcome, NEXT_POLL, "a poll under HUGE_NUMBER") == "failed":
        return False
    assert (await stored_ids(conformance, polled.mine)).count(written.message_id) == 1
    ticket = await ticket_of(conformance, polled.mine, written)
    assert [m["body"] for m in ticket["messages"] if m["externalId"] == written.message_id] == [
        text
    ]
    await driver.clear_faults(conformance.admin)
    return True


@asynccontextmanager
async def written_while(
    conformance: Stack, connector: Connector, driver: ShopDriver, fault: Fault | None, text: str
) -> AsyncIterator[tuple[Connected, dict[str, Any], Written]]:
    """A shop of the double connected and polled once; then its double answering ``fault``
    (None: as it should) and its buyer writing ``text``. Skipped where the double can do
    neither (a fault it cannot answer: before connecting the shop)."""
    if fault is not None:
        skip_unless_answered(driver, fault)
    [shop] = await shops(conformance, driver)
    async with connected(conformance, connector, shop) as mine:
        first = await first_polled(conformance, mine)
        if fault is not None:
            await driver.set_fault(conformance.admin, fault)
        try:
            written = await driver.buyer_writes(conformance.admin, shop, text)
        except Unsupported as exc:  # a text its wire format cannot carry
            pytest.skip(str(exc))
        yield mine, first, written


async def test_mistyped_items_are_set_aside_and_read_once_the_marketplace_answers_right(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    """Text where the API has numbers or dates (JSON: numbers where it has strings): each
    item is left out as unreadable (the poll goes on), and the listing is not taken as read
    past them. Nor stored under another id (one a connector derives from the item's date)."""
    text = "mal typé"
    async with written_while(conformance, connector, driver, "MISTYPED", text) as (
        mine,
        first,
        written,
    ):
        during = await polled_since(conformance, mine, first["lastSuccessAt"], NEXT_POLL, True)
        assert written.message_id not in await stored_ids(conformance, mine)
        assert await stored_saying(conformance, mine, text) == 0
        await driver.clear_faults(conformance.admin)
        await stored_after(conformance, mine, written.message_id, during["lastSuccessAt"], True)
        assert (await stored_ids(conformance, mine)).count(written.message_id) == 1
        assert await stored_saying(conformance, mine, text) == 1


async def stored_saying(conformance: Stack, mine: Connected, text: str) -> int:
    """How many messages stored for the shop say ``text``, whatever their ids."""
    listed = await tickets(conformance, mine)
    return sum(m["body"] == text for t in listed for m in t["messages"])


async def test_duplicate_keys_are_read_as_their_last_value(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    text = "clés en double"
    async with written_while(conformance, connector, driver, "DUPLICATE_KEYS", text) as (
        mine,
        first,
        written,
    ):
        await stored_after(conformance, mine, written.message_id, first["lastSuccessAt"], True)
        ticket = await ticket_of(conformance, mine, written)
    [message] = [m for m in ticket["messages"] if m["externalId"] == written.message_id]
    assert message["body"] == text
