"""Cdiscount double: discussions (search, paging by Link, the 6-month window, one
discussion), replies and their attachment limits, mark read, closed discussions, claims and
Octopia's customer care, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cdiscount_helpers import ADMIN, b64, seller
from keybuzz_sandbox import SandboxConfig

pytestmark = pytest.mark.asyncio

REPLY = "Bonjour, votre colis part demain matin. Cordialement."


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def http(serve):
    return await serve(SandboxConfig(time_scale=60))


async def test_paging_follows_the_link_header_through_every_page(http) -> None:
    octopia = await seller(http)
    items, pages = await octopia.all_pages("/discussions", pageSize=5)
    ids = [d["discussionId"] for d in items]
    assert pages > 2 and len(ids) == len(set(ids))
    assert ids == [
        d["discussionId"] for d in (await octopia.ok("/discussions", pageSize=100))["items"]
    ]
    last = await octopia.get("/discussions", pageSize=5, pageIndex=pages)
    assert "next" not in last.links
    assert (await octopia.get("/discussions", pageSize=101)).status_code == 400


async def test_a_search_wider_than_six_months_is_refused(http) -> None:
    octopia = await seller(http)
    now = datetime.now(UTC)
    too_old = await octopia.get("/discussions", updatedAtMin=_iso(now - timedelta(days=200)))
    assert too_old.status_code == 400 and "6 months" in too_old.json()["detail"]
    wide = {
        "updatedAtMin": _iso(now - timedelta(days=400)),
        "updatedAtMax": _iso(now - timedelta(days=200)),
    }
    assert (await octopia.get("/discussions", **wide)).status_code == 400
    within = await octopia.get("/discussions", updatedAtMin=_iso(now - timedelta(days=180)))
    assert within.status_code == 200
    assert (await octopia.get("/discussions", updatedAtMin="yesterday")).status_code == 400


async def test_updated_at_bounds_and_one_discussion_by_id(http) -> None:
    octopia = await seller(http)
    everything = (await octopia.ok("/discussions", pageSize=100))["items"]
    middle = everything[len(everything) // 2]
    later = (await octopia.ok("/discussions", pageSize=100, updatedAtMin=middle["updatedAt"]))[
        "items"
    ]
    assert later == [d for d in everything if d["updatedAt"] >= middle["updatedAt"]]
    first = await octopia.ok("/discussions", pageSize=100, includeMessages="FirstMessage")
    [shown] = [d for d in first["items"] if d["discussionId"] == middle["discussionId"]]
    whole = await octopia.ok(f"/discussions/{middle['discussionId']}")
    assert shown["messages"] == whole["messages"][:1]
    assert "messages" not in middle


async def test_claims_and_customer_care_in_the_seed(http) -> None:
    octopia = await seller(http)
    everything = (await octopia.ok("/discussions", pageSize=100))["items"]
    claims = [d for d in everything if d["graduation"] in ("Claim", "Level_1")]
    assert claims and len(claims) < len(everything)
    with_grc = [d for d in everything if d["graduation"] == "Level_1"]
    detail = await octopia.ok(f"/discussions/{with_grc[0]['discussionId']}")
    senders = {m["sender"]["userType"] for m in detail["messages"]}
    assert "GrcOperator" in senders and "Customer" in senders
    assert {r["userType"] for r in detail["eligibleReceivers"]} == {"Customer", "GrcOperator"}
    plain = next(d for d in everything if d["graduation"] == "Discussion" and d["isOpen"])
    detail = await octopia.ok(f"/discussions/{plain['discussionId']}")
    assert [r["userType"] for r in detail["eligibleReceivers"]] == ["Customer"]
    typologies = {t["typologyCode"]: t for t in await octopia.ok("/typologies")}
    codes = {s["subTypologyCode"] for s in typologies["Order"]["subTypologies"]}
    assert {"orderNotShipped", "productIsDamaged", "wrongProductReceived", "printReceipt"} <= codes


async def _open_question(octopia) -> str:
    answer = await octopia.http.post(
        f"{ADMIN}/shops/{octopia.shop['sellerId']}/discussions", json={}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["discussionId"]


async def _sent(octopia) -> list[dict]:
    return (await octopia.http.get(f"{ADMIN}/shops/{octopia.shop['sellerId']}/sent")).json()["sent"]


async def test_a_reply_with_attachments_reaches_the_buyer(http) -> None:
    octopia = await seller(http)
    discussion_id = await _open_question(octopia)
    detail = await octopia.ok(f"/discussions/{discussion_id}")
    assert detail["status"] == "ToTreat"
    customer = detail["eligibleReceivers"][0]
    files = [{"content": b64(b"%PDF-1.4 facture"), "name": "facture.pdf", "fileFormat": "pdf"}]
    sent = await octopia.reply(
        body=REPLY,
        discussionId=discussion_id,
        salesChannel=detail["salesChannel"],
        receivers=[customer],
        attachments=files,
    )
    assert sent.status_code == 201, sent.text
    after = await octopia.ok(f"/discussions/{discussion_id}")
    mine = after["messages"][-1]
    assert mine["messageId"] == sent.json()["messageId"] and mine["body"] == REPLY
    assert mine["sender"]["userType"] == "Seller" and mine["receivers"] == [customer]
    assert mine["attachments"][0]["name"] == "facture.pdf" and after["status"] == "Treated"
    [record] = await _sent(octopia)
    assert record["discussionId"] == discussion_id and record["attachments"][0]["size"] == 16
    # a single `receiver`, as another integration sends it
    single = await octopia.reply(
        body=REPLY, discussionId=discussion_id, receiver={"userType": "Customer"}
    )
    assert single.status_code == 201, single.text


FOUR_MIB = 4 * 1024 * 1024


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            {
                "attachments": [
                    {"content": b64(b"x"), "name": f"{n}.pdf", "fileFormat": "pdf"}
                    for n in range(4)
                ]
            },
            "at most 3",
        ),
        (
            {
                "attachments": [
                    {
                        "content": b64(b"x" * (FOUR_MIB // 2 + 1)),
                        "name": f"{n}.jpg",
                        "fileFormat": "jpg",
                    }
                    for n in range(2)
                ]
            },
            "4 MB",
        ),
        (
            {"attachments": [{"content": b64(b"MZ"), "name": "a.exe", "fileFormat": "exe"}]},
            "fileFormat",
        ),
        (
            {"attachments": [{"content": "not base64!", "name": "a.pdf", "fileFormat": "pdf"}]},
            "base64",
        ),
        ({"attachments": [{"content": b64(b"x"), "name": "a.pdf"}]}, "fileFormat"),
        ({"body": "Trop court."}, "13 to 5000"),
        ({"body": "x" * 5001}, "13 to 5000"),
        ({"receivers": [{"userType": "GrcOperator"}]}, "eligible"),
        ({"receiver": {"userType": "Customer"}}, "not both"),
        ({"receivers": []}, "at least one"),
        ({"salesChannel": "CDISXX"}, "salesChannel"),
        ({"unknownField": 1}, "unknown"),
    ],
)
async def test_a_reply_off_the_rules_is_refused_with_the_rule(
    http, change: dict, words: str
) -> None:
    octopia = await seller(http)
    discussion_id = await _open_question(octopia)
    body = {
        "body": REPLY,
        "discussionId": discussion_id,
        "receivers": [{"userType": "Customer"}],
        **change,
    }
    refused = await octopia.reply(**body)
    assert refused.status_code == 400
    assert words in refused.json()["detail"]
    assert await _sent(octopia) == []


async def test_attachments_of_4_mib_in_all_are_accepted(http) -> None:
    octopia = await seller(http)
    discussion_id = await _open_question(octopia)
    files = [
        {"content": b64(b"x" * (FOUR_MIB // 2)), "name": f"{n}.PNG", "fileFormat": "PNG"}
        for n in range(2)
    ]
    sent = await octopia.reply(
        body=REPLY,
        discussionId=discussion_id,
        receivers=[{"userType": "Customer"}],
        attachments=files,
    )
    assert sent.status_code == 201, sent.text


async def test_mark_read_and_unread(http) -> None:
    octopia = await seller(http)
    discussion_id = await _open_question(octopia)
    message = (await octopia.ok(f"/discussions/{discussion_id}"))["messages"][0]
    assert message["hasRead"] is False
    assert (
        await octopia.patch(f"/messages/{message['messageId']}", "hasRead", True)
    ).status_code == 204
    assert (await octopia.ok(f"/discussions/{discussion_id}"))["messages"][0]["hasRead"] is True
    assert (
        await octopia.patch(f"/messages/{message['messageId']}", "hasRead", False)
    ).status_code == 204
    assert (await octopia.ok(f"/discussions/{discussion_id}"))["messages"][0]["hasRead"] is False
    assert (
        await octopia.patch(f"/messages/{message['messageId']}", "body", "x")
    ).status_code == 400
    assert (
        await octopia.patch(f"/messages/{message['messageId']}", "hasRead", "yes")
    ).status_code == 400
    assert (await octopia.patch("/messages/1", "hasRead", True)).status_code == 404


async def test_a_closed_discussion_refuses_replies_until_the_buyer_writes(http) -> None:
    octopia = await seller(http)
    everything = (await octopia.ok("/discussions", pageSize=100))["items"]
    closed = next(d for d in everything if not d["isOpen"])  # the seed closes some
    assert closed["status"] == "Treated"
    discussion_id = closed["discussionId"]
    refused = await octopia.reply(
        body=REPLY, discussionId=discussion_id, receivers=[{"userType": "Customer"}]
    )
    assert refused.status_code == 400 and "closed" in refused.json()["detail"]
    write = f"{ADMIN}/shops/{octopia.shop['sellerId']}/discussions/{discussion_id}/messages"
    assert (await http.post(write, json={})).status_code == 201
    reopened = await octopia.ok(f"/discussions/{discussion_id}")
    assert reopened["isOpen"] is True and reopened["status"] == "ToTreat"


async def test_a_discussion_becomes_a_claim_and_customer_care_writes(http) -> None:
    octopia = await seller(http)
    seller_id = octopia.shop["sellerId"]
    discussion_id = await _open_question(octopia)
    claimed = await http.post(
        f"{ADMIN}/shops/{seller_id}/discussions/{discussion_id}/graduation",
        json={"graduation": "Claim"},
    )
    assert claimed.status_code == 200
    listed = (await octopia.ok("/discussions", pageSize=100))["items"]
    assert [d["graduation"] for d in listed if d["discussionId"] == discussion_id] == ["Claim"]
    detail = await octopia.ok(f"/discussions/{discussion_id}")
    assert "GrcOperator" in {r["userType"] for r in detail["eligibleReceivers"]}
    wrote = await http.post(
        f"{ADMIN}/shops/{seller_id}/discussions/{discussion_id}/messages",
        json={"userType": "GrcOperator", "body": "Merci de répondre au client sous 48 heures."},
    )
    assert wrote.status_code == 201
    last = (await octopia.ok(f"/discussions/{discussion_id}"))["messages"][-1]
    assert last["sender"]["userType"] == "GrcOperator" and last["hasRead"] is False
    to_both = [
        {"userType": "Customer"},
        {"userType": "GrcOperator", "userId": last["sender"]["userId"]},
    ]
    sent = await octopia.reply(body=REPLY, discussionId=discussion_id, receivers=to_both)
    assert sent.status_code == 201, sent.text
    assert [r["userType"] for r in (await _sent(octopia))[0]["receivers"]] == [
        "Customer",
        "GrcOperator",
    ]


async def test_time_brings_new_orders_and_discussions(http) -> None:
    octopia = await seller(http)
    before = {d["discussionId"] for d in (await octopia.ok("/discussions", pageSize=100))["items"]}
    advanced = await http.post(
        f"{ADMIN}/shops/{octopia.shop['sellerId']}/advance", json={"seconds": 20 * 86400}
    )
    summary = advanced.json()
    assert summary["newOrderIds"] and summary["newDiscussionIds"]
    after = {d["discussionId"] for d in (await octopia.ok("/discussions", pageSize=100))["items"]}
    assert set(summary["newDiscussionIds"]) == after - before
    newest = await octopia.ok(f"/orders/{summary['newOrderIds'][-1]}")
    assert newest["orderId"] == summary["newOrderIds"][-1]


async def test_attachments_are_downloaded_with_the_token(http) -> None:
    octopia = await seller(http)
    discussion_id = await _open_question(octopia)
    files = [{"content": b64(b"%PDF-1.4 devis"), "name": "devis.pdf", "fileFormat": "pdf"}]
    sent = await octopia.reply(
        body=REPLY,
        discussionId=discussion_id,
        receivers=[{"userType": "Customer"}],
        attachments=files,
    )
    assert sent.status_code == 201
    mine = (await octopia.ok(f"/discussions/{discussion_id}"))["messages"][-1]["attachments"][0]
    download = await octopia.get(f"/attachments/{mine['attachmentId']}")
    assert download.status_code == 200 and download.content == b"%PDF-1.4 devis"
    assert download.headers["content-type"] == "application/pdf"
    everything = (await octopia.ok("/discussions", pageSize=100, includeMessages="FirstMessage"))[
        "items"
    ]
    photo = next(m["attachments"][0] for d in everything for m in d["messages"] if m["attachments"])
    buyer_photo = await octopia.get(f"/attachments/{photo['attachmentId']}")
    assert buyer_photo.status_code == 200 and buyer_photo.headers["content-type"] == "image/jpeg"
    assert len(buyer_photo.content) >= 20_000
    octopia.token = "expired"
    assert (await octopia.get(f"/attachments/{mine['attachmentId']}")).status_code == 401
    await octopia.authenticate()
    assert (await octopia.get("/attachments/123")).status_code == 404


async def test_a_buyer_opens_a_claim_on_demand(http) -> None:
    octopia = await seller(http)
    opened = await http.post(
        f"{ADMIN}/shops/{octopia.shop['sellerId']}/discussions",
        json={"subTypologyCode": "productIsDamaged", "graduation": "Claim"},
    )
    assert opened.status_code == 201
    detail = await octopia.ok(f"/discussions/{opened.json()['discussionId']}")
    assert detail["graduation"] == "Claim" and detail["subTypologyCode"] == "productIsDamaged"
    assert detail["orderReference"] == opened.json()["orderId"]
    assert "GrcOperator" in {r["userType"] for r in detail["eligibleReceivers"]}
    bad = await http.post(
        f"{ADMIN}/shops/{octopia.shop['sellerId']}/discussions", json={"graduation": "Urgent"}
    )
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/messages", b"not json"),
        ("POST", "/messages", b'["a list"]'),
        ("PATCH", "/messages/{message}", b'{"op": "replace", "path": "/hasRead", "value": true}'),
        ("PATCH", "/messages/{message}", b"\xff\xfe"),
        ("PATCH", "/messages/{message}", b"[]"),
    ],
)
async def test_bodies_that_are_not_what_octopia_takes_get_a_400(
    http, method, path, content
) -> None:
    octopia = await seller(http)
    discussion_id = await _open_question(octopia)
    message_id = (await octopia.ok(f"/discussions/{discussion_id}"))["messages"][0]["messageId"]
    url = "/octopia/seller/v2" + path.format(message=message_id)
    answer = await http.request(
        method,
        url,
        content=content,
        headers={**octopia.headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and answer.json()["detail"]
