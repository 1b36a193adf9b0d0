"""The parts of the Fnac connector the poller asks (keybuzz_shared.connectors.seam): Fnac's
and Darty's shop session (its inbox) on the sandbox's double, through the poller's source;
which connector has which part."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import msgspec
import pytest
from fnac_connector_helpers import credentials_of, read, shop
from keybuzz_connector_fnac.client import FnacClient, read_message, xml_instant
from keybuzz_connector_fnac.connector import LIMITS, fnac_connector
from keybuzz_connector_fnac.models import ByCreation, DateRange, MessagesQuery
from keybuzz_connector_fnac.session import FnacShop, session_of
from keybuzz_devstack.testing import Infra, shop_api_at
from keybuzz_poller.bootstrap import api_replies
from keybuzz_poller.shops.api_source import ApiMessageSource
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.shops.ports import ShopKeyRefused
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.seam import (
    AnswerUnreadable,
    CredentialsRefused,
    MarketplaceSession,
    RequestRefused,
    ThreadKey,
    mail_relay_of,
)
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.connectors.shop_sessions import stored_credentials
from keybuzz_shared.file_links import FileLinks, FileTooLarge, LinkRefused
from keybuzz_shared.settings import DEV_VAULT_TOKEN
from keybuzz_shared.vault import VaultClient

LONG_AGO = datetime.now(UTC) - timedelta(days=400)


def test_the_parts_are_where_the_marketplace_works_that_way() -> None:
    parts = {
        c.marketplace: (c.mail_relay is not None, c.response_window is not None, c.shop_api)
        for c in registry.connectors()
    }
    assert parts["AMAZON"][:2] == (True, True) and parts["AMAZON"][2] is None
    for marketplace in ("FNAC", "DARTY"):
        assert parts[marketplace][:2] == (False, False)
        assert parts[marketplace][2] is not None
    with pytest.raises(LookupError, match="FNAC has no e-mail relay"):
        mail_relay_of(registry.connector_for("FNAC"))


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
    api = registry.connector_for(marketplace).shop_api
    assert api is not None
    session = api.session(entry, http=http, settings=shop_api_at(marketplace, base_url))
    page = await session.inbox_messages(since=LONG_AGO)
    assert page.items and not page.unreadable
    raw = await FnacClient(http, base_url, credentials_of(entry)).listed(
        MessagesQuery(
            page=1,
            results_count=100,
            date=DateRange(type="CreatedAt", min=xml_instant(LONG_AGO)),
            sort=ByCreation("ASC"),
        )
    )
    by_id = {m.message_id: m for m in read(raw, read_message)}
    assert (page.next_cursor is not None) == raw.paging.has_next
    assert all(by_id[m.message_id] == m for m in page.items)  # each as the client reads it
    assert all(m.thread.id and "/" in f.content_type for m in page.items for f in m.files)
    assert {m.sender_type for m in page.items} <= {"BUYER", "MARKETPLACE_SUPPORT", "SELLER"}
    incidents = await session.incidents(since=LONG_AGO)
    assert all(i.order_id and i.types for i in incidents.items)


async def test_a_shop_inbox_on_a_refused_key_raises_the_seams_error(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    entry = {**shop(sandbox_url, "FNAC", "Démo"), "key": "wrong"}
    api = registry.connector_for("FNAC").shop_api
    assert api is not None
    session = api.session(
        entry, http=http, settings=shop_api_at("FNAC", f"{sandbox_url}/fnac/api.php/")
    )
    with pytest.raises(CredentialsRefused):
        await session.inbox_messages(since=LONG_AGO)


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


@asynccontextmanager
async def demo_shop_source(
    stack: Infra, sandbox_url: str, marketplace: str
) -> AsyncIterator[tuple[ApiMessageSource, Shop]]:
    """The poller's source on the double, the Démo Fnac shop's key stored for a new
    tenant's shop of ``marketplace``."""
    vault = VaultClient(stack.vault_addr, token=DEV_VAULT_TOKEN)
    entry = shop(sandbox_url, "FNAC", "Démo")
    polled = Shop(f"src{uuid.uuid4().hex[:10]}", marketplace)
    path = registry.connector_for(marketplace).credentials_path(polled.tenant_id)
    api = MarketplaceSettings().shop_api("FNAC")
    api = msgspec.structs.replace(api, api_url=f"{sandbox_url}/fnac/api.php/")
    polled_by_api = {c.marketplace for c in registry.connectors() if c.shop_api is not None}
    source = ApiMessageSource(
        vault, {m: api for m in polled_by_api | {marketplace}}, inside_allowed=True
    )
    try:
        await vault.write(path, {f: entry[f] for f in ("partner_id", "shop_id", "key")})
        yield source, polled
    finally:
        await source.aclose()
        await vault.delete(path)
        await vault.aclose()


