"""The connector seam on Fnac and Darty (keybuzz_shared.connectors): the registry, and a
session on the sandbox's double listing messages and orders page by page, replying, and
looking orders up by id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from fnac_connector_helpers import shop
from keybuzz_connector_fnac.connector import fnac_connector
from keybuzz_connector_fnac.models import FnacCredentialsRefused
from keybuzz_connector_fnac.session import (
    LISTING_OVERLAP,
    FnacShop,
    Pages,
    Renumbered,
    session_of,
)
from keybuzz_devstack.testing import shop_api_at
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.kit import Listing
from keybuzz_shared.connectors.seam import (
    Connector,
    CredentialsRefused,
    MarketplaceSession,
    OrderSummary,
    OutcomeUnknown,
    Reply,
    ReplyFile,
    ReplyOutcome,
    ThreadKey,
    cursor_of,
    shop_api_of,
)

LONG_AGO = datetime.now(UTC) - timedelta(days=400)


def test_every_marketplace_has_a_connector_fnac_and_darty_one_for_both() -> None:
    assert {"AMAZON", "FNAC", "DARTY"} <= set(registry.marketplaces())
    amazon = registry.connector_for("AMAZON")
    fnac, darty = registry.connector_for("FNAC"), registry.connector_for("DARTY")
    assert (fnac.marketplace, darty.marketplace) == ("FNAC", "DARTY")
    assert (fnac.display_name, darty.display_name) == ("Fnac", "Darty")
    assert fnac.connection_kind == darty.connection_kind == "CREDENTIALS"
    assert (amazon.connection_kind, amazon.shop_api) == ("OAUTH_REDIRECT", None)
    assert fnac.credentials_path("t1") == "secret/keybuzz/tenants/t1/fnac_api"
    assert darty.credentials_path("t1") == "secret/keybuzz/tenants/t1/darty_api"
    assert amazon.credentials_path("t1") == "secret/keybuzz/tenants/t1/amazon_spapi"
    assert [f.name for f in fnac.credential_fields] == ["partner_id", "shop_id", "key"]
    assert [f.name for f in fnac.credential_fields if f.secret] == ["key"]
    assert fnac.limits.max_attachments == 0 and fnac.limits.page_size == 100
    for unknown in ("amazon", "fnac", "NOT_SERVED", ""):
        with pytest.raises(registry.UnknownMarketplace, match=repr(unknown)):
            registry.connector_for(unknown)


def test_the_fnac_connector_is_a_connector_and_its_session_a_session() -> None:
    connector: Connector = fnac_connector("FNAC", "Fnac")
    session: MarketplaceSession = shop_api_of(connector).session(
        {"partner_id": "p", "shop_id": "s", "key": "k"},
        http=httpx.AsyncClient(),
        settings=shop_api_at("FNAC", "http://127.0.0.1:9/"),
    )
    assert isinstance(session.inbox, FnacShop)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="lack shop_id, key"):
        shop_api_of(connector).session(
            {"partner_id": "p", "shop_id": ""},
            http=httpx.AsyncClient(),
            settings=shop_api_at("FNAC", ""),
        )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def session_for(
    sandbox_url: str, http: httpx.AsyncClient, entry: dict[str, Any]
) -> MarketplaceSession:
    return shop_api_of(registry.connector_for(entry["marketplace"])).session(
        entry, http=http, settings=shop_api_at(entry["marketplace"], f"{sandbox_url}/fnac/api.php/")
    )


@pytest.fixture
async def quiet(sandbox_url: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as admin:
        await admin.delete("/_sandbox/fnac/faults")
        await admin.post("/_sandbox/fnac/ratelimits/reset")


@pytest.mark.parametrize("marketplace", ["FNAC", "DARTY"])
async def test_messages_are_listed_page_by_page_oldest_first(
    marketplace: str,
    quiet: None,
    sandbox_url: str,
    http: httpx.AsyncClient,
) -> None:
    entry = shop(sandbox_url, marketplace, "Démo")
    session = session_for(sandbox_url, http, entry)
    await session.verify()
    inbox = session.inbox  # type: ignore[attr-defined]
    assert isinstance(inbox, FnacShop)
    # Sessions read 100 a page: 3 a page shows the cursor at work on a small shop.
    small = session_of(inbox.client, msgspec.structs.replace(inbox.limits, page_size=3))
    pages = []
    page = await small.inbox_messages(since=LONG_AGO)
    pages.append(page)
    while page.next_cursor is not None:
        page = await small.inbox_messages(since=LONG_AGO, cursor=page.next_cursor)
        pages.append(page)
    messages = [m for p in pages for m in p.items]
    assert len(pages) >= 2 and all(len(p.items) <= 3 for p in pages)
    assert len({m.message_id for m in messages}) == len(messages)
    assert [m.created_at for m in messages] == sorted(m.created_at for m in messages)
    first = await session.messages(since=LONG_AGO)  # the same listing, 100 a page
    assert [m.message_id for m in first.items] == [m.message_id for m in messages[:100]]
    assert (first.next_cursor is None) == (len(messages) <= 100)
    assert {m.thread.kind for m in messages} <= {"ORDER", "OFFER"}
    buyer = next(m for m in messages if m.sender_type == "BUYER" and m.thread.kind == "ORDER")
    assert buyer.thread.id and buyer.body and buyer.created_at.tzinfo is not None
    assert {m.sender_type for m in messages} <= {"BUYER", "MARKETPLACE_SUPPORT", "SELLER", "SYSTEM"}


async def test_since_leaves_out_older_messages(
    quiet: None, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    session = session_for(sandbox_url, http, shop(sandbox_url, "FNAC", "Démo"))
    everything = (await session.inbox_messages(since=LONG_AGO)).items
    middle = everything[len(everything) // 2].created_at
    recent = (await session.inbox_messages(since=middle)).items
    assert recent and len(recent) < len(everything)
    assert all(m.created_at >= middle for m in recent)


async def test_a_reply_is_sent_and_a_refused_one_failed(
    quiet: None, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    entry = shop(sandbox_url, "DARTY", "Démo")
    session = session_for(sandbox_url, http, entry)
    messages = (await session.inbox_messages(since=LONG_AGO)).items
    buyer = next(m for m in messages if m.sender_type == "BUYER" and m.thread.kind == "ORDER")
    text = "Bonjour, votre commande est partie ce matin."
    outcome = await session.reply(
        Reply(thread=buyer.thread, in_reply_to=buyer.message_id, body=text)
    )
    assert (outcome.status, outcome.reason) == ("SENT", None)
    async with httpx.AsyncClient(base_url=sandbox_url) as admin:
        sent = (await admin.get(f"/_sandbox/fnac/shops/{entry['shop_id']}/sent")).json()["sent"]
    assert [s for s in sent if text in str(s)]

    unknown = await session.reply(
        Reply(thread=buyer.thread, in_reply_to="00000000-0000-0000-0000-000000000000", body="x")
    )
    assert unknown.status == "FAILED" and "ERR_201" in (unknown.reason or "")
    for too_much in (
        Reply(thread=buyer.thread, in_reply_to=buyer.message_id, body="x" * 2001),
        Reply(thread=buyer.thread, in_reply_to=buyer.message_id, body="  "),
        Reply(
            thread=buyer.thread,
            in_reply_to=buyer.message_id,
            body="voir pièce jointe",
            attachments=(ReplyFile(name="a.pdf", content_type="application/pdf", data=b"%PDF"),),
        ),
    ):
        refused = await session.reply(too_much)
        assert refused.status == "FAILED" and refused.reason


async def test_a_reply_whose_answer_was_lost_is_found_on_its_thread(
    quiet: None, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    entry = shop(sandbox_url, "FNAC", "Librairie")
    session = session_for(sandbox_url, http, entry)
    before = datetime.now(UTC)
    messages = (await session.inbox_messages(since=LONG_AGO)).items
    buyer = next(m for m in messages if m.sender_type == "BUYER" and m.thread.kind == "ORDER")
    text = f"Réponse perdue en route {before.timestamp()}"
    async with httpx.AsyncClient(base_url=sandbox_url) as admin:
        # Applied, then the answer is cut short: the client cannot tell whether it went.
        faults = {"operations": ["messages_update"], "malformedNext": 1}
        assert (await admin.put("/_sandbox/fnac/faults", json=faults)).status_code == 200
        with pytest.raises(OutcomeUnknown):
            await session.reply(Reply(thread=buyer.thread, in_reply_to=buyer.message_id, body=text))
        sent = (await admin.get(f"/_sandbox/fnac/shops/{entry['shop_id']}/sent")).json()["sent"]
    assert [s["description"] for s in sent].count(text) == 1  # never sent again
    found = await session.sent_messages(buyer.thread, since=before)
    assert [m.body for m in found].count(text) == 1
    assert {(m.sender_type, m.thread) for m in found} == {("SELLER", buyer.thread)}
    elsewhere = ThreadKey(kind="ORDER", id="NOT-AN-ORDER")
    assert await session.sent_messages(elsewhere, since=before) == []


async def test_orders_since_and_by_id(
    quiet: None, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    """Orders changed past a listing's window leave it mid-listing: those after them move
    up onto the pages read, and the listing reads them there, none skipped, no page twice."""
    entry = shop(sandbox_url, "FNAC", "Librairie")
    session = session_for(sandbox_url, http, entry)
    since = datetime.now(UTC) - timedelta(days=8)  # some 270 orders: three pages
    # A window ended seconds ago: what the double's clock changes from now on is past it.
    ended = datetime.now(UTC) - timedelta(seconds=3)
    window = cursor_of(Pages(since - LISTING_OVERLAP, ended, 1))

    async def listing(
        then: Callable[[list[OrderSummary]], Awaitable[object]] | None = None,
    ) -> list[OrderSummary]:
        page = await session.orders(since=since, cursor=window)
        listed = list(page.items)
        if then is not None:
            await then(listed)
        while page.next_cursor:
            page = await session.orders(since=since, cursor=page.next_cursor)
            listed += page.items
        return listed

    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as admin:
        advance = f"/_sandbox/fnac/shops/{entry['shop_id']}/advance"

        async def until_some_leave(read: list[OrderSummary]) -> None:
            """Hours of the shop's life after the first page, until orders it listed
            changed past the window's end (the shop's clock is the double's: not known)."""
            for _ in range(48):
                await admin.post(advance, json={"seconds": 3600})
                now = await session.orders_by_id([o.external_id for o in read])
                if any(o.updated_at > ended for o in now):
                    return

        listed = await listing(until_some_leave)
    ids = list(dict.fromkeys(o.external_id for o in listed))
    assert len(ids) > 100
    assert len(listed) - len(ids) < 100  # a few repeats, not a page of 100 read twice
    still = {o.external_id for o in await listing()}  # the window as it stands now
    assert still <= set(ids), "orders skipped"
    assert set(ids) - still, "no order left the window mid-listing: nothing was tested"
    order = listed[0]
    assert order.lines and order.updated_at >= order.created_at
    # 120 ids: three lookups of at most 50
    wanted = ids[:120]
    found = await session.orders_by_id([*wanted, wanted[0]])
    assert sorted(o.external_id for o in found) == sorted(wanted)


