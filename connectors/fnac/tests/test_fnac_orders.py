"""Fnac double: orders_query, incidents_query/update, and the clock, over HTTP."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from fnac_helpers import Fnac, element, errors_of, find, shops, text
from keybuzz_double_fnac.generator import LINE_STATE
from keybuzz_sandbox import SandboxConfig, create_app

pytestmark = pytest.mark.asyncio


async def _shop(http, name: str) -> Fnac:
    fnac = Fnac(http, (await shops(http))[name])
    await fnac.authenticate()
    return fnac


def _ids(root, path: str = "order/order_id") -> list[str]:
    return [e.text or "" for e in find(root, path)]


async def test_the_50000_order_shop_pages_and_costs_nothing_at_start_up(fnac_http) -> None:
    started = time.process_time()  # CPU: what a busy machine does not stretch
    create_app(SandboxConfig())
    assert time.process_time() - started < 5  # its orders are computed on demand
    fnac = await _shop(fnac_http, "KeyBuzz Bench Fnac")
    last = await fnac.call("orders_query", element("paging", "500"), results_count="100")
    total = int(text(last, "nb_total_result"))  # the double's clock runs on: new orders join
    assert 50_000 <= total < 50_100 and int(text(last, "total_paging")) == -(-total // 100)
    assert len(find(last, "order")) == 100
    first = await fnac.call("orders_query", element("paging", "1"), results_count="1")
    newest = datetime.fromisoformat(text(first, "order/created_at"))
    oldest = datetime.fromisoformat(text(last, "order/created_at"))
    assert newest > oldest
    by_id = await fnac.call("orders_query", element("order_fnac_id", _ids(last)[-1]))
    assert _ids(by_id) == [_ids(last)[-1]]


async def test_orders_by_date_state_and_ids(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Librairie Fnac")
    page = await fnac.call("orders_query", element("paging", "3"), results_count="50")
    orders = find(page, "order")
    dates = [text(o, "created_at") for o in orders]
    low, high = dates[-1], dates[0]
    window = element("date", None, element("min", low), element("max", high), type="CreatedAt")
    in_window = await fnac.call("orders_query", window, results_count="100")
    assert _ids(in_window) == _ids(page)
    shipped = await fnac.call(
        "orders_query", element("states", None, element("state", "Shipped")), results_count="100"
    )
    assert {text(o, "state") for o in find(shipped, "order")} == {"Shipped"}
    assert {e.text for e in find(shipped, "order/order_detail/state")} <= {"Shipped"}
    wanted = _ids(page)[:3]
    listed = await fnac.call(
        "orders_query",
        element("orders_fnac_id", None, *(element("order_fnac_id", i) for i in wanted)),
    )
    assert sorted(_ids(listed)) == sorted(wanted)
    unknown = await fnac.call("orders_query", element("order_fnac_id", "0000000000000"))
    assert text(unknown, "nb_total_result") == "0"


async def test_a_creation_window_pages_as_the_full_scan_does(fnac_http) -> None:
    # The date filter alone is paged by bisection; with a state filter that keeps every
    # order, the double scans each order: both must agree, page by page.
    fnac = await _shop(fnac_http, "KeyBuzz Librairie Fnac")
    asc = element("sort_by", "ASC")
    listed = await fnac.call("orders_query", element("paging", "7"), asc, results_count="100")
    dates = [text(o, "created_at") for o in find(listed, "order")]
    every_state = element("states", None, *(element("state", s) for s in LINE_STATE))
    windows = [
        element("date", None, element("min", dates[40]), type="CreatedAt"),
        element(
            "date", None, element("min", dates[10]), element("max", dates[60]), type="CreatedAt"
        ),
        element("date", None, element("max", dates[-1]), type="CreatedAt"),
        element(
            "date", None, element("min", dates[-1]), element("max", dates[0]), type="CreatedAt"
        ),
    ]
    for window in windows:
        for sort in ("ASC", "DESC"):
            for page in ("1", "2", "9"):
                paging, sort_by = element("paging", page), element("sort_by", sort)
                fast = await fnac.call("orders_query", paging, window, sort_by, results_count="50")
                full = await fnac.call(
                    "orders_query", paging, window, every_state, sort_by, results_count="50"
                )
                assert text(fast, "nb_total_result") == text(full, "nb_total_result")
                assert _ids(fast) == _ids(full)
    total = await fnac.call("orders_query", windows[1], results_count="100")
    assert int(text(total, "nb_total_result")) >= 51


async def test_more_than_50_order_ids_is_refused(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Librairie Fnac")
    page = await fnac.call("orders_query", element("paging", "1"), results_count="60")
    ids = _ids(page)[:51]
    many = [element("order_fnac_id", i) for i in ids]
    refused = await fnac.call("orders_query", *many)
    assert refused.get("status") == "FATAL" and errors_of(refused) == ["ERR_105"]


async def test_incidents_filters_and_refunds(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Démo Darty")
    opened = await fnac.call(
        "incidents_query", element("status", "OPENED"), element("sort_by", "ASC")
    )
    incidents = find(opened, "incident")
    assert incidents and {text(i, "header/status") for i in incidents} == {"OPENED"}
    incident = incidents[0]
    order_id = text(incident, "header/order_id")
    detail_ids = [
        e.text
        for e in find(incident, "order_details_incident/order_detail_incident/order_detail_id")
    ]
    refund = element(
        "order",
        None,
        element(
            "order_detail",
            None,
            element("order_detail_id", detail_ids[0]),
            element("refund_reason", "unreceived_article"),
        ),
        action="refund",
        order_id=order_id,
    )
    done = await fnac.call("incidents_update", refund)
    assert done.get("status") == "OK"
    assert text(done, "order/order_detail/state") == "Refunded"
    again = await fnac.call("incidents_update", refund)
    assert again.get("status") == "ERROR" and errors_of(again) == ["ERR_109"]
    after = await fnac.call("incidents_query", element("order", order_id))
    refunded = [
        d
        for d in find(after, "incident/order_details_incident/order_detail_incident")
        if text(d, "order_detail_id") == detail_ids[0]
    ]
    assert text(refunded[0], "status") == "CLOSED"
    assert float(text(refunded[0], "refunds/refund/product_amount")) > 0
    order = await fnac.call("orders_query", element("order_fnac_id", order_id))
    line_states = {
        text(d, "order_detail_id"): text(d, "state") for d in find(order, "order/order_detail")
    }
    assert line_states[detail_ids[0]] == "Refunded"
    no_incident = await fnac.call(
        "incidents_update",
        element(
            "order", None, element("order_detail", None), action="refund", order_id="0000000000000"
        ),
    )
    assert no_incident.get("status") == "ERROR" and errors_of(no_incident) == ["ERR_110"]


async def test_a_reply_answers_the_incident(fnac_http) -> None:
    fnac = await _shop(fnac_http, "KeyBuzz Démo Fnac")
    waiting = await fnac.call(
        "incidents_query", element("waiting_for_seller_answer", "TRUE"), element("status", "OPENED")
    )
    order_id = text(find(waiting, "incident")[0], "header/order_id")
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
    now = await fnac.call("incidents_query", element("order", order_id))
    assert text(now, "incident/header/waiting_for_seller_answer") == "FALSE"


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
    after = await fnac.call("orders_query", element("paging", "1"), results_count="1")
    assert int(text(after, "nb_total_result")) == total_before + len(summary["newOrderIds"])
    assert _ids(after) == [summary["newOrderIds"][-1]]  # newest first
    new_message = summary["newMessageIds"][0]
    found = await fnac.call("messages_query", element("message_id", new_message))
    assert find(found, "message") and find(found, "message")[0].get("state") == "UNREAD"
    incident = await fnac.call(
        "incidents_query", element("incident_id", summary["newIncidentIds"][0])
    )
    assert text(incident, "nb_total_result") == "1"
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
    incident = await fnac.call("incidents_query", element("order", calm))
    assert text(incident, "incident/header/status") == "OPENED"
    claim = await fnac.call("messages_query", element("message_id", opened.json()["messageId"]))
    assert text(claim, "message/message_subject") == "Nouvelle réclamation"
    assert text(claim, "message/created_at") == text(incident, "incident/header/created_at")
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
    claimed = await fnac.call("incidents_query", element("order", second))
    assert text(claimed, "nb_total_result") == "0"