async def test_a_shops_polls_and_replies_share_one_session_and_log_in_once(
    stack: Infra, sandbox_url: str
) -> None:
    """The poller's wiring (``bootstrap.api_replies``) gives the replies the polls' sessions:
    a shop polled, then replied to, authenticates once at the marketplace."""
    logins: list[str] = []

    async def count_logins(request: httpx.Request) -> None:
        if request.url.path.endswith("/auth"):
            logins.append(str(request.url))

    base_url = f"{sandbox_url}/fnac/api.php/"
    settings = SimpleNamespace(shop_api=lambda marketplace: SimpleNamespace(api_url=base_url))
    async with demo_shop_source(stack, sandbox_url, "FNAC") as (source, polled):
        source.http("FNAC").event_hooks = {"request": [count_logins]}
        await source.open(polled)
        assert [page async for page in source.messages(polled, LONG_AGO)]
        runtime: Any = SimpleNamespace(vault=source.sessions.vault, settings=settings)
        replies = api_replies(runtime, source)["FNAC"]
        thread = ThreadKey(kind="ORDER", id="NOT-AN-ORDER")
        assert await replies.sent_messages(polled.tenant_id, thread, LONG_AGO) == []
    assert len(logins) == 1


async def message_ids(session: MarketplaceSession) -> list[str]:
    """The shop's messages, listed 100 a page."""
    pages = [await session.inbox_messages(since=LONG_AGO)]
    while pages[-1].next_cursor is not None:
        pages.append(await session.inbox_messages(since=LONG_AGO, cursor=pages[-1].next_cursor))
    return [m.message_id for p in pages for m in p.items]


async def incident_ids(session: MarketplaceSession) -> list[str]:
    """The shop's incidents, listed 100 a page."""
    pages = [await session.incidents(since=LONG_AGO)]
    while pages[-1].next_cursor is not None:
        pages.append(await session.incidents(since=LONG_AGO, cursor=pages[-1].next_cursor))
    return [i.incident_id for p in pages for i in p.items]


def assert_each_once(paged: list[str], before: list[str], after: list[str]) -> None:
    """Paged ids: each once, every id listed before in its order, none that was not listed
    after (the shop may get messages meanwhile: other tests write on it)."""
    assert len(set(paged)) == len(paged)
    assert [i for i in paged if i in set(before)] == before
    assert set(paged) <= set(after)


