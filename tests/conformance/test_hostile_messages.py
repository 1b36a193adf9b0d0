"""The conformance suite: one message a connector cannot map or store as it came costs that
message only — never the rest of the shop's inbox. A buyer writes a message with content
PostgreSQL's text cannot hold as it is (a NUL), other control characters and a
bidirectional override, then a healthy one: the healthy one becomes a ticket, the hostile
one is stored with the NUL replaced, and the shop's polls do not fail. (A hostile attachment
link or id costs that file only: the poller refuses what its connector cannot fetch, held
by each connector's tests, e.g. Mirakl's ``test_a_hostile_attachment_id_costs_…``.)"""

from __future__ import annotations

from typing import Any

from keybuzz_sandbox.conformance import ShopDriver
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import Stack, shop_status, tickets
from tests.conformance.test_hostile_json import written_while
from tests.conformance.test_shop_api_connectors import stored_after

HOSTILE_TEXT = "Bonjour\x00 colis\x01 abîmé \u202eenu\u202c \x7f fin"


def _bodies(found: list[dict[str, Any]]) -> list[str]:
    return [m.get("body") or "" for t in found for m in t["messages"]]


async def test_a_message_with_control_characters_costs_that_message_only(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    async with written_while(conformance, connector, driver, None, HOSTILE_TEXT) as (
        mine,
        first,
        _,
    ):
        healthy = await driver.buyer_writes(conformance.admin, mine.shop, "Un message sain")
        await stored_after(conformance, mine, healthy.message_id, first["lastSuccessAt"])
        status = await shop_status(conformance, mine)
        assert status is not None and status["consecutiveFailures"] == 0, status
        [kept] = [b for b in _bodies(await tickets(conformance, mine)) if "colis" in b]
    assert "\x00" not in kept and "abîmé" in kept and kept.endswith("fin")
