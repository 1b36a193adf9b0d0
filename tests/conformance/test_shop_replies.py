"""The conformance suite, replying: through every registered shop-API connector, a reply
to each recipient its double's threads offer is sent at most once — its answer lost, held
past our deadline, or its text shown rewritten on the thread — and read back by the polls
as ours, never as a new message of the seller. Its own module so that the suite's cases
share the five test workers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import httpx
import pytest
from keybuzz_poller.shops.api_source import ApiMessageSource
from keybuzz_poller.shops.connections import shop_marketplace
from keybuzz_poller.shops.domain import thread_of
from keybuzz_poller.shops.replies import ShopReplies
from keybuzz_sandbox.conformance import (
    RECIPIENT_KINDS,
    ClosingDriver,
    DoubleShop,
    Fault,
    RecipientKind,
    ShopDriver,
)
from keybuzz_shared.connectors.seam import Connector, InboxMessage, shop_api_of

from tests.conformance.harness import (
    Connected,
    Stack,
    connected,
    driver_of,
    events,
    headers,
    polled_since,
    poller_get,
    shop_api_connectors,
    shop_status,
    tickets,
)
from tests.conformance.test_shop_api_connectors import (
    NEXT_POLL,
    first_polled,
    shops,
    stored_after,
    ticket_of,
)
from tests.stack_fixture import wait_for

# --- replying ---------------------------------------------------------------------------------


async def delivered(conformance: Stack, shop: Connected, ticket_id: str, reply_id: str) -> Any:
    async def sent() -> dict[str, Any] | None:
        async with conformance.poller.client() as http:
            view = (
                await http.get(f"/api/v1/tickets/{ticket_id}", headers=headers(shop.tenant))
            ).json()
        [mine] = [m for m in view["messages"] if m["id"] == reply_id]
        return mine if mine.get("deliveryStatus") == "SENT" else None

    # Bounded for a hang only: its lease's end, then a poller restarted on a busy machine
    # (its first calls, its read-back) take what they take.
    return await wait_for(sent, None, "the reply SENT")


async def reply(
    conformance: Stack, shop: Connected, ticket_id: str, text: str, recipient: RecipientKind
) -> str:
    async with conformance.poller.client() as http:
        queued = await http.post(
            f"/api/v1/tickets/{ticket_id}/replies",
            json={"text": text, "recipient": recipient},
            headers=headers(shop.tenant),
        )
    assert queued.status_code == 202, queued.text
    return queued.json()["ticketMessageId"]  # type: ignore[no-any-return]


async def applied(conformance: Stack, driver: ShopDriver, shop: DoubleShop, text: str) -> None:
    """Once the double has applied the reply saying ``text`` (on its thread)."""

    async def on_thread() -> list[str] | None:
        return await driver.sent(conformance.admin, shop, text) or None

    await wait_for(on_thread, None, f"the reply {text!r} on the double's thread", every=0.05)


@pytest.mark.every_marketplace
@pytest.mark.parametrize("recipient", RECIPIENT_KINDS)
async def test_a_reply_to_each_recipient_is_sent_at_most_once(
    conformance: Stack, connector: Connector, driver: ShopDriver, recipient: RecipientKind
) -> None:
    """Once with its answer lost, once with the poller stopped while the marketplace holds
    its answer, and started again: each reply on the double's thread once, announced once."""
    if recipient not in driver.recipients:
        pytest.skip(f"{connector.marketplace}'s threads offer no reply to {recipient}")
    [shop] = await shops(conformance, driver)
    async with connected(conformance, connector, shop) as mine:
        first = await first_polled(conformance, mine)
        asked = await driver.thread_for(conformance.admin, shop, recipient, "Une réponse ?")
        await stored_after(conformance, mine, asked.message_id, first["lastSuccessAt"], True)
        ticket = await ticket_of(conformance, mine, asked)
        replies = {}
        for fault in ("LOST_REPLY_ANSWER", "HELD_REPLY"):
            await driver.set_fault(conformance.admin, fault, [shop])
            text = f"Réponse {fault} {ticket['id'][-12:]}"
            replies[text] = await reply(conformance, mine, ticket["id"], text, recipient)
            if fault == "HELD_REPLY":
                await applied(conformance, driver, shop, text)  # its answer held by the double
                await conformance.restart_poller(lambda: driver.clear_faults(conformance.admin))
            await delivered(conformance, mine, ticket["id"], replies[text])
            assert await driver.sent(conformance.admin, shop, text) == [recipient]
        sent = await events(conformance, "message.sent", mine.tenant)
        assert sorted(e["ticketMessageId"] for e in sent) == sorted(replies.values())


