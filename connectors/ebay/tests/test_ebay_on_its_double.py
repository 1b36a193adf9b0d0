"""The eBay connector against its double over HTTP: a consent's code traded for the
seller's refresh token and account, a buyer's message read once with its item beside it
(and the buyer's order of that item as the thread's order), a reply sent and read back, orders mapped with their eBay site, a revoked consent refused,
and every answer the double gives of the Message API checked against eBay's description."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import msgspec
import pytest
from keybuzz_connector_ebay.connector import (
    CONNECTOR,
    Conversation,
    Message,
    buyer_of,
    messages_of,
    order_of,
    purchases,
)
from keybuzz_connector_ebay.consent import ConsentApp as EbayApp
from keybuzz_connector_ebay.consent import EbayRedirectFlow
from keybuzz_connector_ebay.settings import EbayApiSettings, EbaySettings
from keybuzz_double_ebay import RU_NAME, service_env
from keybuzz_double_ebay.contract import DESCRIBED
from keybuzz_shared.connectors import seam
from keybuzz_shared.connectors.seam import CredentialsRefused, Reply, ThreadKey

ACCEPT = "https://keybuzz.test/api/v1/marketplaces/ebay/oauth/callback"


def settings(sandbox_url: str) -> EbaySettings:
    env = service_env(sandbox_url)
    return EbaySettings.from_environment(env)


async def shop(admin: httpx.AsyncClient, number: str = "1") -> dict[str, Any]:
    listed = (await admin.get("/shops")).json()
    return next(s for s in listed if s["number"] == number)


def credentials(found: dict[str, Any]) -> dict[str, str]:
    return {
        "user_id": found["userId"],
        "refresh_token": found["refreshToken"],
        "client_id": found["clientId"],
        "client_secret": found["clientSecret"],
    }


async def messages_of_the_last_minutes(
    session: seam.MessageSource, minutes: int = 5
) -> list[seam.InboxMessage]:
    """Every page of the session's messages since ``minutes`` ago."""
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    listed: list[seam.InboxMessage] = []
    cursor: str | None = None
    while True:
        page = await session.messages(since=since, cursor=cursor)
        listed += page.items
        if (cursor := page.next_cursor) is None:
            return listed


def test_a_site_by_its_country_or_id_with_its_consent_page_language() -> None:
    flow = EbayRedirectFlow()
    belgium, austria = flow.site("be"), flow.site("EBAY_AT")
    assert (belgium.code, belgium.id, belgium.locale) == ("BE", "EBAY_FRBE", "fr-BE")
    assert (austria.code, austria.id, austria.locale) == ("AT", "EBAY_AT", "de-AT")
    assert flow.site("ebay_frbe") == belgium
    with pytest.raises(ValueError, match="no site"):
        flow.site("BR")


async def test_a_consent_gives_the_refresh_token_and_the_account(
    sandbox_url: str, admin: httpx.AsyncClient
) -> None:
    app_keys = (await admin.put(f"/apps/{RU_NAME}", json={"acceptUrl": ACCEPT})).json()
    app = EbayApp(app_keys["clientId"], app_keys["clientSecret"], RU_NAME, ACCEPT, "default")
    flow, config = CONNECTOR.redirect_flow, settings(sandbox_url)
    assert flow is not None and flow.callback_names.account_id is None
    url = flow.consent_url(
        app, flow.site("fr"), state="s1", redirect_uri=ACCEPT, origin=config.ebay_consent_url
    )
    async with httpx.AsyncClient() as http:
        back = await http.get(url + "&user=2")
    assert back.status_code in (302, 303, 307) and back.headers["location"].startswith(ACCEPT)
    query = parse_qs(urlparse(back.headers["location"]).query)
    assert query["state"] == ["s1"] and "selling_partner_id" not in query
    flow_settings = config.redirect_flow("EBAY")
    assert flow_settings is not None
    exchange = flow.code_exchange(flow_settings)
    try:
        grant = await exchange.exchange_code(app, query["code"][0], ACCEPT)
        assert isinstance(grant, seam.AccountGrant)
        assert grant.account_id == (await shop(admin, "2"))["userId"]
        assert grant.refresh_token == (await shop(admin, "2"))["refreshToken"]
        with pytest.raises(seam.GrantInvalid):  # a code is used once
            await exchange.exchange_code(app, query["code"][0], ACCEPT)
    finally:
        await exchange.aclose()