async def test_refused_credentials_surface_as_the_seams_error(
    quiet: None, sandbox_url: str, http: httpx.AsyncClient
) -> None:
    entry = {**shop(sandbox_url, "FNAC", "Démo"), "key": "wrong"}
    session = session_for(sandbox_url, http, entry)
    with pytest.raises(CredentialsRefused) as refused:
        await session.verify()
    assert isinstance(refused.value, FnacCredentialsRefused)
    with pytest.raises(CredentialsRefused):
        await session.reply(
            Reply(thread=ThreadKey("ORDER", "57BEAFDA828A8"), in_reply_to="m", body="Bonjour")
        )


async def test_a_cursor_from_elsewhere_is_refused(http: httpx.AsyncClient) -> None:
    session = fnac_connector("FNAC", "Fnac").shop_api.session(
        {"partner_id": "p", "shop_id": "s", "key": "k"},
        http=http,
        settings=shop_api_at("FNAC", "http://127.0.0.1:9/"),
    )
    for cursor in ("not base64!", "bm90IG1zZ3BhY2s=", ""):
        with pytest.raises(ValueError, match="not a cursor"):
            await session.inbox_messages(since=LONG_AGO, cursor=cursor)


async def test_a_listing_reads_the_items_moved_onto_pages_read() -> None:
    """Fnac's listings by date (``Renumbered``; on a listing: tests/test_kit_listing.py):
    items read leaving the window move the rest up onto the pages read."""
    paging = Renumbered[Any](100)
    window = Pages(LONG_AGO, datetime.now(UTC), 2, 250)

    async def step(state: Pages, more: bool, *totals: int) -> tuple[Pages | None, list[Any]]:
        """The state after ``state``'s page, each call answering the next of ``totals``;
        what was asked (page, size)."""
        asked: list[Any] = []

        async def fetch(params: dict[str, str], _link: str | None) -> Any:
            asked.append((params["page"], params.get("size")))
            return ["an item"], (more, totals[len(asked) - 1])  # a page listing nothing ends

        request = Listing.PageRequest(lambda *_: {}, fetch)
        read = await paging.step(state, request, lambda raw: (tuple(raw), ()))
        return read.following, asked

    def at(page: int, total: int) -> Pages:
        return Pages(window.low, window.high, page, total)

    # Page 2 read as 3 items of page 1 left: the 3 moved onto page 1 read in a page of 4
    # ending there (page 25 of 4), then page 3.
    assert await step(window, True, 247, 247) == (at(3, 247), [("2", None), ("25", "4")])
    # One more left meanwhile: the page of 4 holds the 4 that left since page 1.
    assert await step(window, True, 247, 246) == (at(3, 247), [("2", None), ("25", "4")])
    # Two more: it does not; a page of 5 ending there does.
    assert await step(window, True, 247, 245, 245) == (
        at(3, 247),
        [("2", None), ("25", "4"), ("20", "5")],
    )
    # More leaving at every small page, or more than a page: back to page 1, none skipped.
    assert (await step(window, True, 247, 245, 243, 200))[0] == at(1, 247)
    assert await step(window, True, 120) == (at(1, 120), [("2", None)])
    # Nothing left, or nothing read before (page 1): the next page as usual; the last ends.
    assert (await step(window, True, 250))[0] == at(3, 250)
    assert (await step(at(1, 250), True, 240))[0] == at(2, 240)
    assert (await step(at(3, 250), False, 251))[0] is None


