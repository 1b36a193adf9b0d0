"""A shop-API connector of no package (the throwaway marketplace with a shop session of its
own, in memory), registered after the poller was imported: the poller polls its shops and
replies through its session, on the real servers (OpenBao, NATS, PostgreSQL). Its
messages are discussions, with their details and claim flag: one ticket per discussion,
its order, details and claim shown; a reply to the marketplace's customer care reaches
the session on the discussion's thread."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from keybuzz_devstack.testing import (
    MailServer,
    RunningService,
    ThrowawayApiSettings,
    ThrowawayConnector,
    eventually,
)
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.replies.ports import RepliesPorts
from keybuzz_poller.replies.sender import send_due
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.connections import shop_marketplaces
from keybuzz_poller.shops.domain import Shop
from keybuzz_shared.connectors.registry import registered
from keybuzz_shared.connectors.seam import (
    InboxMessage,
    Page,
    Recipient,
    Reply,
    ReplyOutcome,
    ThreadDetail,
    ThreadKey,
)
from keybuzz_shared.events import ConnectionConnected
from keybuzz_shared.vault import VaultClient
from mailkit import get_json, headers, publish

MARKETPLACE = ThrowawayConnector.marketplace
ON_ORDER = ThreadKey("DISCUSSION", "D-1", "ORD-77")
TOPIC = ThreadDetail("topic", "Typologie", "Produit non reçu")


def replies(poller: RunningService) -> RepliesPorts:
    return poller.runtime.component(PollerPorts).replies


class Marketplace:
    """The throwaway marketplace's side: what its shops list, and the replies it took."""

    def __init__(self) -> None:
        self.listed: list[InboxMessage] = []
        self.replies: list[Reply] = []

    def buyer_writes(self, message_id: str, thread: ThreadKey, claim: bool = False) -> None:
        self.listed.append(
            InboxMessage(
                message_id=message_id,
                thread=thread,
                sender_type="BUYER",
                sender_name="Jane D.",
                subject="Colis",
                body=f"Où est mon colis ? ({message_id})",
                created_at=datetime.now(UTC) - timedelta(minutes=1),
                unread=True,
                thread_details=(TOPIC,),
                claim=claim,
            )
        )


class Session:
    """One shop's session on the in-memory marketplace."""

    def __init__(self, marketplace: Marketplace) -> None:
        self.marketplace = marketplace

    async def inbox_messages(self, *, since: datetime, cursor: str | None = None) -> Page[Any]:
        listed = [m for m in self.marketplace.listed if m.created_at >= since]
        return Page(items=tuple(listed), next_cursor=None)

    async def incidents(self, *, since: datetime, cursor: str | None = None) -> Page[Any]:
        return Page(items=(), next_cursor=None)

    async def mark_read(self, message_ids: Any) -> int:
        return 0

    async def reply(self, reply: Reply) -> ReplyOutcome:
        self.marketplace.replies.append(reply)
        return ReplyOutcome(status="SENT")

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[Any]:
        return []

    async def verify(self) -> None:
        return None


class ShopApi:
    """Discussions take replies to the buyer, customer care and an operator."""

    claim_subject = "Réclamation"

    def __init__(self) -> None:
        self.marketplace = Marketplace()

    def session(self, credentials: Mapping[str, str], **given: Any) -> Session:
        return Session(self.marketplace)

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        if thread.kind == "DISCUSSION":
            return ("BUYER", "MARKETPLACE_SUPPORT", "OPERATOR")
        return ("BUYER",)

    def reply_text(self, text: str) -> str:
        return text

    def refusal_codes(self, outcome: ReplyOutcome) -> tuple[str, ...]:
        return ()

    def claim_opener(self, opened_by: str | None) -> str:
        return "BUYER"


class ShopsOnApi(ThrowawayConnector):
    settings_type = ThrowawayApiSettings
    shop_api = ShopApi()  # type: ignore[assignment]