async def shown_on_thread(
    conformance: Stack, connector: Connector, mine: Connected, ticket_id: str, since: datetime
) -> list[InboxMessage]:
    """The seller's messages on the ticket's thread from ``since`` on, as the marketplace
    shows them: read through the connector's session on the shop, as the poller's read-back
    reads them (the double's log of what was sent keeps the text as sent)."""
    runtime = conformance.poller.runtime
    row = await runtime.pool.fetchrow(
        "SELECT thread_key, order_id FROM poller_tickets WHERE tenant_id = $1 AND id = $2",
        mine.tenant,
        ticket_id,
    )
    thread = thread_of(row["thread_key"], row["order_id"])
    assert thread is not None, dict(row)
    source, marketplace = runtime.component(ApiMessageSource), shop_marketplace(connector)
    settings = runtime.settings.shop_api(marketplace)
    replies = ShopReplies(
        connector, runtime.vault, source.http(marketplace), settings, source.sessions
    )
    return await replies.sent_messages(mine.tenant, thread, since)


class SentUnder(NamedTuple):
    """A reply sent under a fault: its ticket, its text, its ticket message id, and the
    seller's one message on the thread as the marketplace shows it."""

    ticket: dict[str, Any]
    said: str
    reply_id: str
    shown: InboxMessage


async def sent_under(
    conformance: Stack,
    connector: Connector,
    driver: ShopDriver,
    shop: DoubleShop,
    mine: Connected,
    fault: Fault,
    text: Callable[[str], str],
) -> SentUnder:
    """A buyer's thread polled into a ticket, then a reply to its first recipient sent with
    ``fault`` armed on the double (the reply's ``text`` of the ticket's id) until it is
    SENT, and found once on the thread."""
    recipient = driver.recipients[0]
    began = datetime.now(UTC)
    first = await first_polled(conformance, mine)
    asked = await driver.thread_for(conformance.admin, shop, recipient, f"Et {fault} ?")
    await stored_after(conformance, mine, asked.message_id, first["lastSuccessAt"], True)
    ticket = await ticket_of(conformance, mine, asked)
    said = text(ticket["id"][-12:])
    await driver.set_fault(conformance.admin, fault, [shop])
    try:
        reply_id = await reply(conformance, mine, ticket["id"], said, recipient)
        await delivered(conformance, mine, ticket["id"], reply_id)
    finally:
        await driver.clear_faults(conformance.admin)
    assert await driver.sent(conformance.admin, shop, said) == [recipient]
    # From well before the case: a reply dated behind is on the thread all the same.
    since = began - timedelta(hours=1)
    [shown] = await shown_on_thread(conformance, connector, mine, ticket["id"], since)
    return SentUnder(ticket, said, reply_id, shown)