async def test_messages_replies_and_orders(sandbox_url: str, admin: httpx.AsyncClient) -> None:
    found = await shop(admin)
    written = (await admin.post("/shops/1/threads", json={"body": "Où est mon colis ?"})).json()
    await admin.post("/shops/1/threads", json={"body": "Votre compte", "from": "EBAY"})
    api = settings(sandbox_url).shop_api("EBAY")
    assert isinstance(api, EbayApiSettings)
    async with httpx.AsyncClient(timeout=10) as http:
        session = CONNECTOR.shop_api.session(credentials(found), http=http, settings=api)  # type: ignore[union-attr]
        listed = await messages_of_the_last_minutes(session)
        [buyer] = [m for m in listed if m.message_id == written["messageId"]]
        assert buyer.sender_type == "BUYER" and buyer.unread and buyer.body == "Où est mon colis ?"
        assert buyer.thread_details[0].name == "item"
        assert buyer.reply_needed_since == buyer.created_at  # waits for the seller from then
        ebay = [m for m in listed if m.sender_type == "MARKETPLACE_SUPPORT"]
        assert ebay and all(m.reply_needed_since is None for m in ebay)  # eBay's: no deadline
        assert len({m.message_id for m in listed}) == len(listed)
        # its conversation marked read: none refused; a message no listing gave, refused
        assert await session.mark_read([buyer.message_id]) == 0
        assert await session.mark_read([buyer.message_id, "not-listed"]) == 1
        relisted = await messages_of_the_last_minutes(session)
        assert not next(m for m in relisted if m.message_id == buyer.message_id).unread
        thread = ThreadKey("DISCUSSION", written["threadId"])
        sent_at = datetime.now(UTC)
        outcome = await session.reply(
            Reply(thread=thread, in_reply_to=buyer.message_id, body="Parti hier.")
        )
        assert outcome.status == "SENT"
        [back] = await session.sent_messages(thread, sent_at)
        assert back.sender_type == "SELLER" and back.body == "Parti hier."
        orders = await session.orders(since=datetime.now(UTC) - timedelta(days=90))
        assert len(orders.items) == 6 and {o.sales_channel for o in orders.items} == {
            "EBAY_FR",
            "EBAY_DE",
        }
        assert {o.status for o in orders.items} == {"CONFIRMED", "SHIPPED"}
        first = orders.items[0]
        [again] = await session.orders_by_id([first.external_id])
        assert again == first and first.lines[0].unit_price is not None
        await admin.post("/shops/1/revoke")
        revoked = CONNECTOR.shop_api.session(credentials(found), http=http, settings=api)  # type: ignore[union-attr]
        with pytest.raises(CredentialsRefused):
            await revoked.messages(since=datetime.now(UTC) - timedelta(minutes=5))