@pytest.fixture
def connector() -> Iterator[ShopsOnApi]:
    assert MARKETPLACE not in shop_marketplaces()
    with registered(ShopsOnApi()) as added:
        yield added  # type: ignore[misc]


@pytest.fixture
async def poller(connector: ShopsOnApi, start_service: Any, dovecot: MailServer) -> RunningService:
    return await start_service(  # type: ignore[no-any-return]
        DEFINITION, POLL_ENABLED="false", REPLY_SENDER_ENABLED="false", **dovecot.settings
    )


async def connected(poller: RunningService, vault: VaultClient, connector: ShopsOnApi) -> Shop:
    """oauth's connect: the credentials in Vault, then connection.connected."""
    shop = Shop(f"t{uuid.uuid4().hex[:10]}", MARKETPLACE)
    secret = {"seller_id": "4242", "client_secret": "s3cret"}
    await vault.write(connector.credentials_path(shop.tenant_id), secret)
    event = ConnectionConnected(
        tenant_id=shop.tenant_id,
        marketplace=MARKETPLACE,
        connection_id=str(uuid.uuid4()),
        seller_id="4242",
        marketplace_ids=[],
        region="eu",
    )
    await publish(poller, event)

    async def scheduled() -> bool:
        found = await poller.runtime.pool.fetchval(
            "SELECT connection FROM poller_shops WHERE poll_key = $1", shop.key
        )
        return bool(found == "CONNECTED")

    await eventually(scheduled)
    return shop


async def tickets(poller: RunningService, shop: Shop) -> list[dict[str, Any]]:
    page = await get_json(poller, shop.tenant_id, "/api/v1/tickets/", marketplace=MARKETPLACE)
    return page["items"]  # type: ignore[no-any-return]


async def test_a_shop_api_registered_after_import_is_polled_into_discussion_tickets(
    poller: RunningService, vault: VaultClient, connector: ShopsOnApi
) -> None:
    marketplace = connector.shop_api.marketplace
    shop = await connected(poller, vault, connector)
    marketplace.buyer_writes("m1", ON_ORDER)
    marketplace.buyer_writes("m2", ThreadKey("DISCUSSION", "D-2"), claim=True)
    scheduler = poller.runtime.component(ShopScheduler)
    await scheduler.poll_now(shop.key)

    by_order = {t["orderId"]: t for t in await tickets(poller, shop)}
    assert set(by_order) == {"ORD-77", None}
    on_order = await get_json(poller, shop.tenant_id, f"/api/v1/tickets/{by_order['ORD-77']['id']}")
    assert on_order["threadDetails"] == [
        {"name": "topic", "label": "Typologie", "value": "Produit non reçu"}
    ]
    assert on_order["claim"] is False and by_order[None]["claim"] is True

    # It became a claim at the marketplace: its newest message listed again.
    marketplace.listed[0] = msgspec.structs.replace(marketplace.listed[0], claim=True)
    await scheduler.poll_now(shop.key)
    on_order = await get_json(poller, shop.tenant_id, f"/api/v1/tickets/{on_order['id']}")
    assert on_order["claim"] is True and on_order["messageCount"] == 1

    async with poller.client() as http:
        posted = await http.post(
            f"/api/v1/tickets/{on_order['id']}/replies",
            json={"text": "Nous relançons le transporteur.", "recipient": "MARKETPLACE_SUPPORT"},
            headers=headers(poller, shop.tenant_id),
        )
        assert posted.status_code == 202, posted.text
        refused = await http.post(
            f"/api/v1/tickets/{on_order['id']}/replies",
            json={"text": "Bonjour", "recipient": "ALL"},
            headers=headers(poller, shop.tenant_id),
        )
    assert refused.status_code == 400, refused.text
    assert "BUYER, MARKETPLACE_SUPPORT, OPERATOR" in refused.json()["message"]
    assert await send_due(replies(poller)) == 1
    [reply] = marketplace.replies
    assert (reply.thread, reply.recipient) == (ON_ORDER, "MARKETPLACE_SUPPORT")
    assert reply.in_reply_to == "m1"
