"""Replies holding a control character a Fnac message cannot carry (U+000B, what a pasted
soft line break often is; U+0007), on the real servers: the poller against the sandbox's
Fnac double. Whatever happens to Fnac's answer, the double's thread holds one copy, the
ticket shows the reply once, and ``keybuzz_replies_total{status="SENT"}`` counts it once."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

import httpx
import pytest
from keybuzz_devstack.shop_api_testing import tenant_events
from keybuzz_devstack.testing import RunningService
from keybuzz_poller.replies.ports import MarketplaceReplies
from keybuzz_poller.replies.sender import send_due
from keybuzz_poller.shops.domain import Shop
from keybuzz_shared.connectors.seam import (
    InboxMessage,
    OutcomeUnknown,
    Reply,
    ReplyOutcome,
    ThreadKey,
)
from keybuzz_shared.vault import VaultClient
from test_fnac_polling import admin, poll, ticket_of
from test_fnac_replies import (
    LEASE,
    DiesAfterSending,
    fnac_ticket,
    poller,
    post_reply,
    replies,
    reply_row,
)

__all__ = ["admin", "poller"]  # fixtures of the other files used here
SENT = 'keybuzz_replies_total{service="poller",status="SENT"'
CHARACTERS = {"vertical tab": "\x0b", "bell": "\x07"}


async def copies(admin: httpx.AsyncClient, spec: dict[str, Any], marker: str) -> list[Any]:
    sent = (await admin.get(f"/shops/{spec['shop_id']}/sent")).json()["sent"]
    return [s for s in sent if marker in s["description"]]


def shown(ticket: dict[str, Any], marker: str) -> list[dict[str, Any]]:
    return [m for m in ticket["messages"] if marker in m["body"]]


async def sent_by_sender(poller: RunningService, admin: httpx.AsyncClient, how: str) -> None:
    """One send of the queued reply, as ``how`` says it goes."""
    ports = replies(poller)
    if how == "answer lost after Fnac applied it":
        faults = {"operations": ["messages_update"], "malformedNext": 1}
        assert (await admin.put("/faults", json=faults)).status_code == 200
        await send_due(ports)
        return
    if how == "no fault":
        await send_due(ports)
        return
    apis = {m: DiesAfterSending(a) for m, a in ports.apis.items()}
    with pytest.raises(RuntimeError, match="killed"):
        await send_due(dataclasses.replace(ports, apis=apis))
    if how == "sender killed after Fnac had it, read back after the lease":
        await asyncio.sleep(LEASE + 0.5)
        assert await send_due(ports) >= 1
    # "…, found by the poll": the shop's next poll reads it back (below).


@pytest.mark.parametrize("character", list(CHARACTERS.values()), ids=list(CHARACTERS))
@pytest.mark.parametrize(
    "how",
    [
        "no fault",
        "answer lost after Fnac applied it",
        "sender killed after Fnac had it, read back after the lease",
        "sender killed after Fnac had it, found by the poll",
    ],
)
async def test_a_reply_with_a_control_character_is_sent_shown_and_counted_once(
    poller: RunningService,
    vault: VaultClient,
    admin: httpx.AsyncClient,
    character: str,
    how: str,
) -> None:
    spec, tenant_id, ticket = await fnac_ticket(poller, vault, admin, "Et ma commande ?")
    shop = Shop(tenant_id, "FNAC")
    marker = ticket["id"][-12:]  # the random end of a time-ordered id
    text = f"Bonjour,{character}votre colis part demain. {marker}"
    sent_before = await poller.metric(SENT)
    response = await post_reply(poller, tenant_id, ticket["id"], {"text": text})
    assert response.status_code == 202, response.text
    reply_id = response.json()["ticketMessageId"]
    await sent_by_sender(poller, admin, how)
    await poll(poller, shop)
    await poll(poller, shop)  # the listing's overlap reads it again
    if how.endswith("found by the poll"):
        await asyncio.sleep(LEASE + 0.5)  # the dead sender's lease runs out: nothing is sent
        await send_due(replies(poller))
    [copy] = await copies(admin, spec, marker)
    assert character not in copy["description"] and "\ufffd" not in copy["description"]
    polled = await ticket_of(poller, shop, ticket["orderId"])
    [mine] = shown(polled, marker)
    assert (mine["id"], mine["deliveryStatus"]) == (reply_id, "SENT")
    assert mine["body"] == copy["description"]  # what Fnac holds is what the ticket shows
    assert await poller.metric(SENT) - sent_before == 1


class ListsItLate(DiesAfterSending):
    """Fnac applies the reply but its answer is lost, and its listing does not show the
    reply yet when the sender reads the thread back."""

    def __init__(self, api: MarketplaceReplies) -> None:
        super().__init__(api)
        self.sent_messages = self.nothing_yet

    async def reply(self, tenant_id: str, reply: Reply) -> ReplyOutcome:
        await self.api.reply(tenant_id, reply)
        raise OutcomeUnknown("Fnac messages_update: the answer was lost")

    async def nothing_yet(
        self, tenant_id: str, thread: ThreadKey, since: datetime
    ) -> list[InboxMessage]:
        return []


async def test_a_reply_failed_in_doubt_that_reached_fnac_is_sent_shown_and_counted_once(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, tenant_id, ticket = await fnac_ticket(poller, vault, admin, "Alors ?")
    shop = Shop(tenant_id, "FNAC")
    marker = ticket["id"][-12:]  # the random end of a time-ordered id
    response = await post_reply(poller, tenant_id, ticket["id"], {"text": f"Parti.\x0b{marker}"})
    reply_id = response.json()["ticketMessageId"]
    ports = replies(poller)
    once = dataclasses.replace(ports.config, max_attempts=1)
    late = {m: ListsItLate(a) for m, a in ports.apis.items()}
    await send_due(dataclasses.replace(ports, apis=late, config=once))
    assert (await reply_row(poller, reply_id))["status"] == "FAILED"  # gave up, in doubt
    sent_before = await poller.metric(SENT)
    await poll(poller, shop)
    await poll(poller, shop)
    row = await reply_row(poller, reply_id)
    [copy] = await copies(admin, spec, marker)
    assert (row["status"], row["marketplace_message_id"]) == ("SENT", copy["messageId"])
    assert row["reason"] is None and row["status_code"] is None
    polled = await ticket_of(poller, shop, ticket["orderId"])
    [mine] = shown(polled, marker)
    assert (mine["id"], mine["deliveryStatus"]) == (reply_id, "SENT")
    assert await poller.metric(SENT) - sent_before == 1
    [event] = await tenant_events(poller, "message.sent", tenant_id)
    assert event["ticketMessageId"] == reply_id
