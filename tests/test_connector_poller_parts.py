"""The connector parts the poller asks (keybuzz_shared.connectors.seam): Amazon's mail relay
and response window, Fnac's and Darty's shop inbox on the sandbox's double."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest
from keybuzz_devstack.testing import Infra
from keybuzz_poller.inbound.addresses import INBOUND_HEADER
from keybuzz_poller.reading.marketplace.api_source import ApiMessageSource
from keybuzz_poller.reading.marketplace.domain import Shop
from keybuzz_poller.reading.marketplace.ports import ShopKeyRefused
from keybuzz_poller.reading.relay_mail import parse
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.fnac.client import FnacClient
from keybuzz_shared.connectors.fnac.models import MessagesQuery
from keybuzz_shared.connectors.seam import CredentialsRefused, mail_relay_of
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.connectors.shop_sessions import stored_credentials
from keybuzz_shared.settings import DEV_VAULT_TOKEN
from keybuzz_shared.vault import VaultClient

from tests.test_fnac_client import credentials_of, shop

LONG_AGO = datetime.now(UTC) - timedelta(days=400)
AMAZON = registry.connector_for("AMAZON")


def test_the_parts_are_where_the_marketplace_works_that_way() -> None:
    parts = {
        c.marketplace: (c.mail_relay is not None, c.response_window is not None, c.shop_inbox)
        for c in registry.connectors()
    }
    assert parts["AMAZON"][:2] == (True, True) and parts["AMAZON"][2] is None
    for marketplace in ("FNAC", "DARTY"):
        assert parts[marketplace][:2] == (False, False)
        assert parts[marketplace][2] is not None
    with pytest.raises(LookupError, match="FNAC has no e-mail relay"):
        mail_relay_of(registry.connector_for("FNAC"))


def test_amazons_relay_knows_its_buyers_orders_and_subjects() -> None:
    relay = mail_relay_of(AMAZON)
    assert relay.address_label == "amazon"
    assert relay.is_buyer_address("16dqebw7zz5vki28@marketplace.amazon.fr")
    assert relay.is_buyer_address("X@MARKETPLACE.AMAZON.CO.UK")
    assert not relay.is_buyer_address("someone@amazon.fr")
    assert relay.buyer_name("Jules Roux - Amazon Marketplace") == "Jules Roux"
    assert relay.buyer_name(" - Marketplace") is None
    assert relay.order_ids_in("Commande : 403-1027206-4659269, 1403-1027206-4659269") == [
        "403-1027206-4659269"
    ]
    # The order id stays in a reply's subject (Amazon files the reply by it), never twice.
    assert relay.reply_subject("Question", "403-1027206-4659269") == (
        "Re: Question (Order: 403-1027206-4659269)"
    )
    assert relay.reply_subject("RE:  Question (403-1027206-4659269)", "403-1027206-4659269") == (
        "RE: Question (403-1027206-4659269)"
    )
    assert relay.reply_subject("", None) == "Re:"
    rules = relay.reply_rules
    assert (rules.max_attachment_bytes, rules.max_attachments) == (10 * 1024 * 1024, 20)
    assert rules.max_text_chars == AMAZON.limits.max_text_length
    assert rules.attachment_types[".pdf"] == frozenset({"application/pdf"})


def test_amazons_demo_mails_read_as_relay_mails() -> None:
    relay = mail_relay_of(AMAZON)
    mails = [
        parse(relay.demo_mail("t1", i, "inbound.test", INBOUND_HEADER))
        for i in range(relay.demo_mail_count)
    ]
    assert len(mails) == 5 and all(m.parse_error is None for m in mails)
    assert {(m.marketplace, m.country) for m in mails} == {("AMAZON", "FR")}
    assert all(m.order_id and m.buyer_name and m.text for m in mails)
    assert relay.demo_mail("t1", 0, "inbound.test", INBOUND_HEADER) == relay.demo_mail(
        "t1", 0, "inbound.test", INBOUND_HEADER
    )


def test_amazons_response_window_is_24_hours_with_a_seller_central_link() -> None:
    window = AMAZON.response_window
    assert window is not None and window.rule.window == timedelta(hours=24)
    mark = window.mark("403-1027206-4659269", "FR")
    assert mark.url == "https://sellercentral.amazon.fr/orders-v3/order/403-1027206-4659269"
    assert not mark.synced
    assert window.mark(None, "FR").url is None
    assert "unknown marketplace ZZ" in window.mark("403-1027206-4659269", "ZZ").note


@pytest.fixture
async def http(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        await client.delete(f"{sandbox_url}/_sandbox/fnac/faults")
        await client.post(f"{sandbox_url}/_sandbox/fnac/ratelimits/reset")
        yield client


@pytest.mark.parametrize("marketplace", ["FNAC", "DARTY"])
async def test_a_shop_inbox_lists_messages_as_the_api_has_them(
    marketplace: str, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    entry = shop(sandbox_url, marketplace, "Démo")
    base_url = f"{sandbox_url}/fnac/api.php/"
    inbox = registry.connector_for(marketplace).shop_inbox
    assert inbox is not None
    session = inbox.inbox(entry, http=http, base_url=base_url)
    page = await session.messages(LONG_AGO, 1)
    assert page.items and not page.unreadable
    raw = await FnacClient(http, base_url, credentials_of(entry)).messages_query(
        MessagesQuery(page=1, results_count=100, created=(LONG_AGO, None), sort="ASC")
    )
    by_id = {m.message_id: m for m in raw.messages}
    assert page.more == raw.paging.has_next
    for message in page.items:
        source = by_id[message.message_id]
        assert message.unread == (not source.read)
        assert message.thread_id == source.referer
        assert message.body == source.description
        assert all("/" in f.content_type for f in message.files)
    senders = {"CLIENT": "BUYER", "CALLCENTER": "MARKETPLACE_SUPPORT", "SELLER": "SELLER"}
    assert all(
        m.sender_type == senders.get(by_id[m.message_id].from_type, "SYSTEM") for m in page.items
    )
    incidents = await session.incidents(LONG_AGO, 1)
    assert all(i.order_id and i.types for i in incidents.items)


async def test_a_shop_inbox_on_a_refused_key_raises_the_seams_error(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    entry = {**shop(sandbox_url, "FNAC", "Démo"), "key": "wrong"}
    inbox = registry.connector_for("FNAC").shop_inbox
    assert inbox is not None
    session = inbox.inbox(entry, http=http, base_url=f"{sandbox_url}/fnac/api.php/")
    with pytest.raises(CredentialsRefused):
        await session.messages(LONG_AGO, 1)


async def test_a_shops_credentials_are_read_whole_or_not_at_all(stack: Infra) -> None:
    vault = VaultClient(stack.vault_addr, token=DEV_VAULT_TOKEN)
    connector = registry.connector_for("DARTY")
    tenant_id = f"creds{uuid.uuid4().hex[:10]}"
    try:
        assert await stored_credentials(vault, connector, tenant_id) is None
        path = connector.credentials_path(tenant_id)
        await vault.write(path, {"partner_id": "p", "shop_id": "s", "key": ""})
        assert await stored_credentials(vault, connector, tenant_id) is None
        await vault.write(path, {"partner_id": "p", "shop_id": "s", "key": "k", "other": "x"})
        found = await stored_credentials(vault, connector, tenant_id)
        assert found == {"partner_id": "p", "shop_id": "s", "key": "k"}
    finally:
        await vault.aclose()


async def test_a_shops_key_is_read_once_a_poll_when_the_poll_opens(
    stack: Infra, sandbox_url: str
) -> None:
    vault = VaultClient(stack.vault_addr, token=DEV_VAULT_TOKEN)
    entry = shop(sandbox_url, "FNAC", "Démo")
    polled = Shop(f"once{uuid.uuid4().hex[:10]}", "FNAC")
    path = registry.connector_for("FNAC").credentials_path(polled.tenant_id)
    api = MarketplaceSettings().shop_api("FNAC")
    source = ApiMessageSource(
        vault,
        {"FNAC": msgspec.structs.replace(api, api_url=f"{sandbox_url}/fnac/api.php/")},
        inside_allowed=True,
    )
    try:
        await vault.write(path, {f: entry[f] for f in ("partner_id", "shop_id", "key")})
        await source.open(polled)
        # The seller's key changes after the poll opened: the poll goes on with the key it
        # read, and the next poll takes the new one (here refused).
        await vault.write(path, {f: entry[f] for f in ("partner_id", "shop_id")} | {"key": "x"})
        assert [page async for page in source.messages(polled, LONG_AGO)]
        await source.open(polled)
        with pytest.raises(ShopKeyRefused):
            [page async for page in source.messages(polled, LONG_AGO)]
    finally:
        await source.aclose()
        await vault.delete(path)
        await vault.aclose()
