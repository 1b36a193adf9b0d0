"""Fnac double: messages_query (paging, filters, sort) and messages_update, over HTTP."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

import pytest
from fnac_helpers import Fnac, element, errors_of, find, shops, text

pytestmark = pytest.mark.asyncio

DEMO_DARTY = "KeyBuzz Démo Darty"


async def _shop(http, name: str = DEMO_DARTY) -> Fnac:
    fnac = Fnac(http, (await shops(http))[name])
    await fnac.authenticate()
    return fnac


def _messages(root) -> list[dict[str, str]]:
    return [
        {
            "id": text(m, "message_id"),
            "state": m.get("state"),
            "archived": m.get("archived"),
            "referer": text(m, "message_referer"),
            "type": find(m, "message_referer")[0].get("type"),
            "from": find(m, "message_from")[0].get("type"),
            "subject": text(m, "message_subject"),
            "description": text(m, "message_description"),
            "created": text(m, "created_at"),
        }
        for m in find(root, "message")
    ]


async def _all(fnac: Fnac, *filters, per_page: int = 100) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    page = 1
    while True:
        root = await fnac.call(
            "messages_query", element("paging", str(page)), *filters, results_count=str(per_page)
        )
        found += _messages(root)
        if page >= int(text(root, "total_paging")):
            return found
        page += 1


async def test_pages_hold_every_message_once_newest_first(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    first = await fnac.call("messages_query", element("paging", "1"), results_count="20")
    total = int(text(first, "nb_total_result"))
    assert total > 100  # the Darty demo shop's history
    assert text(first, "nb_total_per_page") == "20"
    assert int(text(first, "total_paging")) == -(-total // 20)
    everything = await _all(fnac, per_page=20)
    assert len(everything) == total == len({m["id"] for m in everything})
    created = [datetime.fromisoformat(m["created"]) for m in everything]
    assert created == sorted(created, reverse=True)
    ascending = await fnac.call(
        "messages_query", element("paging", "1"), element("sort_by", "CREATED_AT", type="ASC")
    )
    assert _messages(ascending)[0]["id"] == everything[-1]["id"]
    past_the_end = await fnac.call("messages_query", element("paging", "99"))
    assert _messages(past_the_end) == [] and text(past_the_end, "nb_total_result") == str(total)


async def test_filters_select_what_they_name(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    everything = await _all(fnac)
    offers = await _all(fnac, element("message_type", "OFFER"))
    assert offers and {m["type"] for m in offers} == {"OFFER"}
    callcenter = await _all(
        fnac, element("message_from_types", None, element("from_type", "CALLCENTER"))
    )
    assert callcenter and {m["from"] for m in callcenter} == {"CALLCENTER"}
    order_id = next(m["referer"] for m in everything if m["type"] == "ORDER")
    about_order = await _all(fnac, element("order_fnac_id", order_id))
    assert about_order == [m for m in everything if m["referer"] == order_id]
    # Two values of one filter: either; two filters: both.
    two = [m["id"] for m in everything[:2]]
    either = await _all(fnac, element("message_id", two[0]), element("message_id", two[1]))
    assert sorted(m["id"] for m in either) == sorted(two)
    both = await _all(fnac, element("message_type", "OFFER"), element("order_fnac_id", order_id))
    assert both == []  # an offer's question is about no order


async def test_date_filter(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    everything = await _all(fnac)
    low, high = everything[30]["created"], everything[10]["created"]
    window = element("date", None, element("min", low), element("max", high), type="CreatedAt")
    inside = await _all(fnac, window)

    def epoch(stamp: str) -> float:
        return datetime.fromisoformat(stamp).timestamp()

    expected = {m["id"] for m in everything if epoch(low) <= epoch(m["created"]) <= epoch(high)}
    assert {m["id"] for m in inside} == expected and len(inside) == len(expected) >= 21


async def test_every_incident_is_also_a_new_claim_message(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    incidents = await fnac.call("incidents_query", element("paging", "1"))
    claims = {m["referer"]: m for m in await _all(fnac) if m["subject"] == "Nouvelle réclamation"}
    listed = find(incidents, "incident")
    assert listed
    for incident in listed:
        order_id = text(incident, "header/order_id")
        assert order_id in claims  # same order
        assert claims[order_id]["created"] == text(incident, "header/created_at")  # same time
        assert claims[order_id]["description"] == text(incident, "header/message")


async def test_a_reply_reaches_the_buyer_and_marks_the_message(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    question = next(m for m in await _all(fnac) if m["state"] == "UNREAD" and m["from"] == "CLIENT")
    reply = element(
        "message",
        None,
        element("message_to", "CLIENT"),
        element("message_subject", "order_information"),
        element("message_description", "Bonjour, votre colis part aujourd'hui."),
        element("message_type", question["type"]),
        action="reply",
        id=question["id"],
    )
    answer = await fnac.call("messages_update", reply)
    assert answer.get("status") == "OK"
    replied = await fnac.call("messages_query", element("message_id", question["id"]))
    assert _messages(replied)[0]["state"] == "READ"
    assert text(find(replied, "message")[0], "answer") == "Bonjour, votre colis part aujourd'hui."
    thread = await _all(fnac, element("message_from_types", None, element("from_type", "SELLER")))
    assert any(m["description"] == "Bonjour, votre colis part aujourd'hui." for m in thread)
    sent = (await fnac_http.get(f"/_sandbox/fnac/shops/{fnac.shop['shop_id']}/sent")).json()
    assert [(s["inReplyTo"], s["messageTo"], s["action"]) for s in sent["sent"]] == [
        (question["id"], "CLIENT", "reply")
    ]


async def test_refused_updates_say_why_per_message(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Librairie Fnac")
    everything = await _all(fnac)
    incidents = find(await fnac.call("incidents_query", element("paging", "1")), "incident")
    claimed = {text(i, "header/order_id") for i in incidents}
    opened = {text(i, "header/order_id") for i in incidents if text(i, "header/status") == "OPENED"}
    calm = next(m for m in everything if m["type"] == "ORDER" and m["referer"] not in claimed)
    unknown = "11111111-2222-3333-4444-555555555555"

    def reply(message_id: str, to: str, description: str) -> object:
        return element(
            "message",
            None,
            element("message_to", to),
            element("message_description", description),
            action="reply",
            id=message_id,
        )

    answer = await fnac.call(
        "messages_update",
        element("message", None, action="mark_as_read", id=unknown),
        reply(calm["id"], "CALLCENTER", "Bonjour"),
        reply(calm["id"], "CLIENT", ""),
        reply(calm["id"], "CLIENT", "x" * 2001),
        element("message", None, action="archive", id=calm["id"]),
        element("message", None, action="mark_as_read", id=calm["id"]),
    )
    assert answer.get("status") == "ERROR"
    results = [(m.get("status"), errors_of(m)) for m in find(answer, "message")]
    assert results == [
        ("ERROR", ["ERR_201"]),
        ("ERROR", ["ERR_202"]),  # CALLCENTER only while the order has an incident
        ("ERROR", ["ERR_203"]),
        ("ERROR", ["ERR_203"]),
        ("ERROR", ["ERR_205"]),  # an action the double does not serve
        ("OK", []),
    ]
    claim = next(m for m in everything if m["type"] == "ORDER" and m["referer"] in opened)
    to_fnac = await fnac.call("messages_update", reply(claim["id"], "CALLCENTER", "Bonjour"))
    assert to_fnac.get("status") == "OK"


async def test_more_than_100_results_per_page_is_refused(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    refused = await fnac.call("messages_query", element("paging", "1"), results_count="101")
    assert refused.get("status") == "FATAL" and errors_of(refused) == ["ERR_105"]


def _files(root) -> dict[str, list[dict[str, str]]]:
    """message id → its message_file links."""
    return {
        text(m, "message_id"): [
            {"name": text(f, "name"), "url": text(f, "url"), "filetype": text(f, "filetype")}
            for f in find(m, "message_file")
        ]
        for m in find(root, "message")
    }


async def _download(http, url: str):
    return await http.get(urlsplit(url).path)


async def test_some_buyers_seeded_messages_link_a_photo_served_by_the_double(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    linked = [
        (message_id, f)
        for page in range(1, 4)
        for message_id, files in _files(
            await fnac.call("messages_query", element("paging", str(page)))
        ).items()
        for f in files
    ]
    assert linked  # about one buyer message in seven
    _, photo = linked[0]
    assert photo["name"].endswith(".jpg") and photo["filetype"] == "image/jpeg"
    served = await _download(fnac_http, photo["url"])
    again = await _download(fnac_http, photo["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert 20_000 <= len(served.content) <= 400_000 and again.content == served.content
    unknown = photo["url"].rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    assert (await _download(fnac_http, unknown)).status_code == 404


async def test_a_written_message_links_the_files_the_test_chose_and_faults_apply(
    fnac_http,
) -> None:
    fnac = await _shop(fnac_http)
    files = [
        {"name": "facture.pdf", "contentType": "application/pdf", "size": 12_345},
        {"name": "vide.txt", "contentType": "text/plain", "size": 0},
    ]
    path = f"/_sandbox/fnac/shops/{fnac.shop['shop_id']}/messages"
    written = (await fnac_http.post(path, json={"attachments": files})).json()
    assert len(written["fileUrls"]) == 2
    root = await fnac.call(
        "messages_query", element("paging", "1"), element("message_id", written["messageId"])
    )
    [listed] = _files(root).values()
    assert [(f["name"], f["filetype"]) for f in listed] == [
        ("facture.pdf", "application/pdf"),
        ("vide.txt", "text/plain"),
    ]
    assert [f["url"] for f in listed] == written["fileUrls"]
    pdf = await _download(fnac_http, listed[0]["url"])
    assert len(pdf.content) == 12_345 and pdf.headers["content-type"] == "application/pdf"
    faults = {"failNext": 1, "failStatus": 503, "operations": ["files"]}
    assert (await fnac_http.put("/_sandbox/fnac/faults", json=faults)).status_code == 200
    assert (await _download(fnac_http, listed[0]["url"])).status_code == 503
    assert (await _download(fnac_http, listed[0]["url"])).status_code == 200
    await fnac_http.delete("/_sandbox/fnac/faults")
    for bad in (
        {"attachments": [{"name": "", "contentType": "image/png"}]},
        {"attachments": [{"name": "a.png", "contentType": "png"}]},
        {"attachments": [{"name": "a.png", "size": -1}]},
        {"attachments": [{"name": "a.png"}] * 6},
        {"fromType": "BUYER"},
        {"description": ""},
    ):
        assert (await fnac_http.post(path, json=bad)).status_code == 400, bad
    incidents = f"/_sandbox/fnac/shops/{fnac.shop['shop_id']}/incidents"
    unknown_type = {"orderId": written["orderId"], "typeCode": "9"}
    assert (await fnac_http.post(incidents, json=unknown_type)).status_code == 400


async def test_an_untouched_write_starts_a_thread_of_its_own(fnac_http) -> None:
    """Without an order named, a write goes on the shop's latest order; asked ``untouched``,
    on the latest one nobody has written about yet, so each such write is a thread apart."""
    fnac = await _shop(fnac_http)
    path = f"/_sandbox/fnac/shops/{fnac.shop['shop_id']}/messages"

    async def order_written(**asked: object) -> str:
        answer = await fnac_http.post(path, json={"description": "Bonjour", **asked})
        assert answer.status_code == 201, answer.text
        order: str = answer.json()["orderId"]
        return order

    latest = await order_written()
    assert await order_written() == latest
    apart = [await order_written(untouched=True) for _ in range(3)]
    assert latest not in apart
    assert len(set(apart)) == 3
