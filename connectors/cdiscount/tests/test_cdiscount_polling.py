"""Cdiscount shops polled into tickets and answered, on the real servers: the poller against
the sandbox's Octopia double over HTTP, the shop's credentials in OpenBao, NATS and
PostgreSQL. A shop is connected as oauth does it: its credentials written to Vault, then
``connection.connected`` (CDISCOUNT). The test polls and sends when it chooses."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import pytest
from keybuzz_devstack.shop_api_testing import agent_json as get_json
from keybuzz_devstack.shop_api_testing import as_agent, start_quiet_poller
from keybuzz_devstack.testing import MailServer, RunningService
from keybuzz_double_cdiscount import service_env
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.replies.sender import send_due
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.domain import Shop
from keybuzz_shared.vault import VaultClient
from test_discussions_on_the_double import admin, opened, written

__all__ = ["admin"]  # a fixture of test_discussions_on_the_double.py used here

StartService = Callable[..., Awaitable[RunningService]]
SHOP = "KeyBuzz Démo Cdiscount"
MARKETPLACE = "CDISCOUNT"


@pytest.fixture
async def poller(
    start_service: StartService, dovecot: MailServer, sandbox_url: str
) -> RunningService:
    return await start_quiet_poller(start_service, DEFINITION, dovecot, service_env(sandbox_url))


@pytest.fixture
async def octopia(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Octopia's API as the shop sees it, to check what the poller did there."""
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/octopia", timeout=30) as http:
        yield http


async def connect(poller: RunningService, vault: VaultClient, shop: dict[str, Any]) -> Shop:
    """oauth's connect: the credentials in Vault, then connection.connected."""
    fields = {
        "client_id": shop["clientId"],
        "client_secret": shop["clientSecret"],
        "seller_id": shop["sellerId"],
    }
    tenant_id = await poller.shop_connected(vault, MARKETPLACE, fields, shop["sellerId"])
    return Shop(tenant_id, MARKETPLACE)


async def poll(poller: RunningService, shop: Shop) -> Any:
    return await poller.runtime.component(ShopScheduler).poll_now(shop.key)


async def polled_shop(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> tuple[dict[str, Any], Shop]:
    """The demo shop connected to a new tenant, its history polled."""
    shops = (await admin.get("/shops")).json()
    spec = next(s for s in shops if s["name"] == SHOP)
    shop = await connect(poller, vault, spec)
    await poll(poller, shop)
    return spec, shop


async def ticket_with(
    poller: RunningService, shop: Shop, order_id: str, message_id: str
) -> dict[str, Any]:
    """The ticket of the order holding the message (an order may have several discussions)."""
    page = await get_json(
        poller, shop.tenant_id, "/api/v1/tickets/", marketplace=MARKETPLACE, orderId=order_id
    )
    for listed in page["items"]:
        ticket = await get_json(poller, shop.tenant_id, f"/api/v1/tickets/{listed['id']}")
        if any(m["externalId"] == message_id for m in ticket["messages"]):
            return ticket  # type: ignore[no-any-return]
    raise AssertionError(f"no ticket holds message {message_id}")


async def read_at_octopia(
    octopia: httpx.AsyncClient, spec: dict[str, Any], discussion_id: str
) -> dict[str, bool]:
    """Each message of the discussion: read or not, as Octopia says."""
    token = await octopia.post(
        "/auth/realms/maas/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": spec["clientId"],
            "client_secret": spec["clientSecret"],
        },
    )
    auth = {"Authorization": f"Bearer {token.json()['access_token']}", "SellerId": spec["sellerId"]}
    found = await octopia.get(f"/seller/v2/discussions/{discussion_id}", headers=auth)
    assert found.status_code == 200, found.text
    return {m["messageId"]: m["hasRead"] for m in found.json()["messages"]}


async def events_of(poller: RunningService, subject: str, tenant_id: str) -> list[dict[str, Any]]:
    rows = await poller.runtime.pool.fetch(
        "SELECT payload FROM event_outbox WHERE subject = $1", subject
    )
    events = [msgspec.json.decode(r["payload"]) for r in rows]
    return [e for e in events if e["tenantId"] == tenant_id]


async def test_a_buyers_discussion_becomes_one_ticket_with_its_order_details_and_claim_flag(
    poller: RunningService,
    vault: VaultClient,
    admin: httpx.AsyncClient,
    octopia: httpx.AsyncClient,
) -> None:
    spec, shop = await polled_shop(poller, vault, admin)
    new = await opened(admin, spec, subTypologyCode="productIsDamaged", body="Colis écrasé.")
    care = await written(admin, spec, new["discussionId"], userType="GrcOperator", body="SC")
    await poll(poller, shop)
    again = await poll(poller, shop)
    assert again.stored == 0

    ticket = await ticket_with(poller, shop, new["orderId"], new["messageId"])
    assert ticket["marketplace"] == MARKETPLACE and ticket["orderId"] == new["orderId"]
    details = {d["name"]: (d["label"], d["value"]) for d in ticket["threadDetails"]}
    assert details["topic"] == ("Motif", "Commande")
    assert details["sub_topic"] == ("Sous-motif", "Produit endommagé")
    assert "sales_channel" in details
    assert ticket["claim"] is False
    by_id = {m["externalId"]: m for m in ticket["messages"]}
    assert by_id[new["messageId"]]["senderType"] == "BUYER"
    assert by_id[care["messageId"]]["senderType"] == "MARKETPLACE_SUPPORT"
    received = await events_of(poller, "message.received", shop.tenant_id)
    told = by_id[new["messageId"]]["externalMessageId"]
    assert [e["orderId"] for e in received if e["externalMessageId"] == told] == [new["orderId"]]
    # Marked read at Octopia after the commit.
    read = await read_at_octopia(octopia, spec, new["discussionId"])
    assert read[new["messageId"]] and read[care["messageId"]]

    # The discussion becomes a claim, no new message: the next poll raises the flag.
    graduation = {"graduation": "Claim"}
    path = f"/shops/{spec['sellerId']}/discussions/{new['discussionId']}/graduation"
    assert (await admin.post(path, json=graduation)).status_code == 200
    await poll(poller, shop)
    flagged = await ticket_with(poller, shop, new["orderId"], new["messageId"])
    assert flagged["claim"] is True and flagged["id"] == ticket["id"]


