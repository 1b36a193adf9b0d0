"""A Back Market shop's care folders, replies and orders against the double over HTTP
(every request checked against Back Market's description, conftest.Checked): one thread a
folder with its order, each message once, Back Market's staff and informative messages
told apart, claims, country and language on the thread, details read only for folders
whose last message moved, replies within Back Market's file limits, read back, orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from backmarket_connector_helpers import Checked, client_for
from keybuzz_connector_backmarket.care import (
    BACK_MARKET_STAFF,
    MAX_FILE_BYTES,
    CareInbox,
    folder_replies,
)
from keybuzz_connector_backmarket.connector import CONNECTOR, session_of
from keybuzz_connector_backmarket.orders import shop_orders
from keybuzz_connector_backmarket.settings import BACKMARKET, BUYER_HOURS, BackMarketSettings
from keybuzz_shared.connectors.kit import Requester
from keybuzz_shared.connectors.seam import (
    CredentialsRefused,
    InboxMessage,
    Reply,
    ReplyFile,
    ThreadKey,
)

MADRID, MILANO = 3, 4


async def shop_numbered(admin: httpx.AsyncClient, number: int) -> dict[str, Any]:
    return next(s for s in (await admin.get("/shops")).json() if s["number"] == number)


@pytest.fixture
async def shop(admin: httpx.AsyncClient) -> dict[str, Any]:
    return await shop_numbered(admin, MADRID)


@pytest.fixture
def client(sandbox_url: str, http: httpx.AsyncClient, shop: dict[str, Any]) -> Requester:
    return client_for(sandbox_url, http, shop)


@pytest.fixture
def inbox(client: Requester) -> CareInbox:
    return CareInbox(client)


async def opened(admin: httpx.AsyncClient, number: int, **body: Any) -> dict[str, Any]:
    answer = await admin.post(f"/shops/{number}/folders", json={"message": "Bonjour"} | body)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def writes(admin: httpx.AsyncClient, number: int, folder: int, **body: Any) -> str:
    path = f"/shops/{number}/folders/{folder}/messages"
    answer = await admin.post(path, json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["messageId"])


async def listed(inbox: CareInbox, since: datetime) -> list[InboxMessage]:
    found: list[InboxMessage] = []
    cursor = None
    while True:
        page = await inbox.inbox_messages(since=since, cursor=cursor)
        assert page.unreadable == ()
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


async def last_message_date(client: Requester, folder: int) -> datetime:
    raw = await client.get_json(f"/ws/sav/{folder}")
    return max(datetime.fromisoformat(m["date_creation"]) for m in raw["messages"])


async def test_each_folder_is_one_thread_each_message_once_as_back_market_shows_it(
    admin: httpx.AsyncClient, inbox: CareInbox, client: Requester
) -> None:
    folder = await opened(admin, MADRID, claim=True)
    staff = await writes(admin, MADRID, folder["folderId"], initiator="BackMarket", message="Hallo")
    notice = await writes(
        admin, MADRID, folder["folderId"], initiator="BackMarket", informative=True
    )
    messages = await listed(inbox, datetime(2000, 1, 1, tzinfo=UTC))
    ids = [m.message_id for m in messages]
    assert len(ids) == len(set(ids)), "a message listed twice"
    raw = await client.get_json(f"/ws/sav/{folder['folderId']}")
    mine = [m for m in messages if m.thread.id == str(folder["folderId"])]
    assert [m.message_id for m in mine] == [str(m["id"]) for m in raw["messages"]]
    assert {m.thread for m in mine} == {
        ThreadKey("DISCUSSION", str(folder["folderId"]), str(folder["orderId"]))
    }
    by_id = {m.message_id: m for m in mine}
    assert by_id[str(folder["messageId"])].sender_type == "BUYER"
    assert (by_id[staff].sender_type, by_id[staff].sender_name) == (
        "MARKETPLACE_SUPPORT",
        BACK_MARKET_STAFF,
    )
    assert by_id[notice].sender_type == "SYSTEM"  # informative: opens no deadline
    [claim] = raw["lines"]
    shown = {d.name: d.value for d in mine[-1].thread_details}
    assert mine[-1].claim is (claim["state"] == 0)
    assert (shown["country"], shown["language"]) == ("Espagne", "espagnol")
    issue = claim["issues"][0]
    assert f"{issue['customerIssue']} ({issue['tag']})" in shown["claim_issues"]
    assert shown["resolution_choice"] and shown["warranty_state"]
    assert shown["order"] == str(folder["orderId"])
    assert shown["order_line"].startswith(str(raw["orderline"]["id"]))


async def test_a_folders_details_are_read_again_only_once_its_last_message_moved(
    admin: httpx.AsyncClient, inbox: CareInbox, client: Requester, checked: Checked
) -> None:
    folder = await opened(admin, MADRID)
    path = f"/ws/sav/{folder['folderId']}"
    since = await last_message_date(client, folder["folderId"])
    before = checked.calls("GET", path)
    first = await listed(inbox, since)
    assert str(folder["messageId"]) in {m.message_id for m in first}
    # The same ``since`` again: the poll that read it may not have stored it: read at the
    # next listing, then at listings further and further apart.
    again = await listed(inbox, since)
    assert str(folder["messageId"]) in {m.message_id for m in again}
    assert checked.calls("GET", path) == before + 2
    for _ in range(5):
        await listed(inbox, since)
    assert checked.calls("GET", path) == before + 4  # at the 4th and the 7th listing
    # A later start: the poller's cursor moved on; nothing new in the folder, no call.
    await listed(inbox, since + timedelta(seconds=1))
    await listed(inbox, since + timedelta(seconds=1))
    assert checked.calls("GET", path) == before + 4
    advanced = await admin.post("/clock/advance", json={"seconds": 2})  # a later second
    assert advanced.status_code in (200, 201), advanced.text
    later = await writes(admin, MADRID, folder["folderId"], message="Et alors ?")
    moved = await listed(inbox, since + timedelta(seconds=1))
    assert later in {m.message_id for m in moved}
    assert checked.calls("GET", path) == before + 5


async def test_a_listing_cursor_it_did_not_give_is_refused(inbox: CareInbox) -> None:
    with pytest.raises(ValueError):
        await inbox.inbox_messages(since=datetime.now(UTC), cursor="../elsewhere")


# --- replies ----------------------------------------------------------------------------


def file(name: str, size: int) -> ReplyFile:
    return ReplyFile(name=name, content_type="application/pdf", data=b"%" * size)


async def test_a_reply_is_sent_once_reopens_a_closed_folder_and_is_read_back(
    admin: httpx.AsyncClient, inbox: CareInbox, client: Requester
) -> None:
    folder = await opened(admin, MADRID)
    closing = await admin.post(f"/shops/{MADRID}/folders/{folder['folderId']}/close")
    assert closing.status_code in (200, 201), closing.text
    thread = ThreadKey("DISCUSSION", str(folder["folderId"]), str(folder["orderId"]))
    text = f"Nous vous envoyons une étiquette de retour ({folder['folderId']})."
    asked = datetime.now(UTC)
    reply = Reply(
        thread=thread,
        in_reply_to=str(folder["messageId"]),
        body=text,
        attachments=(file("etiquette.pdf", 1_000),),
    )
    outcome = await folder_replies(client).reply(reply)
    assert outcome.status == "SENT", outcome.reason
    sent = (await admin.get(f"/shops/{MADRID}/sent")).json()["sent"]
    assert [s["message"] for s in sent].count(text) == 1
    raw = await client.get_json(f"/ws/sav/{folder['folderId']}")
    assert raw["state"] == 0, "a closed folder reopens on the seller's message"
    found = await folder_replies(client).sent_messages(thread, asked)
    assert [m.body for m in found] == [text] and found[0].sender_type == "SELLER"


@pytest.mark.parametrize(
    "files",
    [tuple(file(f"f{n}.pdf", 10) for n in range(11)), (file("big.pdf", MAX_FILE_BYTES + 1),)],
    ids=["11 files", "a file over 3 MB"],
)
async def test_files_back_market_would_refuse_fail_the_reply_before_any_call(
    admin: httpx.AsyncClient,
    inbox: CareInbox,
    client: Requester,
    checked: Checked,
    files: tuple[ReplyFile, ...],
) -> None:
    folder = await opened(admin, MADRID)
    reply = Reply(
        thread=ThreadKey("DISCUSSION", str(folder["folderId"])),
        in_reply_to=str(folder["messageId"]),
        body="Voici les documents.",
        attachments=files,
    )
    outcome = await folder_replies(client).reply(reply)
    assert outcome.status == "FAILED" and "Back Market takes" in (outcome.reason or "")
    assert checked.calls("POST", "/msg") == 0


# --- orders and the credential check ----------------------------------------------------


async def test_the_order_a_folder_names_is_read_with_its_states_mapped(
    admin: httpx.AsyncClient, client: Requester
) -> None:
    folder = await opened(admin, MADRID)
    raw = await client.get_json(f"/ws/orders/{folder['orderId']}")
    [order] = await shop_orders(client).orders_by_id([str(folder["orderId"]), "999999999"])
    assert order.external_id == str(folder["orderId"])
    assert str(folder["orderlineId"]) in {line.line_id for line in order.lines}
    expected = {9: ("SENT", "SHIPPED"), 3: ("TO_SHIP", "CONFIRMED"), 1: ("VALIDATED", "PENDING")}
    assert (order.state, order.status) == expected[raw["state"]]


async def test_the_credential_check_names_the_seller_back_market_answers_for(
    sandbox_url: str, http: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    shop = await shop_numbered(admin, MILANO)
    settings = BackMarketSettings(api_url=f"{sandbox_url}/backmarket").shop_api("BACKMARKET")
    assert settings is not None
    fields = {"token": shop["token"], "merchant_id": str(shop["merchantId"]), "country": "it-it"}
    check = CONNECTOR.credential_check
    identity = await check.verify(fields, http=http, settings=settings)
    assert identity == f"backmarket-eu:{shop['merchantId']}"
    other = fields | {"merchant_id": str(shop["merchantId"] + 1)}
    with pytest.raises(CredentialsRefused) as refused:
        await check.verify(other, http=http, settings=settings)
    assert shop["token"] not in str(refused.value)


async def test_a_session_counts_the_folder_list_calls_it_spent_of_the_allowance(
    client: Requester, checked: Checked
) -> None:
    session = session_of(client)
    page = await session.inbox_messages(since=datetime(2000, 1, 1, tzinfo=UTC))
    assert page.next_cursor is not None  # more than one page: one call each
    await session.inbox_messages(since=datetime(2000, 1, 1, tzinfo=UTC), cursor=page.next_cursor)
    await session.incidents(since=datetime(2000, 1, 1, tzinfo=UTC))  # Back Market has none
    listed = sum(1 for r in checked.sent if r.method == "GET" and r.url.path.endswith("/ws/sav"))
    assert session.allowance_calls() == listed == 2


def test_the_shop_api_declares_back_markets_buyer_hours_for_the_days_plan() -> None:
    # The poller's default profile (French buyers) polls the night at a quarter rate where
    # Back Market's buyers still write: the allowance bench's p99 1.5x the best, not 1.1x.
    api = BackMarketSettings().shop_api(BACKMARKET)
    assert api is not None
    assert api.buyer_hours == BUYER_HOURS and len(BUYER_HOURS) == 24
    assert api.buyer_zone == "Europe/Paris"
    night, day = sum(BUYER_HOURS[1:6]), sum(BUYER_HOURS[9:22])
    assert 0 < night < day / 20  # few at night, never none


async def test_a_buyers_file_is_downloaded_without_the_shops_token(
    admin: httpx.AsyncClient, inbox: CareInbox, client: Requester, checked: Checked
) -> None:
    folder = await opened(admin, MADRID, attachments=[{"name": "photo.jpg", "size": 2_000}])
    since = await last_message_date(client, folder["folderId"])
    [message] = [m for m in await listed(inbox, since) if m.message_id == str(folder["messageId"])]
    [photo] = message.files
    assert (photo.name, photo.content_type) == ("photo.jpg", "image/jpeg")
    assert len(await inbox.file(photo, 10_000)) == 2_000
    [download] = [r for r in checked.sent if "/files/" in r.url.path]
    assert "authorization" not in download.headers
    [token] = client.auth.secrets()  # the shop's token
    assert token not in str(download.headers)


async def test_pages_come_in_order_of_their_folders_last_message_so_a_cut_loses_none(
    sandbox_url: str, http: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    berlin = await shop_numbered(admin, 2)  # 25 folders or more: three pages
    client = client_for(sandbox_url, http, berlin)
    oldest = (await client.get_json("/ws/sav", {"page": "1"}))["results"][0]["id"]
    await writes(admin, 2, oldest, message="Et maintenant ?")  # listed first, newest now
    inbox = CareInbox(client)
    pages: list[list[InboxMessage]] = []
    cursor = None
    while True:
        page = await inbox.inbox_messages(since=datetime(2000, 1, 1, tzinfo=UTC), cursor=cursor)
        pages.append(list(page.items))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(pages) >= 3
    for earlier, later in zip(pages, pages[1:], strict=False):
        # The poller's cursor after a page (its newest message) is before every later
        # folder's newest message: a later folder is listed again after a cut.
        newest = max(m.created_at for m in earlier)
        by_folder: dict[str, datetime] = {}
        for m in later:
            by_folder[m.thread.id] = max(by_folder.get(m.thread.id, m.created_at), m.created_at)
        assert newest <= min(by_folder.values())
