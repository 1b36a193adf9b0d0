"""Rakuten's rule of whom a reply may go to, through the services on the double: a buyer's
message on an item under claim polled into a ticket whose state says so, then a reply to
the buyer refused before it is queued (409, Rakuten's rule named, nothing sent), one to
Rakuten's customer service queued. The suite's oauth and poller of this module's own, on
a sandbox of its own (the conformance harness)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from keybuzz_connector_rakuten.connector import CONNECTOR
from keybuzz_devstack.testing import SANDBOX_TIME_SCALE
from keybuzz_sandbox.config import config_from_env
from keybuzz_sandbox.conformance import Written
from keybuzz_sandbox.testing import running_sandbox

from tests.conformance.harness import Stack, StackOn, connected, driver_of, headers, stacks  # noqa: F401
from tests.conformance.test_shop_api_connectors import first_polled, shops, stored_after, ticket_of


@pytest.fixture(scope="module")
async def conformance_sandbox() -> AsyncIterator[str]:
    config = config_from_env({"SANDBOX_TIME_SCALE": str(SANDBOX_TIME_SCALE)})
    async with running_sandbox(config) as url:
        yield url


@pytest.fixture(scope="module")
async def conformance(conformance_sandbox: str, stacks: StackOn) -> AsyncIterator[Stack]:  # noqa: F811
    async with stacks(conformance_sandbox) as found:
        yield found


async def replied(conformance: Stack, tenant: str, ticket: str, recipient: str) -> httpx.Response:
    async with conformance.poller.client() as http:
        return await http.post(
            f"/api/v1/tickets/{ticket}/replies",
            json={"text": f"Réponse à {recipient}", "recipient": recipient},
            headers=headers(tenant),
        )


async def test_a_reply_to_the_buyer_of_an_item_under_claim_is_refused_before_queueing(
    conformance: Stack,
) -> None:
    driver = driver_of(CONNECTOR)
    [shop] = await shops(conformance, driver)
    async with connected(conformance, CONNECTOR, shop) as mine:
        first = await first_polled(conformance, mine)
        body = {"body": "Article abîmé", "claim": "OPEN"}
        opened = await conformance.admin.post(
            f"{driver.admin}/shops/{shop.account}/threads", json=body
        )
        written = Written(opened.json()["messageId"], opened.json()["orderId"])
        await stored_after(conformance, mine, written.message_id, first["lastSuccessAt"], True)
        ticket = await ticket_of(conformance, mine, written)
        assert ticket["claim"] is True
        refused = await replied(conformance, mine.tenant, ticket["id"], "BUYER")
        assert refused.status_code == 409, refused.text
        assert "claim is open" in refused.text
        queued = await replied(conformance, mine.tenant, ticket["id"], "MARKETPLACE_SUPPORT")
        assert queued.status_code == 202, queued.text
    assert await driver.sent(conformance.admin, shop, "Réponse à BUYER") == []