def test_fnac_reads_its_refusal_codes_and_names_its_claim_notice():
    """The poller asks the connector: the codes a refused reply's statusCode shows, the
    subject of the claim notice shown once, who opened a claim."""
    for marketplace in ("FNAC", "DARTY"):
        connector = registry.connector_for(marketplace)
        refused = ReplyOutcome(
            status="FAILED",
            reason="Fnac messages_update answered ERROR: ERR_201: unknown; ERR_202: closed; ERR_201",
        )
        assert shop_api_of(connector).refusal_codes(refused) == ("ERR_201", "ERR_202")
        assert shop_api_of(connector).refusal_codes(ReplyOutcome(status="FAILED")) == ()
        inbox = shop_api_of(connector)
        assert inbox.claim_subject == "Nouvelle réclamation"
        assert inbox.claim_opener("client") == inbox.claim_opener("CLIENT") == "BUYER"
        assert inbox.claim_opener("callcenter") == "MARKETPLACE_SUPPORT"
        assert inbox.claim_opener(None) == "MARKETPLACE_SUPPORT"


async def test_fnac_threads_are_orders_and_offers_with_fnacs_recipients(
    http: httpx.AsyncClient,
) -> None:
    """A thread names its order (an order's by its id, a discussion by ``order_id``); Fnac
    offers the buyer, its customer service or both on its own threads, and a reply to
    anyone or anywhere else fails without a call (the address cannot be reached)."""
    order = ThreadKey(kind="ORDER", id="57BEAFDA828A8")
    discussion = ThreadKey(kind="DISCUSSION", id="d-1", order_id="57BEAFDA828A8")
    assert order.order == discussion.order == "57BEAFDA828A8"
    assert ThreadKey(kind="OFFER", id="offer-1").order is None
    api = shop_api_of(registry.connector_for("FNAC"))
    assert set(api.recipients(order)) == {"BUYER", "MARKETPLACE_SUPPORT", "ALL"}
    assert api.recipients(discussion) == ()
    session = api.session(
        {"partner_id": "p", "shop_id": "s", "key": "k"},
        http=http,
        settings=shop_api_at("FNAC", "http://127.0.0.1:9/"),
    )
    for reply in (
        Reply(thread=order, in_reply_to="m", body="Bonjour", recipient="OPERATOR"),
        Reply(thread=discussion, in_reply_to="m", body="Bonjour"),
    ):
        refused = await session.reply(reply)
        assert refused.status == "FAILED" and "Fnac's replies go to" in (refused.reason or "")
    assert await session.sent_messages(discussion, LONG_AGO) == []