async def test_the_doubles_answers_are_ebays_shapes(
    sandbox_url: str, admin: httpx.AsyncClient
) -> None:
    found = await shop(admin, "3")
    await admin.post("/shops/3/threads", json={"body": "Bonjour"})
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/ebay", timeout=10) as http:
        form = {"grant_type": "refresh_token", "refresh_token": found["refreshToken"]}
        token = (
            await http.post(
                "/identity/v1/oauth2/token",
                data=form,
                auth=(found["clientId"], found["clientSecret"]),
            )
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        listed = await http.get(
            "/commerce/message/v1/conversation",
            headers=headers,
            params={"conversation_type": "FROM_MEMBERS"},
        )
        assert DESCRIBED["message"].answer_problems("getConversations", "200", listed.json()) == []
        conversation = listed.json()["conversations"][0]["conversationId"]
        one = await http.get(
            f"/commerce/message/v1/conversation/{conversation}",
            headers=headers,
            params={"conversation_type": "FROM_MEMBERS"},
        )
        assert DESCRIBED["message"].answer_problems("getConversation", "200", one.json()) == []
        orders = await http.get("/sell/fulfillment/v1/order", headers=headers)
        assert DESCRIBED["fulfillment"].answer_problems("getOrders", "200", orders.json()) == []
        wrong = await http.get("/commerce/message/v1/conversation", headers=headers)
        assert wrong.status_code == 400 and "conversation_type is required" in wrong.text


def test_order_states_are_mapped() -> None:
    base = {
        "orderId": "12-34567-89012",
        "creationDate": "2026-11-01T10:00:00.000Z",
        "lastModifiedDate": "2026-11-02T10:00:00.000Z",
        "orderPaymentStatus": "PAID",
    }
    assert order_of(base | {"orderFulfillmentStatus": "FULFILLED"}).status == "SHIPPED"
    assert order_of(base | {"orderFulfillmentStatus": "NOT_STARTED"}).status == "CONFIRMED"
    cancelled = {
        "orderFulfillmentStatus": "NOT_STARTED",
        "cancelStatus": {"cancelState": "CANCELED"},
    }
    assert order_of(base | cancelled).status == "CANCELLED"
    assert order_of(base | {"orderPaymentStatus": "FULLY_REFUNDED"}).status == "RETURNED"


@pytest.mark.parametrize(
    ("cancel_state", "status"),
    [("IN_PROGRESS", "CANCELLED"), ("CANCELED", "CANCELLED"), ("NONE_REQUESTED", "CONFIRMED")],
)
def test_an_order_being_cancelled_is_cancelled(cancel_state: str, status: str) -> None:
    """eBay's ``cancelState`` IN_PROGRESS (a cancellation requested, not yet settled) is
    CANCELLED as CANCELED is, the order and each line: the seller must not ship it."""
    paid = {
        "orderId": "12-34567-89013",
        "creationDate": "2026-11-01T10:00:00.000Z",
        "lastModifiedDate": "2026-11-02T10:00:00.000Z",
        "orderPaymentStatus": "PAID",
        "orderFulfillmentStatus": "NOT_STARTED",
        "lineItems": [{"lineItemId": "1", "lineItemFulfillmentStatus": "NOT_STARTED"}],
    }
    order = order_of(paid | {"cancelStatus": {"cancelState": cancel_state}})
    assert [order.status, *(line.status for line in order.lines)] == [status, status]


def test_a_conversation_waits_from_the_buyers_first_message_after_the_sellers_last() -> None:
    def said(n: int, who: str) -> Message:
        return Message(f"m{n}", datetime(2026, 11, 1, n, tzinfo=UTC), sender_username=who)

    def waiting_since(conversation: Conversation, thread: list[Message], me: str) -> Any:
        [waiting] = {m.reply_needed_since for m in messages_of(conversation, thread, me)}
        return waiting

    members = Conversation("c1")
    thread = [said(3, "acheteur"), said(1, "acheteur"), said(2, "vendeur")]
    assert waiting_since(members, thread, "Vendeur") == said(3, "acheteur").created_date
    assert waiting_since(members, [said(1, "acheteur"), said(2, "vendeur")], "vendeur") is None
    assert (
        waiting_since(members, [said(1, "a"), said(2, "a")], "vendeur") == said(1, "a").created_date
    )
    assert waiting_since(Conversation("c2", "FROM_EBAY"), [said(1, "eBay")], "vendeur") is None


async def test_a_spent_day_of_calls_holds_the_seller(
    sandbox_url: str, admin: httpx.AsyncClient
) -> None:
    """eBay's daily call limit reached: the double answers 429, the poll is held (retried
    later), never read as a refusal of the seller's consent."""
    found = await shop(admin, "3")
    used = (await admin.get("/shops/3/calls")).json()["calls"]
    await admin.put("/limits", json={"user": used + 1})
    api = settings(sandbox_url).shop_api("EBAY")
    assert isinstance(api, EbayApiSettings)
    api = msgspec.structs.replace(api, call_deadline_seconds=1.0)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            session = CONNECTOR.shop_api.session(credentials(found), http=http, settings=api)  # type: ignore[union-attr]
            with pytest.raises(seam.MarketplaceUnavailable):
                await session.messages(since=datetime.now(UTC) - timedelta(minutes=5))
        assert (await admin.get("/shops/3/calls")).json()["calls"] == used + 1
    finally:
        await admin.put("/limits", json={"user": 20_000})


async def test_a_conversation_about_a_listing_the_buyer_bought_names_the_order(
    sandbox_url: str, admin: httpx.AsyncClient
) -> None:
    """eBay's conversations name a listing only: the buyer's order of that item, found
    among the seller's recent orders, is the ticket's order; a question about an item the
    buyer did not buy names none."""
    found = await shop(admin, "1")
    bought = (
        await admin.post(
            "/shops/1/threads", json={"body": "Mon colis ?", "buyer": "acheteur_2", "item": "11002"}
        )
    ).json()
    asked = (
        await admin.post(
            "/shops/1/threads",
            json={"body": "Encore dispo ?", "buyer": "acheteur_2", "item": "99999"},
        )
    ).json()
    api = settings(sandbox_url).shop_api("EBAY")
    assert isinstance(api, EbayApiSettings)
    async with httpx.AsyncClient(timeout=10) as http:
        session = CONNECTOR.shop_api.session(credentials(found), http=http, settings=api)  # type: ignore[union-attr]
        listed = await messages_of_the_last_minutes(session)
    by_id = {m.message_id: m for m in listed}
    assert by_id[bought["messageId"]].thread.order == "11-10002-20002"
    assert by_id[asked["messageId"]].thread.order is None
    assert by_id[asked["messageId"]].thread_details[0].value == "99999"  # its item all the same


def test_the_newest_order_of_an_item_by_its_buyer_is_the_one() -> None:
    def order(order_id: str, day: int, buyer: str, *items: str) -> dict[str, Any]:
        return {
            "orderId": order_id,
            "creationDate": f"2026-11-{day:02d}T10:00:00.000Z",
            "lastModifiedDate": f"2026-11-{day:02d}T10:00:00.000Z",
            "buyer": {"username": buyer},
            "lineItems": [{"lineItemId": f"{order_id}-{i}", "legacyItemId": i} for i in items],
        }

    found = purchases(
        [
            order("12-00000-00001", 1, "Acheteur", "111", "222"),
            order("12-00000-00002", 9, "acheteur", "111"),
            order("12-00000-00004", 9, "ACHETEUR", "111"),  # placed at once: the first listed
            order("12-00000-00003", 5, "autre", "222"),
            {"orderId": "garbled"},
        ]
    )
    assert found == {
        ("acheteur", "111"): "12-00000-00002",
        ("acheteur", "222"): "12-00000-00001",
        ("autre", "222"): "12-00000-00003",
    }
    members, me = Conversation("c1", reference_type="LISTING", reference_id="111"), "vendeur"
    said = Message("m1", datetime(2026, 11, 9, tzinfo=UTC), sender_username="Acheteur")
    assert buyer_of(members, [said], me) == "Acheteur"
    assert buyer_of(Conversation("c2", "FROM_EBAY"), [said], me) is None
    [message] = messages_of(members, [said], me, "12-00000-00002")
    assert message.thread.order == "12-00000-00002"
