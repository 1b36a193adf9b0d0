"""A shop's discussions on PostgreSQL (threads the marketplace names itself, about an order
or not): one ticket per discussion with its order, and the thread's state as its listing
last gave it (details, claim flag) shown with the ticket and in the list. The state is
taken from every message listed, one stored already included: a discussion that becomes a
claim raises its ticket's flag, and a listing that changes nothing writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import pytest
from keybuzz_poller.shops.poll import poll_shop
from keybuzz_poller.tickets.queries import list_tickets, ticket_detail, ticket_query
from keybuzz_poller.tickets.store import PostgresTickets
from keybuzz_shared.connectors.seam import InboxIncident, InboxMessage, ThreadDetail, ThreadKey
from poller_shop_fakes import shop_message
from test_long_threads import NOW, SHOP, Polling, polling  # noqa: F401 - fixture

CHANNEL = ThreadDetail("sales_channel", "Canal de vente", "Cdiscount")
TOPIC = ThreadDetail("topic", "Typologie", "Produit non reçu")


@pytest.fixture
def shop(polling: Polling) -> Polling:  # noqa: F811 - the imported fixture
    """A shop polled into PostgreSQL (``test_long_threads``'s; the store knows no
    marketplace: a discussion's ticket is stored as any other)."""
    return polling


def said(
    message_id: str,
    discussion: str,
    order: str | None,
    minutes: int,
    *details: ThreadDetail,
    claim: bool = False,
) -> InboxMessage:
    """The buyer's message in ``discussion`` (about ``order``), with the thread's state."""
    message = shop_message(message_id, minutes, thread_details=details, claim=claim)
    return msgspec.structs.replace(message, thread=ThreadKey("DISCUSSION", discussion, order))


async def shown(shop: Polling) -> dict[str, dict[str, Any]]:
    """The tenant's tickets as the list shows them, by order id (or subject), each with the
    thread's state as its own view shows it."""
    tickets = PostgresTickets(shop.pool)
    query = ticket_query(SHOP.tenant_id, None, None, None, None, 50, now=NOW)
    page = msgspec.to_builtins(await list_tickets(tickets, query))
    found = {}
    for listed in page["items"]:
        detail = await ticket_detail(tickets, SHOP.tenant_id, listed["id"], NOW)
        viewed = msgspec.to_builtins(detail)
        assert (viewed["threadDetails"], viewed["claim"]) == (
            listed["threadDetails"],
            listed["claim"],
        )
        found[listed["orderId"] or listed["id"]] = listed
    return found


async def versions(shop: Polling) -> list[str]:
    """Each ticket's row version: a write, even of the same values, changes it."""
    rows = await shop.pool.fetch("SELECT xmin::text FROM poller_tickets ORDER BY id")
    return [r["xmin"] for r in rows]


async def test_each_discussion_is_a_ticket_with_its_order_details_and_claim(
    shop: Polling,
) -> None:
    shop.marketplace.messages_listed.extend(
        [
            said("m1", "D1", "ORD7", 1, CHANNEL, TOPIC),
            said("m2", "D2", None, 2, claim=True),
            said("m3", "D1", "ORD7", 3, CHANNEL, TOPIC),
        ]
    )
    await poll_shop(shop.ports, SHOP)
    keys = await shop.pool.fetch("SELECT thread_key, order_id FROM poller_tickets")
    assert sorted((r["thread_key"], r["order_id"]) for r in keys) == [
        ("discussion:D1", "ORD7"),
        ("discussion:D2", None),
    ]
    tickets = await shown(shop)
    about_order = tickets["ORD7"]
    assert about_order["messageCount"] == 2
    assert about_order["threadDetails"] == [
        {"name": "sales_channel", "label": "Canal de vente", "value": "Cdiscount"},
        {"name": "topic", "label": "Typologie", "value": "Produit non reçu"},
    ]
    assert about_order["claim"] is False
    [no_order] = [t for key, t in tickets.items() if key != "ORD7"]
    assert no_order["threadDetails"] == [] and no_order["claim"] is True


async def test_a_listing_again_that_makes_the_discussion_a_claim_raises_the_flag(
    shop: Polling,
) -> None:
    listed = shop.marketplace.messages_listed
    listed.append(said("m1", "D1", "ORD7", 1, CHANNEL))
    await poll_shop(shop.ports, SHOP)
    before = await versions(shop)

    again = await poll_shop(shop.ports, SHOP)  # the same listing: nothing written
    assert again.duplicates == 1 and again.thread_states == 0
    assert await versions(shop) == before

    # The discussion became a claim with no new message: its newest message listed again.
    listed[0] = said("m1", "D1", "ORD7", 1, CHANNEL, TOPIC, claim=True)
    changed = await poll_shop(shop.ports, SHOP)
    assert changed.stored == 0 and changed.thread_states == 1
    ticket = (await shown(shop))["ORD7"]
    assert ticket["claim"] is True and ticket["messageCount"] == 1
    assert [d["name"] for d in ticket["threadDetails"]] == ["sales_channel", "topic"]

    # And back: the latest listing wins.
    listed[0] = said("m1", "D1", "ORD7", 1, CHANNEL)
    await poll_shop(shop.ports, SHOP)
    assert (await shown(shop))["ORD7"]["claim"] is False


async def test_a_new_message_carries_its_threads_state_in_the_same_unit_of_work(
    shop: Polling,
) -> None:
    listed = shop.marketplace.messages_listed
    listed.append(said("m1", "D1", "ORD7", 1))
    await poll_shop(shop.ports, SHOP)
    listed.append(said("m2", "D1", "ORD7", 30, TOPIC))  # past the cursor's overlap
    polled = await poll_shop(shop.ports, SHOP)
    assert polled.stored == 1 and polled.thread_states == 1
    assert (await shown(shop))["ORD7"]["threadDetails"][0]["value"] == "Produit non reçu"


async def test_an_incident_on_its_order_makes_a_ticket_a_claim(shop: Polling) -> None:
    at = NOW - timedelta(hours=1)
    shop.marketplace.incidents_listed.append(
        InboxIncident(
            incident_id="INC1",
            order_id="ORD1",
            status="CLOSED",
            types=("8",),
            waiting_for_seller=False,
            opened_by="client",
            message="Une réclamation a été ouverte",
            created_at=at,
            updated_at=at,
        )
    )
    await poll_shop(shop.ports, SHOP)
    ticket = (await shown(shop))["ORD1"]
    assert (ticket["incidentStatus"], ticket["claim"]) == ("CLOSED", True)