async def test_a_reply_the_marketplace_shows_rewritten_is_sent_once(
    conformance: Stack, connector: Connector, driver: ShopDriver
) -> None:
    """Its answer lost, the reply is looked for on the thread, where the marketplace shows
    it rewritten every way at once (``faults.rewritten``: typography, emoji altered or
    removed, soft hyphens and zero-width spaces, lines re-wrapped, escaped twice, markup,
    decomposed accents): found there by its words, it is SENT without a second copy, and
    the polls that read it back take it for the reply, not for a new message of the
    seller."""
    [shop] = await shops(conformance, driver)
    async with connected(conformance, connector, shop) as mine:
        ticket, text, reply_id, shown = await sent_under(
            conformance,
            connector,
            driver,
            shop,
            mine,
            "REWRITTEN_REPLY",
            lambda ref: (
                f"Bonjour Mme Dupré,\n\nVotre colis « {ref} » part demain & arrive <vite>,"
                "  promis ! C'est l'affaire -- \"sans faute\"... de l'expédition"
                " \U0001f44d\U0001f3fd \u2764\ufe0f \U0001f600\nCordialement"
            ),
        )
        for _ in range(2):  # a poll that may have begun before the reply was on the thread
            status = await shop_status(conformance, mine)
            assert status is not None
            await polled_since(conformance, mine, status["lastSuccessAt"], NEXT_POLL, asked=True)
        [again] = [t for t in await tickets(conformance, mine) if t["id"] == ticket["id"]]
        seller = [
            m for m in again["messages"] if m["id"] != reply_id and m["senderType"] == "SELLER"
        ]
        assert seller == [], "the reply read back was taken for a new message of the seller"
        # Not as the marketplace lists back a reply it left as sent: a double that ignored
        # the fault would let the case pass without proving anything.
        unchanged = shop_api_of(connector).reply_text(text)
        assert shown.body != unchanged, f"{connector.marketplace}'s thread shows it unchanged"
        assert await driver.sent(conformance.admin, shop, text) == [driver.recipients[0]]
        [mine_said] = [m for m in again["messages"] if m["id"] == reply_id]
        assert mine_said["body"] == text
        sent = await events(conformance, "message.sent", mine.tenant)
        assert [e["ticketMessageId"] for e in sent] == [reply_id]


# --- closing a ticket -------------------------------------------------------------------------


async def close(conformance: Stack, shop: Connected, ticket_id: str) -> httpx.Response:
    async with conformance.poller.client() as http:
        return await http.post(f"/api/v1/tickets/{ticket_id}/close", headers=headers(shop.tenant))


@pytest.mark.parametrize(
    "closer",
    [c for c in shop_api_connectors() if c.thread_closing is not None],
    ids=lambda c: c.marketplace,
)
async def test_a_ticket_closed_from_our_api_is_closed_once_on_its_marketplace(
    conformance: Stack, closer: Connector
) -> None:
    """Asked twice at once, then again: the marketplace is asked once and the ticket is
    CLOSED; a ticket the marketplace no longer lets the seller close answers 409 with its
    reason and stays OPEN. (A marketplace without the part: the unit tier,
    ``test_ticket_closing.py``.)"""
    driver = driver_of(closer)
    assert isinstance(driver, ClosingDriver), f"{closer.marketplace}'s double closes no thread"
    [shop] = await shops(conformance, driver)
    async with connected(conformance, closer, shop) as mine:
        first = await first_polled(conformance, mine)
        asked = await driver.thread_for(conformance.admin, shop, "BUYER", "Fermez-le ?")
        final = await driver.thread_closed_for_good(conformance.admin, shop, "Et celui-ci ?")
        await stored_after(conformance, mine, final.message_id, first["lastSuccessAt"], True)
        ticket, closed_for_good = [await ticket_of(conformance, mine, w) for w in (asked, final)]
        answers = await asyncio.gather(*(close(conformance, mine, ticket["id"]) for _ in range(2)))
        answers.append(await close(conformance, mine, ticket["id"]))
        assert [a.status_code for a in answers] == [200] * 3, [a.text for a in answers]
        assert {a.json()["status"] for a in answers} == {"CLOSED"}
        assert len(await driver.closed(conformance.admin, shop)) == 1
        refused = await close(conformance, mine, closed_for_good["id"])
        assert refused.status_code == 409, refused.text
        assert "finally closed" in refused.json()["message"], refused.text
        again = await poller_get(
            conformance, mine.tenant, f"/api/v1/tickets/{closed_for_good['id']}"
        )
        assert again["status"] == "OPEN"
        assert len(await driver.closed(conformance.admin, shop)) == 1
