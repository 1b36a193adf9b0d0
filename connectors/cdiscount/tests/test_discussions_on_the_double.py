"""The inbox and the replies of a Cdiscount shop against the sandbox's Octopia double over
HTTP: listings, paging while discussions change, marking read, files with the token,
replies to each recipient Octopia offers, and their refusals."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cdiscount_helpers import DEMO, shops
from keybuzz_connector_cdiscount.connector import OctopiaClient, OctopiaCredentials
from keybuzz_connector_cdiscount.discussions import DiscussionInbox, discussion_replies
from keybuzz_connector_cdiscount.settings import CDISCOUNT
from keybuzz_poller.settings import PollerSettings
from keybuzz_sandbox import SandboxConfig
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import (
    CallOutcomeUnknown,
    CallUnavailable,
    InboxFile,
    InboxMessage,
    Reply,
    ReplyFile,
    ThreadKey,
    shop_api_of,
)
from keybuzz_shared.file_links import FileLinks, FileTooLarge, LinkRefused
from keybuzz_shared.settings import load_settings

SHOP = "KeyBuzz Maison Cdiscount"
TOKEN_PATH = "/octopia/auth/realms/maas/protocol/openid-connect/token"
ANSWER = "Bonjour, nous regardons votre commande et revenons vers vous."


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/cdiscount", timeout=30) as http:
        yield http
        await http.delete("/faults")


@pytest.fixture
async def shop(admin: httpx.AsyncClient) -> dict[str, Any]:
    shops = (await admin.get("/shops")).json()
    return next(s for s in shops if s["name"] == SHOP)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def octopia(
    sandbox_url: str, http: httpx.AsyncClient, shop: dict[str, Any], **settings: Any
) -> OctopiaClient:
    return OctopiaClient(
        OctopiaCredentials(
            client_id=shop["clientId"],
            client_secret=shop["clientSecret"],
            seller_id=shop["sellerId"],
        ),
        http,
        f"{sandbox_url}/octopia/seller/v2/",
        f"{sandbox_url}{TOKEN_PATH}",
        files=FileLinks([sandbox_url], inside_allowed=True),
        initial_backoff=0.05,
        **settings,
    )


@pytest.fixture
def client(sandbox_url: str, http: httpx.AsyncClient, shop: dict[str, Any]) -> OctopiaClient:
    return octopia(sandbox_url, http, shop)


@pytest.fixture
def inbox(client: OctopiaClient) -> DiscussionInbox:
    return DiscussionInbox(client, page_size=100)


async def opened(admin: httpx.AsyncClient, shop: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = await admin.post(f"/shops/{shop['sellerId']}/discussions", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def written(
    admin: httpx.AsyncClient, shop: dict[str, Any], discussion_id: str, **body: Any
) -> dict[str, Any]:
    response = await admin.post(
        f"/shops/{shop['sellerId']}/discussions/{discussion_id}/messages", json=body
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def graduated(
    admin: httpx.AsyncClient, shop: dict[str, Any], discussion_id: str, graduation: str
) -> None:
    response = await admin.post(
        f"/shops/{shop['sellerId']}/discussions/{discussion_id}/graduation",
        json={"graduation": graduation},
    )
    assert response.status_code == 200, response.text


async def listing(inbox: DiscussionInbox, since: datetime) -> list[InboxMessage]:
    found: list[InboxMessage] = []
    cursor = None
    while True:
        page = await inbox.inbox_messages(since=since, cursor=cursor)
        assert not page.unreadable
        found += page.items
        if page.next_cursor is None:
            assert page.complete_until is not None
            return found
        cursor = page.next_cursor


async def sent_log(admin: httpx.AsyncClient, shop: dict[str, Any]) -> list[dict[str, Any]]:
    return (await admin.get(f"/shops/{shop['sellerId']}/sent")).json()["sent"]  # type: ignore[no-any-return]


def just_before() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=2)


async def test_a_buyers_discussion_is_listed_with_its_order_details_and_unread_message(
    admin: httpx.AsyncClient, shop: dict[str, Any], inbox: DiscussionInbox
) -> None:
    since = just_before()
    new = await opened(admin, shop, subTypologyCode="productIsDamaged", body="Colis abîmé, SVP.")
    [message] = [m for m in await listing(inbox, since) if m.thread.id == new["discussionId"]]
    assert message.message_id == new["messageId"]
    assert message.thread == ThreadKey("DISCUSSION", new["discussionId"], order_id=new["orderId"])
    details = {d.name: d.value for d in message.thread_details}
    assert details["topic"] == "Commande" and details["sub_topic"] == "Produit endommagé"
    assert details["sales_channel"]
    assert message.sender_type == "BUYER" and message.unread and not message.claim
    assert message.body == "Colis abîmé, SVP."


async def test_paging_reads_every_discussion_once_even_when_one_changes_meanwhile(
    admin: httpx.AsyncClient, shop: dict[str, Any], client: OctopiaClient
) -> None:
    """Octopia numbers its pages: a discussion of the first page updated before the second
    is read moves to the end, and reading "page 2" would skip the one that moved up."""
    since = just_before()
    ids = [(await opened(admin, shop))["discussionId"] for _ in range(7)]
    inbox = DiscussionInbox(client, page_size=3)
    first = await inbox.inbox_messages(since=since)
    assert first.next_cursor is not None
    await written(admin, shop, first.items[0].thread.id, body="Toujours là ?")
    found = list(first.items)
    cursor: str | None = first.next_cursor
    while cursor is not None:
        page = await inbox.inbox_messages(since=since, cursor=cursor)
        found += page.items
        cursor = page.next_cursor
    listed = {m.thread.id for m in found}
    assert set(ids) <= listed
    # Repeats (the instant a page ends on) are the same messages: dropped by id downstream.
    by_id = {m.message_id: m for m in found}
    assert len(by_id) >= len(ids)


async def test_where_octopia_refuses_include_all_each_discussion_is_read_whole(
    admin: httpx.AsyncClient, shop: dict[str, Any], inbox: DiscussionInbox
) -> None:
    """``includeMessages=All`` is the double's: when Octopia answers it with a 400, the
    session lists without it and reads each discussion, so no message is missed."""
    since = just_before()
    new = await opened(admin, shop, body="Où est mon colis ?")
    later = await written(admin, shop, new["discussionId"], body="Toujours rien.")
    refusing = await admin.put("/faults", json={"observedListingOnly": True})
    assert refusing.status_code == 200, refusing.text
    for _ in range(2):  # the refusal once, then the session lists without asking for All
        found = [m for m in await listing(inbox, since) if m.thread.id == new["discussionId"]]
        assert [m.message_id for m in found] == [new["messageId"], later["messageId"]]
        assert [m.body for m in found] == ["Où est mon colis ?", "Toujours rien."]


async def test_a_discussion_that_becomes_a_claim_is_listed_again_flagged(
    admin: httpx.AsyncClient, shop: dict[str, Any], inbox: DiscussionInbox
) -> None:
    new = await opened(admin, shop)
    await asyncio.sleep(1.1)  # Octopia's dates are whole seconds: the message is older
    since = datetime.now(UTC)
    await graduated(admin, shop, new["discussionId"], "Claim")
    again = [m for m in await listing(inbox, since) if m.thread.id == new["discussionId"]]
    assert [m.message_id for m in again] == [new["messageId"]] and again[0].claim


async def test_customer_cares_message_is_shown_as_octopias(
    admin: httpx.AsyncClient, shop: dict[str, Any], inbox: DiscussionInbox
) -> None:
    since = just_before()
    new = await opened(admin, shop)
    care = await written(admin, shop, new["discussionId"], userType="GrcOperator", body="Merci")
    [message] = [m for m in await listing(inbox, since) if m.message_id == care["messageId"]]
    assert message.sender_type == "MARKETPLACE_SUPPORT"
    assert message.sender_name == "Service client Cdiscount (Octopia)"


async def test_marked_read_at_octopia(
    admin: httpx.AsyncClient, shop: dict[str, Any], inbox: DiscussionInbox
) -> None:
    since = just_before()
    new = await opened(admin, shop)
    assert await inbox.mark_read([new["messageId"], "999999999999"]) == 1  # unknown: refused
    [message] = [m for m in await listing(inbox, since) if m.message_id == new["messageId"]]
    assert not message.unread


async def test_a_burst_of_marks_stops_at_its_budget_and_the_next_call_goes_on(
    admin: httpx.AsyncClient, shop: dict[str, Any], client: OctopiaClient
) -> None:
    """Octopia marks one message a call, under its rate limit: a mark_read that would hold a
    poll past its deadline stops at its budget, and the next one marks the rest, not the
    same ones again."""
    since = just_before()
    ids = [(await opened(admin, shop))["messageId"] for _ in range(60)]
    # Each call held 0.1 s: sixty marks, four at a time, take 1.5 s however fast this
    # machine and the sandbox's scaled rate limit are, three times the budget.
    slow = {"stallSeconds": 0.1, "stallShops": [shop["sellerId"]]}
    assert (await admin.put("/faults", json=slow)).status_code in (200, 204)
    inbox = DiscussionInbox(client, page_size=100, mark_budget=0.5)
    calls, cut, left = 0, 0, len(ids)
    while True:
        calls += 1
        try:
            refused = await inbox.mark_read(ids)
        except CallUnavailable as exc:
            # Each call goes on from the last one's end: what is left never grows (a call that
            # started over would say as many left again and never end). A loaded machine may
            # spend a budget before its first mark answers: no progress that call, none lost.
            said = re.search(r"(\d+) messages left to mark read after 0.5 s", str(exc))
            assert said is not None, str(exc)
            assert int(said.group(1)) <= left, "marking goes backwards"
            refused, left, cut = None, int(said.group(1)), cut + 1
        if refused == 0:
            break
        assert calls < 2 * len(ids), "marking makes no progress"
        await asyncio.sleep(1)
    assert cut >= 1, "marking held past its budget"
    unread = {m.message_id for m in await listing(inbox, since) if m.unread}
    assert not unread & set(ids)


async def test_a_shops_session_marks_within_a_quarter_of_its_calls_deadline(
    sandbox_url: str, admin: httpx.AsyncClient, http: httpx.AsyncClient, shop: dict[str, Any]
) -> None:
    ids = [(await opened(admin, shop))["messageId"] for _ in range(60)]
    view = load_settings(
        PollerSettings,
        {
            "CDISCOUNT_API_URL": f"{sandbox_url}/octopia/seller/v2/",
            "CDISCOUNT_AUTH_URL": f"{sandbox_url}{TOKEN_PATH}",
            "CDISCOUNT_CALL_DEADLINE_SECONDS": "2",
        },
    ).shop_api(CDISCOUNT)
    credentials = {
        "client_id": shop["clientId"],
        "client_secret": shop["clientSecret"],
        "seller_id": shop["sellerId"],
    }
    api = shop_api_of(connector_for(CDISCOUNT))
    session = api.session(credentials, http=http, settings=view)
    await session.verify()
    # Octopia throttling every mark for a second: what a shop's spent allowance answers,
    # whatever this machine's speed (the double's own bucket refills as fast as a loaded
    # machine can call it).
    throttling = {
        "failNext": 1_000,
        "failStatus": 429,
        "retryAfterSeconds": 1,
        "operations": ["patchMessage"],
    }
    assert (await admin.put("/faults", json=throttling)).status_code == 200
    # Cut at its budget, a quarter of the 2 s deadline, not at the deadline itself.
    with pytest.raises(CallUnavailable, match="left to mark read after 0.5 s"):
        await session.mark_read(ids)  # a 1 s Retry-After: more than half a second


async def test_a_messages_file_is_downloaded_with_the_token_within_its_cap(
    sandbox_url: str, admin: httpx.AsyncClient, shop: dict[str, Any], inbox: DiscussionInbox
) -> None:
    since = just_before()
    new = await opened(admin, shop)
    photo = {"name": "photo.jpg", "fileFormat": "jpg", "size": 2_000}
    sent = await written(admin, shop, new["discussionId"], attachments=[photo])
    [message] = [m for m in await listing(inbox, since) if m.message_id == sent["messageId"]]
    [file] = message.files
    assert file.name == "photo.jpg" and file.content_type == "image/jpeg"
    assert len(await inbox.file(file, 10_000)) == 2_000
    with pytest.raises(FileTooLarge):
        await inbox.file(file, 1_000)
    # The token goes to Octopia's attachments only, not elsewhere on its host.
    for url in ("https://example.com/attachments/1", f"{sandbox_url}/_sandbox/cdiscount/shops"):
        with pytest.raises(LinkRefused):
            await inbox.file(InboxFile(name="x", url=url, content_type=""), 10_000)


def reply(discussion_id: str, recipient: Any = "BUYER", **fields: Any) -> Reply:
    return Reply(
        thread=ThreadKey("DISCUSSION", discussion_id),
        in_reply_to="",
        body=fields.pop("body", ANSWER),
        recipient=recipient,
        **fields,
    )


async def test_replies_reach_the_buyer_and_customer_care_with_their_files(
    admin: httpx.AsyncClient, shop: dict[str, Any], client: OctopiaClient
) -> None:
    replies = discussion_replies(client, DiscussionInbox(client, page_size=100))
    new = await opened(admin, shop)
    since = just_before()
    pdf = ReplyFile(name="facture.pdf", content_type="application/pdf", data=b"%PDF-1.4 x")
    outcome = await replies.reply(reply(new["discussionId"], attachments=(pdf,)))
    assert outcome.status == "SENT", outcome.reason
    # Customer care is offered once it has written in the discussion.
    refused = await replies.reply(reply(new["discussionId"], "MARKETPLACE_SUPPORT"))
    assert refused.status == "FAILED" and "eligible: Customer" in (refused.reason or "")
    await written(admin, shop, new["discussionId"], userType="GrcOperator", body="Merci")
    to_care = await replies.reply(reply(new["discussionId"], "MARKETPLACE_SUPPORT", body=ANSWER))
    assert to_care.status == "SENT", to_care.reason

    mine = [s for s in await sent_log(admin, shop) if s["discussionId"] == new["discussionId"]]
    assert [[r["userType"] for r in s["receivers"]] for s in mine] == [
        ["Customer"],
        ["GrcOperator"],
    ]
    assert mine[0]["attachments"] == [{"name": "facture.pdf", "fileFormat": "pdf", "size": 10}]
    read_back = await replies.sent_messages(ThreadKey("DISCUSSION", new["discussionId"]), since)
    assert [m.message_id for m in read_back] == [s["messageId"] for s in mine]
    assert {m.body for m in read_back} == {ANSWER} and {m.sender_type for m in read_back} == {
        "SELLER"
    }


async def test_octopias_refusal_is_a_failed_outcome_with_its_reason(
    admin: httpx.AsyncClient, shop: dict[str, Any], client: OctopiaClient
) -> None:
    replies = discussion_replies(client, DiscussionInbox(client, page_size=100))
    new = await opened(admin, shop)
    short = await replies.reply(reply(new["discussionId"], body="Merci"))
    assert short.status == "FAILED" and "13 to 5000 characters" in (short.reason or "")
    gone = await replies.reply(reply("999999999"))
    assert gone.status == "FAILED" and "not found" in (gone.reason or "")
    assert not [s for s in await sent_log(admin, shop) if s["discussionId"] == new["discussionId"]]


async def test_a_reply_whose_answer_is_lost_is_found_by_reading_the_discussion_back(
    sandbox_url: str,
    admin: httpx.AsyncClient,
    http: httpx.AsyncClient,
    shop: dict[str, Any],
) -> None:
    client = octopia(sandbox_url, http, shop, call_deadline=2.0)
    replies = discussion_replies(client, DiscussionInbox(client, page_size=100))
    new = await opened(admin, shop)
    await client.authenticate()
    since = datetime.now(UTC)  # Octopia dates the reply to the second below
    faults = {"holdSeconds": 5, "holdShops": [shop["sellerId"]], "operations": ["postMessage"]}
    assert (await admin.put("/faults", json=faults)).status_code == 200
    with pytest.raises(CallOutcomeUnknown):
        await replies.reply(reply(new["discussionId"]))
    await admin.delete("/faults")
    thread = ThreadKey("DISCUSSION", new["discussionId"])
    [found] = await replies.sent_messages(thread, since)
    assert found.body == ANSWER


async def test_a_since_older_than_six_months_is_clamped_not_refused(
    serve: Callable[..., Awaitable[httpx.AsyncClient]], http: httpx.AsyncClient
) -> None:
    """Octopia refuses a search over 6 months (400): the listing starts 182 days back.

    On a double of its own at real time: the double measures the span to its shop's
    clock, which runs ahead of ours by what the session's sandbox played (its time scale,
    other tests' advances of the shop), a day's margin gone after a day's advance."""
    own = await serve(SandboxConfig(time_scale=1))
    shop = (await shops(own))[DEMO]  # its smallest shop
    inbox = DiscussionInbox(octopia(str(own.base_url), http, shop), page_size=100)
    await listing(inbox, datetime.now(UTC) - timedelta(days=400))


