"""The conformance suite: a reply the marketplace dates behind our clock is found by the
read-back, which looks a little before the queueing (``SENT_SKEW``), and sent once.

In a module of its own, on a sandbox, oauth and poller of its own (the others' are shared by
a worker's cases). The doubles date their buyers' messages on a timeline that runs faster
than real time (the sandbox's time scale) and this case dates the reply behind real time,
on that timeline too (``faults.reply_dating``). The sandbox is one that has run for
minutes (``RAN_FOR``), as on a loaded machine: a double that dated the reply by the real
time read as its own timeline's showed it back near the sandbox's start, before the
read-back's window, and the reply was posted twice; on a fresh sandbox only under load."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from keybuzz_sandbox.conformance import REPLY_BEHIND_SECONDS, ShopDriver
from keybuzz_shared.connectors.seam import Connector

from tests.conformance.harness import Stack, StackOn, connected, events, sandbox_running
from tests.conformance.test_shop_api_connectors import shops
from tests.conformance.test_shop_replies import sent_under

# Longer than it takes a timeline twenty times faster than real time to leave the
# read-back's two minutes behind (``SENT_SKEW``): a couple of minutes of a loaded start.
RAN_FOR = 600.0

# The first case also pays for its own stack's first calls (oauth's and the poller's pools,
# tokens, consumers): 4.4 s against 1.5-2 s for the others on a quiet machine. At a load of
# 15-19 that put Back Market's case (the first) past the suite's 120 s, its last wait (a
# poll storing the buyer's message) bounded by what was left (34.6 s). Twice the limit.
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
async def conformance(infra_root: Path, stacks: StackOn) -> AsyncIterator[Stack]:
    """A stack of the module's own, on a sandbox that has run for ``RAN_FOR``."""
    with sandbox_running(infra_root, ran_for=RAN_FOR) as sandbox:
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
        began = time.monotonic()
        ticket, _, reply_id, shown = await sent_under(
            conformance,
            connector,
            driver,
            shop,
            mine,
            "REPLY_BEHIND",
            lambda ref: f"Votre facture {ref} est jointe à la commande.",
        )
        sent = await events(conformance, "message.sent", mine.tenant)
        assert [e["ticketMessageId"] for e in sent] == [reply_id]
        # Dated behind the buyer's message it answers, on the marketplace's clock (which
        # dates both: a double's timeline runs faster than real time), when the reply was
        # posted less than REPLY_BEHIND_SECONDS after that message (a machine slow enough
        # to take longer leaves the date nothing to tell): a double that ignored the fault
        # would let the case pass without proving anything.
        if time.monotonic() - began < REPLY_BEHIND_SECONDS:
            asked = max(m["sentAt"] for m in ticket["messages"] if m["direction"] == "INBOUND")
            dated = f"{connector.marketplace}'s thread dates the reply {shown.created_at}"
            assert shown.created_at < datetime.fromisoformat(asked), f"{dated}, not behind"
