"""Fnac double: orders_query, incidents_query, and the clock, over HTTP."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

import pytest
from fnac_helpers import Fnac, element, errors_of, find, shops, text
from keybuzz_sandbox import SandboxConfig, create_app

pytestmark = pytest.mark.asyncio


async def _shop(http, name: str) -> Fnac:
    fnac = Fnac(http, (await shops(http))[name])
    await fnac.authenticate()
    return fnac


def _ids(root, path: str = "order/order_id") -> list[str]:
    return [e.text or "" for e in find(root, path)]


async def _incidents(fnac: Fnac, *filters) -> list:
    """Every incident of the shop, oldest first (the double serves no filter on them but
    the date)."""
    found, page = [], 1
    while True:
        asked = (element("paging", str(page)), element("sort_by", "ASC"), *filters)
        root = await fnac.call("incidents_query", *asked, results_count="100")
        found += find(root, "incident")
        if page >= int(text(root, "total_paging")):
            return found
        page += 1


def _of_order(incidents: list, order_id: str) -> list:
    return [i for i in incidents if text(i, "header/order_id") == order_id]


async def test_the_50000_order_shop_pages_and_costs_nothing_at_start_up(fnac_http) -> None:
    started = time.process_time()  # CPU: what a busy machine does not stretch
    create_app(SandboxConfig())
    assert time.process_time() - started < 5  # its orders are computed on demand
    fnac = await _shop(fnac_http, "KeyBuzz Bench Fnac")
    started = time.process_time()
    last = await fnac.call("orders_query", element("paging", "500"), results_count="100")
    assert time.process_time() - started < 1  # its 100 orders drawn, not the shop's history
    total = int(text(last, "nb_total_result"))  # the double's clock runs on: new orders join
    assert 50_000 <= total < 50_100 and int(text(last, "total_paging")) == -(-total // 100)
    assert len(find(last, "order")) == 100
    first = await fnac.call("orders_query", element("paging", "1"), results_count="1")
    newest = datetime.fromisoformat(text(first, "order/created_at"))
    oldest = datetime.fromisoformat(text(last, "order/created_at"))
    assert newest > oldest
    by_id = await fnac.call("orders_query", element("order_fnac_id", _ids(last)[-1]))
    assert _ids(by_id) == [_ids(last)[-1]]


async def test_an_order_counts_its_messages_whether_or_not_they_were_listed(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Démo Fnac")

    async def counts() -> dict[str, int]:
        root = await fnac.call("orders_query", results_count="100")
        return {text(o, "order_id"): int(text(o, "nb_messages")) for o in find(root, "order")}

    with fnac_http.sandbox.clock.held():  # no message written between the listings
        drawn = await counts()  # before any messages listing made the shop's history concrete
        listed = await fnac.call("messages_query", results_count="100")
        again = await counts()
    referers = [e for e in find(listed, "message/message_referer") if e.get("type") == "ORDER"]
    by_order = Counter(e.text for e in referers)
    assert sum(drawn.values()) > 0 and len(find(listed, "message")) < 100
    assert drawn == again == {order: by_order[order] for order in drawn}


async def test_orders_by_date_and_ids(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Librairie Fnac")
    page = await fnac.call("orders_query", element("paging", "3"), results_count="50")
    orders = find(page, "order")
    dates = [text(o, "created_at") for o in orders]
    low, high = dates[-1], dates[0]
    window = element("date", None, element("min", low), element("max", high), type="CreatedAt")
    in_window = await fnac.call("orders_query", window, results_count="100")
    assert _ids(in_window) == _ids(page)
    wanted = _ids(page)[:3]
    listed = await fnac.call(
        "orders_query",
        element("orders_fnac_id", None, *(element("order_fnac_id", i) for i in wanted)),
    )
    assert sorted(_ids(listed)) == sorted(wanted)
    unknown = await fnac.call("orders_query", element("order_fnac_id", "0000000000000"))
    assert text(unknown, "nb_total_result") == "0"


async def test_a_creation_window_pages_as_the_listing_does(fnac_http) -> None:
    # The date filter alone is paged by bisection: it must keep what the listing shows.
    fnac = await _shop(fnac_http, "KeyBuzz Librairie Fnac")
    asc = element("sort_by", "ASC")
    listed = await fnac.call("orders_query", element("paging", "7"), asc, results_count="100")
    ids, dates = _ids(listed), [text(o, "created_at") for o in find(listed, "order")]
    total = int(text(listed, "nb_total_result"))

    def window(low: str | None, high: str | None) -> object:
        bounds = [element(n, v) for n, v in (("min", low), ("max", high)) if v is not None]
        return element("date", None, *bounds, type="CreatedAt")

    inside = window(dates[10], dates[60])
    for sort, expected in (("ASC", ids[10:61]), ("DESC", ids[10:61][::-1])):
        for page in ("1", "2", "3", "9"):
            paging, sort_by = element("paging", page), element("sort_by", sort)
            found = await fnac.call("orders_query", paging, inside, sort_by, results_count="20")
            assert text(found, "nb_total_result") == "51"
            start = (int(page) - 1) * 20
            assert _ids(found) == expected[start : start + 20]
    up_to = await fnac.call("orders_query", window(None, dates[-1]), results_count="1")
    assert text(up_to, "nb_total_result") == "700"
    since = await fnac.call("orders_query", window(dates[0], None), results_count="1")
    assert int(text(since, "nb_total_result")) >= total - 600
    empty = await fnac.call("orders_query", window(dates[-1], dates[0]), results_count="1")
    assert text(empty, "nb_total_result") == "0"


async def test_more_than_50_order_ids_is_refused(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Librairie Fnac")
    page = await fnac.call("orders_query", element("paging", "1"), results_count="60")
    ids = _ids(page)[:51]
    many = [element("order_fnac_id", i) for i in ids]
    refused = await fnac.call("orders_query", *many)
    assert refused.get("status") == "FATAL" and errors_of(refused) == ["ERR_105"]


async def test_incidents_oldest_first_and_by_update(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Démo Darty")
    incidents = await _incidents(fnac)
    opened = [datetime.fromisoformat(text(i, "header/created_at")) for i in incidents]
    assert incidents and opened == sorted(opened)
    # A closed incident: its UpdatedAt (its closing) is later than its opening.
    closed = next(i for i in incidents if text(i, "header/status") == "CLOSED")
    since = text(closed, "header/updated_at")
    recent = await _incidents(fnac, element("date", None, element("min", since), type="UpdatedAt"))
    assert closed.get("id") in {i.get("id") for i in recent}
    assert all(text(i, "header/updated_at") >= since for i in recent)


async def test_a_reply_answers_the_incident(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Démo Fnac")
    waiting = [
        i
        for i in await _incidents(fnac)
        if text(i, "header/waiting_for_seller_answer") == "TRUE"
        and text(i, "header/status") == "OPENED"
    ]
    order_id = text(waiting[0], "header/order_id")
    messages = await fnac.call("messages_query", element("order_fnac_id", order_id))
    claim = next(
        m for m in find(messages, "message") if text(m, "message_subject") == "Nouvelle réclamation"
    )
    reply = element(
        "message",
        None,
        element("message_to", "ALL"),
        element("message_description", "Nous renvoyons l'article aujourd'hui."),
        action="reply",
        id=text(claim, "message_id"),
    )
    assert (await fnac.call("messages_update", reply)).get("status") == "OK"
    [now] = _of_order(await _incidents(fnac), order_id)
    assert text(now, "header/waiting_for_seller_answer") == "FALSE"


async def test_advancing_the_clock_brings_orders_messages_and_incidents(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Librairie Fnac")
    before = await fnac.call("orders_query", element("paging", "1"), results_count="1")
    total_before = int(text(before, "nb_total_result"))
    shop_id = fnac.shop["shop_id"]
    advanced = await fnac_http.post(
        f"/_sandbox/fnac/shops/{shop_id}/advance", json={"seconds": 10 * 86_400}
    )
    summary = advanced.json()
    assert advanced.status_code == 200 and summary["shopId"] == shop_id
    assert len(summary["newOrderIds"]) > 150  # 2,000 orders in 90 days
    assert summary["newMessageIds"] and summary["newIncidentIds"]
    # The double's clock runs on (60 times real time) while the test asks: an order it
    # places meanwhile is listed too, so the advance's are found among those listed.
    placed = summary["newOrderIds"]
    after = await fnac.call("orders_query", element("paging", "1"), results_count="5")
    assert int(text(after, "nb_total_result")) >= total_before + len(placed)
    assert placed[-1] in _ids(after)  # newest first
    for start in range(0, len(placed), 50):  # at most 50 ids a query
        wanted = placed[start : start + 50]
        ids = element("orders_fnac_id", None, *(element("order_fnac_id", i) for i in wanted))
        listed = await fnac.call("orders_query", ids, results_count="50")
        assert sorted(_ids(listed)) == sorted(wanted)
    new_message = summary["newMessageIds"][0]
    found = await fnac.call("messages_query", element("message_id", new_message))
    assert find(found, "message") and find(found, "message")[0].get("state") == "UNREAD"
    listed = [i.get("id") for i in await _incidents(fnac)]
    assert listed.count(summary["newIncidentIds"][0]) == 1
    assert (
        await fnac_http.post(f"/_sandbox/fnac/shops/{shop_id}/advance", json={"seconds": 0})
    ).status_code == 400


async def test_buyers_and_customer_service_write_on_demand(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Démo Fnac")
    shop_id = fnac.shop["shop_id"]
    written = await fnac_http.post(
        f"/_sandbox/fnac/shops/{shop_id}/messages",
        json={"fromType": "CALLCENTER", "subject": "Relance", "description": "Merci de répondre."},
    )
    assert written.status_code == 201
    found = await fnac.call("messages_query", element("message_id", written.json()["messageId"]))
    message = find(found, "message")[0]
    assert find(message, "message_from")[0].get("type") == "CALLCENTER"
    assert text(message, "message_referer") == written.json()["orderId"]
    orders = await fnac.call("orders_query", element("paging", "2"), results_count="10")
    claimed = await fnac.call("incidents_query", element("paging", "1"))
    calm = next(o for o in _ids(orders) if o not in _ids(claimed, "incident/header/order_id"))
    opened = await fnac_http.post(
        f"/_sandbox/fnac/shops/{shop_id}/incidents", json={"orderId": calm, "typeCode": "3"}
    )
    assert opened.status_code == 201
    [incident] = _of_order(await _incidents(fnac), calm)
    assert text(incident, "header/status") == "OPENED"
    claim = await fnac.call("messages_query", element("message_id", opened.json()["messageId"]))
    assert text(claim, "message/message_subject") == "Nouvelle réclamation"
    assert text(claim, "message/created_at") == text(incident, "header/created_at")
    again = await fnac_http.post(
        f"/_sandbox/fnac/shops/{shop_id}/incidents", json={"orderId": calm}
    )
    assert again.status_code == 409


async def test_a_message_written_with_no_order_goes_to_the_latest_order_with_no_incident(
    fnac_http,
) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Démo Fnac")
    shop_id = fnac.shop["shop_id"]
    messages = f"/_sandbox/fnac/shops/{shop_id}/messages"
    first = (await fnac_http.post(messages, json={})).json()["orderId"]
    opened = await fnac_http.post(
        f"/_sandbox/fnac/shops/{shop_id}/incidents", json={"orderId": first}
    )
    assert opened.status_code == 201
    second = (await fnac_http.post(messages, json={})).json()["orderId"]
    assert second != first
    assert _of_order(await _incidents(fnac), second) == []
