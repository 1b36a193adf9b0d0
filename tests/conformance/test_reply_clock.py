"""The conformance suite: a reply the marketplace dates behind our clock is found by the
read-back, which looks a little before the queueing (``SENT_SKEW``), and sent once.

In a module of its own, on a sandbox, oauth and poller of its own (the others' are shared by
a worker's cases): the doubles date their buyers' messages on a timeline that runs faster
than real time (the sandbox's time scale), and this case dates the reply behind real time;
once a sandbox has run for minutes the thread's two clocks disagree by more than any
marketplace's would, which is the double's artifact, not the case's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from keybuzz_sandbox.conformance import ShopDriver
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import Stack, StackOn, connected, events, sandbox_running
from tests.conformance.test_shop_api_connectors import shops
from tests.conformance.test_shop_replies import sent_under


@pytest.fixture(scope="module")
async def conformance(infra_root: Path, stacks: StackOn) -> AsyncIterator[Stack]:
    """A stack of the module's own, its sandbox's clock started with it."""
    with sandbox_running(infra_root) as sandbox:
        async with stacks(sandbox) as found:
            yield found


async def test_a_reply_dated_behind_our_clock_is_found_and_sent_once(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    """Its answer lost, the reply is on the thread dated a minute before we queued it (the
    marketplace's clock is behind ours): the read-back, which looks a little before the
    queueing, finds it; SENT without a second copy."""
    [shop] = await shops(conformance, driver)
    async with connected(conformance, connector, shop) as mine:
        _, _, reply_id = await sent_under(
            conformance,
            driver,
            shop,
            mine,
            "REPLY_BEHIND",
            lambda ref: f"Votre facture {ref} est jointe à la commande.",
        )
        sent = await events(conformance, "message.sent", mine.tenant)
        assert [e["ticketMessageId"] for e in sent] == [reply_id]