async def test_a_shop_inbox_pages_by_the_cursor_it_hands_out(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    """Each page's ``next_cursor``, passed back as it is, gives the next page: every
    message of the listing once, oldest first, as one large page lists them."""
    entry = shop(sandbox_url, "FNAC", "Démo")
    session = registry.connector_for("FNAC").shop_api.session(  # type: ignore[union-attr]
        entry, http=http, settings=shop_api_at("FNAC", f"{sandbox_url}/fnac/api.php/")
    )
    inbox = session.inbox  # type: ignore[union-attr]
    assert isinstance(inbox, FnacShop)
    small = session_of(inbox.client, msgspec.structs.replace(inbox.limits, page_size=3))
    before = await message_ids(session)
    pages = [await small.inbox_messages(since=LONG_AGO)]
    while pages[-1].next_cursor is not None and len(pages) < 1000:
        pages.append(await small.inbox_messages(since=LONG_AGO, cursor=pages[-1].next_cursor))
    assert len(pages) >= 2 and all(len(p.items) <= 3 for p in pages)
    paged = [m.message_id for p in pages for m in p.items]
    assert_each_once(paged, before, await message_ids(session))
    before = await incident_ids(session)
    incidents = [await small.incidents(since=LONG_AGO)]
    while incidents[-1].next_cursor is not None and len(incidents) < 1000:
        incidents.append(await small.incidents(since=LONG_AGO, cursor=incidents[-1].next_cursor))
    found = [i.incident_id for p in incidents for i in p.items]
    assert_each_once(found, before, await incident_ids(session))
    for cursor in ("not base64!", "bm90IG1zZ3BhY2s=", ""):
        with pytest.raises(ValueError, match="not a cursor"):
            await session.inbox_messages(since=LONG_AGO, cursor=cursor)
        with pytest.raises(ValueError, match="not a cursor"):
            await session.incidents(since=LONG_AGO, cursor=cursor)


async def test_a_poll_reads_every_page_by_the_connectors_cursor(
    stack: Infra, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    """The poller's source passes each page's cursor back untouched until there is none:
    a connector of 3-item pages (Fnac's, under a throwaway name) gives the poll every
    message and incident once, in the marketplace's order."""
    small = fnac_connector(
        "SMALLPAGES", "Small pages", limits=msgspec.structs.replace(LIMITS, page_size=3)
    )
    whole = registry.connector_for("FNAC").shop_api.session(  # type: ignore[union-attr]
        shop(sandbox_url, "FNAC", "Démo"),
        http=http,
        settings=shop_api_at("FNAC", f"{sandbox_url}/fnac/api.php/"),
    )
    before = (await message_ids(whole), await incident_ids(whole))
    with registry.registered(small):
        async with demo_shop_source(stack, sandbox_url, "SMALLPAGES") as (source, polled):
            await source.open(polled)
            pages = [page async for page in source.messages(polled, LONG_AGO)]
            incidents = [page async for page in source.incidents(polled, LONG_AGO)]
    assert len(pages) >= 2 and all(len(page) <= 3 for page in pages)
    paged = [m.message_id for p in pages for m in p]
    assert_each_once(paged, before[0], await message_ids(whole))
    found = [i.incident_id for p in incidents for i in p]
    assert_each_once(found, before[1], await incident_ids(whole))


async def test_a_messages_file_is_downloaded_through_the_shops_session(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    """The session fetches its messages' files from the origins it was given, within the
    cap; a session given none fetches nothing."""
    entry = shop(sandbox_url, "FNAC", "Démo")
    api = registry.connector_for("FNAC").shop_api
    assert api is not None
    base_url = f"{sandbox_url}/fnac/api.php/"
    files = FileLinks([sandbox_url], inside_allowed=True)
    session = api.session(entry, http=http, settings=shop_api_at("FNAC", base_url), files=files)
    listed = (await session.inbox_messages(since=LONG_AGO)).items
    linked = next(f for m in listed for f in m.files)
    content = await session.file(linked, 10 * 2**20)
    assert content and content == (await http.get(linked.url)).content
    with pytest.raises(FileTooLarge):
        await session.file(linked, len(content) - 1)
    with pytest.raises(LinkRefused):
        await api.session(entry, http=http, settings=shop_api_at("FNAC", base_url)).file(
            linked, 10 * 2**20
        )


async def test_a_sessions_failures_are_the_seams_outcomes(
    sandbox_url: str, http: httpx.AsyncClient
) -> None:
    """What the marketplace answered, as the seam's outcomes a service acts on: a request
    refused (with the marketplace's codes in its reason), an answer that cannot be read."""
    api = registry.connector_for("FNAC").shop_api
    assert api is not None
    session = api.session(
        shop(sandbox_url, "FNAC", "Démo"),
        http=http,
        settings=shop_api_at("FNAC", f"{sandbox_url}/fnac/api.php/"),
    )
    await session.verify()
    faults = f"{sandbox_url}/_sandbox/fnac/faults"
    refuse = {"operations": ["incidents_query"], "refuseNext": 1, "refuseCodes": ["ERR_105"]}
    assert (await http.put(faults, json=refuse)).status_code == 200
    with pytest.raises(RequestRefused, match="ERR_105"):
        await session.incidents(since=LONG_AGO)
    garble = {"operations": ["incidents_query"], "malformedNext": 1, "malformedKind": "schema"}
    assert (await http.put(faults, json=garble)).status_code == 200
    with pytest.raises(AnswerUnreadable):
        await session.incidents(since=LONG_AGO)
    await http.delete(faults)
    assert (await session.incidents(since=LONG_AGO)).items