async def post_reply(poller: RunningService, shop: Shop, ticket_id: str, body: Any) -> Any:
    path = f"/api/v1/tickets/{ticket_id}/replies"
    return await as_agent(poller, "POST", path, shop.tenant_id, json=body)


async def test_replies_to_the_buyer_and_to_customer_care_land_once_and_are_told_sent(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, shop = await polled_shop(poller, vault, admin)
    new = await opened(admin, spec, body="Où en est ma commande ?")
    await written(admin, spec, new["discussionId"], userType="GrcOperator", body="SC")
    await poll(poller, shop)
    ticket = await ticket_with(poller, shop, new["orderId"], new["messageId"])
    pdf = {
        "filename": "facture.pdf",
        "contentType": "application/pdf",
        "contentBase64": base64.b64encode(b"%PDF-1.4 facture").decode(),
    }
    texts = {
        "BUYER": f"Bonjour, votre colis part demain. {ticket['id'][-12:]}",
        "MARKETPLACE_SUPPORT": f"Bonjour, le client a reçu sa réponse. {ticket['id'][-12:]}",
    }
    queued = []
    for recipient, text in texts.items():
        body = {"text": text, "recipient": recipient, "attachments": [pdf]}
        response = await post_reply(poller, shop, ticket["id"], body)
        assert response.status_code == 202, response.text
        queued.append(response.json()["ticketMessageId"])
    await send_due(poller.runtime.component(PollerPorts).replies)
    await send_due(poller.runtime.component(PollerPorts).replies)  # nothing left to send

    sent = (await admin.get(f"/shops/{spec['sellerId']}/sent")).json()["sent"]
    for recipient, text in texts.items():
        [landed] = [s for s in sent if s["body"] == text]
        wanted = {"BUYER": "Customer", "MARKETPLACE_SUPPORT": "GrcOperator"}[recipient]
        assert [r["userType"] for r in landed["receivers"]] == [wanted]
        assert landed["attachments"] == [{"name": "facture.pdf", "fileFormat": "pdf", "size": 16}]
    told = await events_of(poller, "message.sent", shop.tenant_id)
    assert sorted(e["ticketMessageId"] for e in told) == sorted(queued)


async def test_an_attachment_over_octopias_limits_is_refused_before_queueing(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, shop = await polled_shop(poller, vault, admin)
    new = await opened(admin, spec, body="Pouvez-vous m'envoyer la facture ?")
    await poll(poller, shop)
    ticket = await ticket_with(poller, shop, new["orderId"], new["messageId"])

    def attachment(size: int, content_type: str = "application/pdf") -> dict[str, str]:
        data = base64.b64encode(b"x" * size).decode()
        return {"filename": "f.pdf", "contentType": content_type, "contentBase64": data}

    text = "Bonjour, voici la facture demandée."
    cases = [
        ([attachment(4 * 1024 * 1024 + 1)], 413, "limit of 4194304 bytes per reply"),
        ([attachment(10, "text/plain")], 415, "CDISCOUNT takes only image/png"),
        ([attachment(10)] * 4, 400, "at most 3 attachments"),
    ]
    for attachments, status, rule in cases:
        response = await post_reply(
            poller, shop, ticket["id"], {"text": text, "attachments": attachments}
        )
        assert (response.status_code, rule in response.text) == (status, True), response.text
    queued = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_replies WHERE tenant_id = $1", shop.tenant_id
    )
    assert queued == 0


async def test_a_discussion_about_a_damaged_product_says_so_and_its_language_through_the_api(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, shop = await polled_shop(poller, vault, admin)
    body = "Bonjour, le colis est arrivé écrasé et la lampe est cassée. Que faire ?"
    new = await opened(admin, spec, subTypologyCode="productIsDamaged", body=body)
    await poll(poller, shop)
    ticket = await ticket_with(poller, shop, new["orderId"], new["messageId"])
    # Octopia's sub-typology is the topic; the language is read from the buyer's words.
    assert (ticket["topic"], ticket["topicSource"]) == ("DAMAGED_OR_WRONG_ITEM", "marketplace")
    assert (ticket["language"], ticket["languageSource"]) == ("fr", "detected")
    assert 0.5 < ticket["languageConfidence"] <= 1
    assert ticket["languageConfidence"] == round(ticket["languageConfidence"], 3)  # as read
    page = await get_json(
        poller, shop.tenant_id, "/api/v1/tickets/", topic="DAMAGED_OR_WRONG_ITEM", language="fr"
    )
    assert ticket["id"] in {t["id"] for t in page["items"]}
    elsewhere = await get_json(poller, shop.tenant_id, "/api/v1/tickets/", topic="INVOICE_REQUEST")
    assert ticket["id"] not in {t["id"] for t in elsewhere["items"]}
    received = await events_of(poller, "message.received", shop.tenant_id)
    stored = next(m for m in ticket["messages"] if m["externalId"] == new["messageId"])
    told = next(e for e in received if e["externalMessageId"] == stored["externalMessageId"])
    assert (told["topic"], told["topicSource"], told["language"]) == (
        "DAMAGED_OR_WRONG_ITEM",
        "marketplace",
        "fr",
    )
