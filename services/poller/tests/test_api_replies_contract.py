"""One contract, two adapters of ``replies/ports.MarketplaceReplies``: the unit tier's
``InMemoryShopReplies`` (``poller_shop_fakes.py``) and ``ShopReplies`` (the Fnac connector
on a shop key in OpenBao) against the sandbox's Fnac double over HTTP, so a fake that
answers differently from the double fails here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from keybuzz_devstack.testing import Infra, shop_api_at
from keybuzz_poller.replies.ports import MarketplaceReplies
from keybuzz_poller.shops.replies import ShopReplies
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import CredentialsRefused, OutcomeUnknown, Reply, ThreadKey
from keybuzz_shared.settings import DEV_VAULT_TOKEN
from keybuzz_shared.vault import VaultClient
from poller_shop_fakes import InMemoryShopReplies


@dataclass
class Shop:
    api: MarketplaceReplies
    tenant_id: str
    buyer_writes: Callable[[str], Awaitable[tuple[str, str]]]  # body -> (message, order)
    lose_next_answer: Callable[[], Awaitable[None]]
    copies: Callable[[str], Awaitable[int]]  # replies with this text the shop holds


@pytest.fixture(params=["memory", "double"])
async def shop(request: pytest.FixtureRequest) -> AsyncIterator[Shop]:
    tenant_id = f"t{uuid.uuid4().hex[:10]}"
    if request.param == "memory":
        fake = InMemoryShopReplies()

        async def written(body: str) -> tuple[str, str]:
            return fake.buyer_writes(tenant_id, "ORD1", body), "ORD1"

        async def lose() -> None:
            fake.lose_next_answer = True

        async def copies(text: str) -> int:
            return fake.sent_bodies(tenant_id).count(text)

        yield Shop(fake, tenant_id, written, lose, copies)
        return
    stack: Infra = request.getfixturevalue("stack")
    sandbox_url: str = request.getfixturevalue("sandbox_url")
    vault = VaultClient(stack.vault_addr, token=DEV_VAULT_TOKEN)
    async with (
        httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/fnac", timeout=10) as admin,
        httpx.AsyncClient(timeout=30) as http,
    ):
        spec = next(s for s in (await admin.get("/shops")).json() if s["marketplace"] == "FNAC")
        fields = {f: spec[f] for f in ("partner_id", "shop_id", "key")}
        await vault.write(f"secret/keybuzz/tenants/{tenant_id}/fnac_api", fields)

        async def on_double(body: str) -> tuple[str, str]:
            written = await admin.post(
                f"/shops/{spec['shop_id']}/messages", json={"description": body}
            )
            assert written.status_code == 201, written.text
            return written.json()["messageId"], written.json()["orderId"]

        async def lose_on_double() -> None:
            faults = {"operations": ["messages_update"], "malformedNext": 1}
            assert (await admin.put("/faults", json=faults)).status_code == 200

        async def copies_on_double(text: str) -> int:
            sent = (await admin.get(f"/shops/{spec['shop_id']}/sent")).json()["sent"]
            return [s["description"] for s in sent].count(text)

        api = ShopReplies(
            connector_for("FNAC"), vault, http, shop_api_at("FNAC", f"{sandbox_url}/fnac/api.php/")
        )
        yield Shop(api, tenant_id, on_double, lose_on_double, copies_on_double)
        await admin.delete("/faults")
    await vault.aclose()


def _text() -> str:
    return f"Votre colis est parti ce matin ({uuid.uuid4().hex[:8]})."


async def test_a_reply_to_the_buyer_is_sent_once_and_found_on_its_thread(shop: Shop) -> None:
    since = datetime.now(UTC)
    message_id, order_id = await shop.buyer_writes("Où en est ma commande ?")
    thread = ThreadKey(kind="ORDER", id=order_id)
    text = _text()
    outcome = await shop.api.reply(
        shop.tenant_id, Reply(thread=thread, in_reply_to=message_id, body=text)
    )
    assert (outcome.status, outcome.reason) == ("SENT", None)
    assert await shop.copies(text) == 1
    found = await shop.api.sent_messages(shop.tenant_id, thread, since)
    assert [m.body for m in found].count(text) == 1
    assert {(m.sender_type, m.thread) for m in found} == {("SELLER", thread)}
    other = ThreadKey(kind="ORDER", id="NOT-AN-ORDER")
    assert await shop.api.sent_messages(shop.tenant_id, other, since) == []
    assert shop.api.limits.max_attachments == 0


async def test_a_reply_to_an_unknown_message_fails_with_the_marketplace_code(shop: Shop) -> None:
    _, order_id = await shop.buyer_writes("Bonjour")
    outcome = await shop.api.reply(
        shop.tenant_id,
        Reply(
            thread=ThreadKey(kind="ORDER", id=order_id),
            in_reply_to="00000000-0000-0000-0000-000000000000",
            body=_text(),
        ),
    )
    assert outcome.status == "FAILED" and "ERR_201" in (outcome.reason or "")


async def test_a_lost_answer_is_unknown_and_the_reply_is_on_the_thread_once(shop: Shop) -> None:
    since = datetime.now(UTC)
    message_id, order_id = await shop.buyer_writes("Toujours rien")
    thread = ThreadKey(kind="ORDER", id=order_id)
    text = _text()
    await shop.lose_next_answer()
    with pytest.raises(OutcomeUnknown):
        await shop.api.reply(
            shop.tenant_id, Reply(thread=thread, in_reply_to=message_id, body=text)
        )
    assert await shop.copies(text) == 1
    found = await shop.api.sent_messages(shop.tenant_id, thread, since)
    assert [m.body for m in found].count(text) == 1


async def test_a_shop_without_a_stored_key_is_refused(shop: Shop) -> None:
    thread = ThreadKey(kind="ORDER", id="ORD1")
    with pytest.raises(CredentialsRefused):
        await shop.api.reply("nobody", Reply(thread=thread, in_reply_to="m", body="x"))
    with pytest.raises(CredentialsRefused):
        await shop.api.sent_messages("nobody", thread, datetime.now(UTC))


async def test_an_order_thread_takes_replies_to_the_buyer_and_customer_service(
    shop: Shop,
) -> None:
    """Whom a reply may go to, as the connector says for its threads."""
    offered = shop.api.recipients(ThreadKey(kind="ORDER", id="8A2YLSXFX7C9N"))
    assert {"BUYER", "MARKETPLACE_SUPPORT"} <= set(offered)
    assert "OPERATOR" not in offered