async def test_once_octopia_refuses_include_all_the_session_stops_asking_for_it(
    admin: httpx.AsyncClient, shop: dict[str, Any], sandbox_url: str
) -> None:
    """The refusal is Octopia's for the shop: the session keeps the fallback for its life,
    asking ``includeMessages=All`` once, not on every listing."""
    asked: list[str] = []

    async def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/discussions"):
            asked.append(request.url.params.get("includeMessages", ""))

    since = just_before()
    await opened(admin, shop, body="Encore une question")
    refusing = await admin.put("/faults", json={"observedListingOnly": True})
    assert refusing.status_code == 200, refusing.text
    async with httpx.AsyncClient(timeout=30, event_hooks={"request": [record]}) as http:
        inbox = DiscussionInbox(octopia(sandbox_url, http, shop), page_size=100)
        for _ in range(3):
            assert await listing(inbox, since)
    assert asked.count("All") == 1 and len(asked) >= 4  # the refused one, then three without


@pytest.mark.parametrize(
    "path",
    [
        "orders",
        "discussions/1/messages",
        "attachments/../orders",
        "attachments/%2e%2e/orders",
        "attachments/a%2F..%2F..%2Forders",
    ],
)
async def test_the_shops_token_goes_to_the_attachment_path_only(
    shop: dict[str, Any], sandbox_url: str, path: str
) -> None:
    """A file link anywhere else under Octopia's API is refused before any request: the
    shop's token never goes with it."""
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with httpx.AsyncClient(timeout=30, event_hooks={"request": [record]}) as http:
        client = octopia(sandbox_url, http, shop)
        inbox = DiscussionInbox(client, page_size=100)
        url = client.base_url.rstrip("/") + "/" + path
        link = InboxFile(name="x.pdf", url=url, content_type="application/pdf")
        with pytest.raises(LinkRefused):
            await inbox.file(link, 1_000)
    assert not [r for r in sent if "authorization" in r.headers]
