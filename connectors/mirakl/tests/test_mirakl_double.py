"""The Mirakl double over HTTP: several operator instances, every answer checked against
Mirakl's OpenAPI description, paging, M12's limits, frequencies (429 + Retry-After, calls
inside a Retry-After counted), keys and faults."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from typing import Any

import httpx
import jsonschema
import pytest
from keybuzz_devstack.testing import eventually
from keybuzz_double_mirakl import MiraklDoubleSettings
from keybuzz_double_mirakl.contract import DESCRIBED
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.doubles import doubles
from keybuzz_sandbox.fixtures import byte_arrivals, trickled_at_pace
from mirakl_helpers import (
    ADMIN,
    Shop,
    check_error,
    check_request_part,
    check_response,
    operators,
    shop,
    validator_for,
)

pytestmark = pytest.mark.asyncio

THREADS, ORDERS, STATS = "/api/inbox/threads", "/api/orders", "/api/account/statistics"
TO_CUSTOMER = {"body": "Bonjour, votre colis part aujourd'hui.", "to": [{"type": "CUSTOMER"}]}


async def relaxed(http: httpx.AsyncClient) -> None:
    assert (await http.put(f"{ADMIN}/limits", json={"enforced": False})).status_code == 200


async def served(serve: Any, **config: Any) -> httpx.AsyncClient:
    http: httpx.AsyncClient = await serve(SandboxConfig(time_scale=60, **config))
    return http


async def first_thread(seller: Shop, **params: Any) -> dict[str, Any]:
    body = check_response("M11", await seller.get(THREADS, **params))
    thread: dict[str, Any] = body["data"][0]
    return thread


async def test_operators_are_listed_with_their_base_url_and_shops(serve) -> None:
    http = await served(serve)
    listed = await operators(http)
    assert {"BOULANGER", "LEROY_MERLIN", "DECATHLON", "LA_REDOUTE"} <= listed.keys()
    for code, operator in listed.items():
        assert operator["baseUrl"] == f"{http.base_url}".rstrip("/") + f"/mirakl/{code}"
        assert operator["shops"] and all(s["apiKey"] and s["shopId"] for s in operator["shops"])
    leroy = listed["LEROY_MERLIN"]["shops"]
    assert len(leroy) == 2 and leroy[0]["apiKey"] == leroy[1]["apiKey"]  # one user, two shops
    # The connector's catalogue from service_env points each seeded operator at the double.
    catalogue = json.loads(doubles()["mirakl"].service_env(str(http.base_url))["MIRAKL_CATALOGUE"])
    assert {e["code"]: e["baseUrl"] for e in catalogue} == {
        code: operator["baseUrl"] for code, operator in listed.items()
    }


async def test_every_endpoint_answers_as_mirakls_openapi_description_says(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    seller = await shop(http)
    listed = check_response("M11", await seller.get(THREADS, with_messages="true"))
    assert listed["data"] and all("messages" in t for t in listed["data"])
    assert all(
        "messages" not in t for t in check_response("M11", await seller.get(THREADS))["data"]
    )
    thread_id = listed["data"][0]["id"]
    check_request_part("M12", "message_input", TO_CUSTOMER)
    sent = check_response(
        "M12", await seller.reply(thread_id, TO_CUSTOMER, [("facture.pdf", b"%PDF-1.4 ...")])
    )
    assert sent["thread_id"] == thread_id
    thread = check_response("M10", await seller.get(f"{THREADS}/{thread_id}"))
    last = thread["messages"][-1]
    assert last["id"] == sent["message_id"] and last["from"]["type"] == "SHOP_USER"
    attachment = last["attachments"][0]
    content = check_response("M13", await seller.get(f"{THREADS}/{attachment['id']}/download"))
    assert content == b"%PDF-1.4 ..." and attachment["size"] == len(content)
    orders = check_response("OR11", await seller.get(ORDERS, max=100))
    assert orders["total_count"] == len(orders["orders"]) > 0
    stats = check_response("A21", await seller.get(STATS))
    assert {p["period"] for p in stats["order_messages_response_delay"]} >= {"LAST_MONTH"}


async def test_the_check_fails_on_a_renamed_or_an_unknown_field(serve) -> None:
    http = await served(serve)
    seller = await shop(http)
    body = check_response("M11", await seller.get(THREADS, with_messages="true"))
    schema = validator_for("M11", "responses", "200", "content", "application/json", "schema")
    as_answered = copy.deepcopy(body)
    metadata = body["data"][0]["metadata"]
    metadata["shop_reply_since"] = metadata.pop("shop_reply_needed_since")
    with pytest.raises(jsonschema.ValidationError):
        schema.validate(body)
    body["data"][0]["metadata"] = {**metadata, "shop_reply_needed_since": None}
    body["data"][0]["messages"][0]["sent_at"] = "2026-01-01T00:00:00Z"  # optional, unknown
    with pytest.raises(jsonschema.ValidationError):
        schema.validate(body)
    # A value Mirakl lists only in its words ("Enum: `"OPERATOR_USER"`, …") is held too.
    body = as_answered
    body["data"][0]["messages"][0]["from"]["type"] = "SELLER_USER"
    with pytest.raises(jsonschema.ValidationError, match="is not one of"):
        schema.validate(body)
    # The stored description is Mirakl's: M11's thread names what the double sends.
    thread = DESCRIBED.published()["components"]["schemas"]["M11_Response_200_Data"]
    assert {"metadata", "topic", "current_participants"} <= set(thread["required"])


async def test_m11_seek_paging_and_filters(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    seller = await shop(http, "LEROY_MERLIN")
    everything = check_response("M11", await seller.get(THREADS, limit=100))["data"]
    assert len(everything) > 6
    seen, token, pages = [], None, []
    while True:
        params = {"page_token": token} if token else {"limit": 4}
        page = check_response("M11", await seller.get(THREADS, **params))
        pages.append(page)
        seen += [t["id"] for t in page["data"]]
        token = page.get("next_page_token")
        if token is None:
            break
    assert seen == [t["id"] for t in everything] and len(pages) == -(-len(everything) // 4)
    assert not any("previous_page_token" in page for page in pages)  # forward only
    dates = [t["date_updated"] for t in everything]
    assert dates == sorted(dates, reverse=True)  # latest updated first
    since = dates[3]
    recent = check_response("M11", await seller.get(THREADS, updated_since=since, limit=100))
    assert {t["id"] for t in recent["data"]} == {
        t["id"] for t in everything if t["date_updated"] >= since
    }
    check_error(await seller.get(THREADS, page_token="not-a-token"), 400)
    check_error(await seller.get(THREADS, limit=101), 400)
    misspelt = check_error(await seller.get(THREADS, update_since=since), 400)
    assert "update_since" in misspelt["message"]
    # A value off the description's type: a date-time without its offset.
    naive = check_error(await seller.get(THREADS, updated_since="2026-01-01T00:00:00"), 400)
    assert "is not a 'date-time'" in naive["message"]


async def test_or11_offset_paging_filters_incidents_and_refunds(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    seller = await shop(http, "LEROY_MERLIN")
    first = check_response("OR11", await seller.get(ORDERS))
    total = first["total_count"]
    assert len(first["orders"]) == 10 < total  # default max
    ids: list[str] = []
    for offset in range(0, total, 7):
        page = check_response("OR11", await seller.get(ORDERS, max=7, offset=offset))
        assert page["total_count"] == total
        ids += [o["order_id"] for o in page["orders"]]
    assert len(ids) == len(set(ids)) == total
    every = check_response("OR11", await seller.get(ORDERS, max=100))["orders"]
    created = [o["created_date"] for o in every]
    assert created == sorted(created)
    check_error(await seller.get(ORDERS, max=101), 400)
    # an incident on its first line, a refund on its last
    order_id = next(o["order_id"] for o in every if len(o["order_lines"]) > 1)
    incident = await http.post(f"{seller.admin}/orders/{order_id}/incident")
    assert incident.json()["orderLineState"] == "INCIDENT_OPEN"
    refund = await http.post(f"{seller.admin}/orders/{order_id}/refund")
    listed = check_response("OR11", await seller.get(ORDERS, order_ids=order_id))
    order = next(o for o in listed["orders"] if o["order_id"] == order_id)
    states = {line["order_line_state"] for line in order["order_lines"]}
    assert order["has_incident"] and "INCIDENT_OPEN" in states
    refunded = next(
        line
        for line in order["order_lines"]
        if line["order_line_id"] == refund.json()["orderLineId"]
    )
    assert refunded["refunds"] and refunded["refunds"][0]["amount"] > 0
    changed = check_response(
        "OR11", await seller.get(ORDERS, start_update_date=order["last_updated_date"], max=100)
    )
    assert order_id in {o["order_id"] for o in changed["orders"]}


async def test_m12_limits(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    seller = await shop(http, "DECATHLON")
    thread = await first_thread(seller)
    for body in ("ok", "x" * 50_001):
        check_error(await seller.reply(thread["id"], {**TO_CUSTOMER, "body": body}), 400)
    for to in ([], [{"type": "SHOP"}], [{"type": "NOBODY"}]):
        check_error(await seller.reply(thread["id"], {**TO_CUSTOMER, "to": to}), 400)
    check_error(await seller.reply(thread["id"], b"{not json"), 400)
    assert (await seller.reply(thread["id"], {**TO_CUSTOMER, "body": "abc"})).status_code == 201
    assert (
        await seller.reply(thread["id"], {**TO_CUSTOMER, "body": "y" * 50_000})
    ).status_code == 201
    check_error(await seller.reply("no-such-thread", TO_CUSTOMER), 404)
    both = {**TO_CUSTOMER, "to": [{"type": "CUSTOMER"}, {"type": "OPERATOR"}]}
    assert (await seller.reply(thread["id"], both)).status_code == 201
    # 50 attachments over all threads of one order
    files = [(f"photo{n}.jpg", b"jpg") for n in range(50)]
    before = check_response("M10", await seller.get(f"{THREADS}/{thread['id']}"))
    already = sum(len(m.get("attachments", [])) for m in before["messages"])
    assert (await seller.reply(thread["id"], TO_CUSTOMER, files[: 50 - already])).status_code == 201
    check_error(await seller.reply(thread["id"], TO_CUSTOMER, files[:1]), 400)
    sent = (await http.get(f"{seller.admin}/sent")).json()["sent"]
    assert [s["operation"] for s in sent][-1] == "M12" and sent[0]["body"] == "abc"


async def test_what_a_shop_sends_is_checked_against_the_description(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    seller = await shop(http, "DECATHLON")
    thread = await first_thread(seller)
    renamed = {"body": TO_CUSTOMER["body"], "recipients": TO_CUSTOMER["to"]}
    refused = check_error(await seller.reply(thread["id"], renamed), 400)
    assert (
        "recipients" in refused["message"] and "'to' is a required property" in refused["message"]
    )
    extra = {**TO_CUSTOMER, "to": [{"type": "CUSTOMER", "display_name": "Léa"}]}
    assert "display_name" in check_error(await seller.reply(thread["id"], extra), 400)["message"]
    assert (await http.get(f"{seller.admin}/sent")).json()["sent"] == []


async def test_a_thread_holds_at_most_1000_messages(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    seller = await shop(http, "LA_REDOUTE")
    thread = await first_thread(seller)
    for _ in range(1_000 - thread["metadata"]["total_count"]):
        assert (await seller.customer_writes(thread["id"])).status_code == 201
    check_error(await seller.reply(thread["id"], TO_CUSTOMER), 400)


async def test_shop_reply_needed_since_set_by_customer_and_operator_cleared_by_reply(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    seller = await shop(http)
    opened = await http.post(f"{seller.admin}/threads", json={"body": "Bonjour, mon colis ?"})
    thread_id = opened.json()["threadId"]

    async def metadata() -> dict[str, Any]:
        thread = check_response("M10", await seller.get(f"{THREADS}/{thread_id}"))
        result: dict[str, Any] = thread["metadata"]
        return result

    asked = await metadata()
    assert asked["shop_reply_needed_since"] == asked["last_message_date"]
    assert (await seller.reply(thread_id, TO_CUSTOMER)).status_code == 201
    assert (await metadata())["shop_reply_needed_since"] is None
    staff = {"sender": "OPERATOR", "body": "Merci de répondre au client.", "to": ["SHOP"]}
    assert (await seller.customer_writes(thread_id, **staff)).status_code == 201
    thread = check_response("M10", await seller.get(f"{THREADS}/{thread_id}"))
    assert thread["messages"][-1]["from"]["type"] == "OPERATOR_USER"
    assert thread["metadata"]["shop_reply_needed_since"] == thread["messages"][-1]["date_created"]
    assert (
        await http.post(f"{seller.admin}/threads/{thread_id}/no-reply-needed")
    ).status_code == 200
    thread = check_response("M10", await seller.get(f"{THREADS}/{thread_id}"))
    assert thread["metadata"]["shop_reply_needed_since"] is None
    assert thread["no_store_reply_needed"][0]["user_type"] == "OPERATOR"
    delay = check_response("A21", await seller.get(STATS, periods="LAST_MONTH"))
    assert delay["order_messages_response_delay"][0]["value"] >= 0


async def test_the_clock_advance_makes_orders_threads_and_messages(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    seller = await shop(http, "LEROY_MERLIN")
    before = check_response("OR11", await seller.get(ORDERS, max=1))["total_count"]
    mark = time.time()
    played = (await http.post(f"{seller.admin}/advance", json={"seconds": 20 * 86_400})).json()
    assert played["orders"] > 0 and played["threads"] + played["messages"] > 0
    after = check_response("OR11", await seller.get(ORDERS, max=1))["total_count"]
    assert after == before + played["orders"]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mark - 1))
    changed = check_response("M11", await seller.get(THREADS, updated_since=since, limit=100))
    assert len(changed["data"]) >= played["threads"] + min(1, played["messages"])
    moved = check_response("OR11", await seller.get(ORDERS, start_update_date=since, max=100))
    assert moved["total_count"] > played["orders"]  # older orders moved on too


async def test_keys_in_authorization_and_shop_id(serve) -> None:
    http = await served(serve, doubles=(MiraklDoubleSettings(extra_shops=1),))
    await relaxed(http)
    listed = await operators(http)
    leroy = listed["LEROY_MERLIN"]
    seller = Shop(http, leroy)
    url = f"{seller.base}{ORDERS}"
    check_error(await http.get(url), 401)
    check_error(await http.get(url, headers={"Authorization": f"Bearer {seller.key}"}), 401)
    other_key = listed["BOULANGER"]["shops"][0]["apiKey"]
    check_error(await http.get(url, headers={"Authorization": other_key}), 401)
    key = {"Authorization": seller.key}
    default = check_response("OR11", await http.get(url, headers=key, params={"max": 100}))
    ids = [s["shopId"] for s in leroy["shops"] if s["apiKey"] == seller.key]
    neighbour = next(s["shopId"] for s in leroy["shops"] if s["apiKey"] != seller.key)
    check_error(await http.get(url, headers=key, params={"shop_id": neighbour}), 403)
    first = check_response(
        "OR11", await http.get(url, headers=key, params={"shop_id": ids[0], "max": 100})
    )
    second = check_response(
        "OR11", await http.get(url, headers=key, params={"shop_id": ids[1], "max": 100})
    )
    assert default == first and {o["order_id"] for o in first["orders"]}.isdisjoint(
        o["order_id"] for o in second["orders"]
    )
    stranger = listed["BOULANGER"]["shops"][0]["shopId"]
    check_error(await http.get(url, headers=key, params={"shop_id": stranger}), 403)
    rotated = (await http.post(f"{ADMIN}/operators/LEROY_MERLIN/shops/{ids[1]}/rotate-key")).json()
    assert rotated["shopIds"] == ids
    check_error(await http.get(url, headers=key), 401)
    assert (await http.get(url, headers={"Authorization": rotated["apiKey"]})).status_code == 200
    unknown = seller.base.replace("/LEROY_MERLIN", "/NOPE")
    check_error(await http.get(f"{unknown}{ORDERS}", headers=key), 404)


async def test_frequencies_answer_429_and_calls_inside_retry_after_are_counted(serve) -> None:
    # 4 Mirakl seconds a real second: OR11 once every 15 real seconds, wide enough for a
    # loaded machine's four calls (at 3 s, a call a second on a busy machine met the next
    # period, not the limit), short enough to wait for.
    http: httpx.AsyncClient = await serve(SandboxConfig(time_scale=4))
    seller = await shop(http)
    other = await shop(http, "DECATHLON")
    assert (await seller.get(ORDERS)).status_code == 200
    assert (await seller.get(ORDERS, offset=10)).status_code == 200  # a following page
    limited = check_error(await seller.get(ORDERS), 429)
    assert limited["message"]
    refused = await seller.get(ORDERS)
    wait = int(refused.headers["Retry-After"])
    assert refused.status_code == 429 and wait >= 1
    assert (await other.get(ORDERS)).status_code == 200  # per shop
    counted = (await http.get(f"{ADMIN}/retry-after-violations")).json()
    assert counted["count"] == 1 and counted["calls"][0]["operation"] == "OR11"
    await asyncio.sleep(wait)
    assert (await seller.get(ORDERS)).status_code == 200
    assert (await http.get(f"{ADMIN}/retry-after-violations")).json()["count"] == 1
    assert (await seller.get(STATS)).status_code == 200
    daily = await seller.get(STATS)  # A21: once a day
    assert daily.status_code == 429 and int(daily.headers["Retry-After"]) >= 1_000
    await relaxed(http)
    assert (await seller.get(STATS)).status_code == 200
    assert (await http.get(f"{ADMIN}/retry-after-violations")).json()["count"] == 2
    assert (await http.get(f"{ADMIN}/limits")).json() == {"enforced": False}
    assert (await http.delete(f"{ADMIN}/limits")).status_code == 204
    assert (await seller.get(STATS)).status_code == 429  # enforced again, the day not over
    assert (await http.post(f"{ADMIN}/limits/reset")).status_code == 204
    assert (await seller.get(STATS)).status_code == 200  # its last call forgotten


async def test_faults_fail_next_429_and_malformed_bodies(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    seller = await shop(http)
    faults = f"{ADMIN}/faults"
    set_up = await http.put(faults, json={"failNext": 2, "failStatus": 503, "operations": ["OR11"]})
    assert set_up.status_code == 200
    assert (await seller.get(THREADS)).status_code == 200  # not named
    for _ in range(2):
        failed = await seller.get(ORDERS)
        assert failed.status_code == 503 and failed.headers["content-type"].startswith("text/html")
    assert (await seller.get(ORDERS)).status_code == 200
    await http.put(faults, json={"failNext": 1, "failStatus": 429, "retryAfterSeconds": 7})
    limited = await seller.get(THREADS)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert (await seller.get(THREADS)).status_code == 200
    assert (await http.get(f"{ADMIN}/retry-after-violations")).json()["count"] == 1
    for kind, check in (
        ("html", lambda r: r.headers["content-type"].startswith("text/html")),
        ("huge", lambda r: len(r.content) == 300_000 and r.json()["data"]),
        ("invalid_json", lambda r: r.content and not r.content.rstrip().endswith(b"}")),
    ):
        body = {"malformedNext": 1, "malformedKind": kind, "hugeBytes": 300_000}
        assert (await http.put(faults, json=body)).status_code == 200
        assert check(await seller.get(THREADS)), kind
    await http.put(faults, json={"malformedNext": 1, "malformedKind": "redirect"})
    moved = await seller.get(THREADS)
    assert moved.status_code == 302 and moved.headers["Location"].startswith("https://")
    assert (await http.put(faults, json={"malformedKind": "xml"})).status_code == 400
    assert (await http.delete(faults)).status_code == 204


async def test_slow_shops_stall_and_trickle(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    seller = await shop(http)
    other = await shop(http, "DECATHLON")
    # Stalled for a minute: the other shop is answered while the stalled call still waits,
    # whatever this machine's speed.
    faults = {"stallSeconds": 60, "stallShops": [str(seller.shop_id)], "operations": ["OR11"]}
    await http.put(f"{ADMIN}/faults", json=faults)
    waiting = asyncio.create_task(seller.get(ORDERS))

    async def in_flight() -> bool | None:  # the double counts a call as it comes in
        return (await http.get(f"{seller.admin}/calls")).json()["calls"].get("OR11") or None

    await eventually(in_flight)
    assert (await other.get(ORDERS)).status_code == 200
    assert not waiting.done()
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await http.put(f"{ADMIN}/faults", json={**faults, "stallSeconds": 1.0})
    started = time.perf_counter()
    assert (await seller.get(ORDERS)).status_code == 200
    assert time.perf_counter() - started >= 1.0
    trickle = {"trickleSeconds": 0.05, "operations": ["M11"]}
    await http.put(f"{ADMIN}/faults", json=trickle)
    url = f"{seller.base}{THREADS}"
    sent_at = time.perf_counter()
    async with http.stream("GET", url, headers={"Authorization": seller.key}) as response:
        arrivals = await byte_arrivals(response, sent_at, 3)
    assert trickled_at_pace(arrivals, 0.05)


async def test_extra_shops_for_polling_at_scale(serve) -> None:
    http = await served(serve, doubles=(MiraklDoubleSettings(extra_shops=3),))
    listed = await operators(http)
    for operator in listed.values():
        extras = [s for s in operator["shops"] if s["name"].startswith("KeyBuzz Boutique")]
        assert len(extras) == 3 and len({s["apiKey"] for s in extras}) == 3
    decathlon = listed["DECATHLON"]
    index = next(i for i, s in enumerate(decathlon["shops"]) if s["name"].endswith("00002"))
    extra = Shop(http, decathlon, index)
    orders = check_response("OR11", await extra.get(ORDERS, max=100))
    assert orders["total_count"] == len(orders["orders"]) > 0
    assert all(o["channel"]["code"] in ("FR", "BE") for o in orders["orders"])


async def test_one_operator_down_while_the_others_answer(serve) -> None:
    http = await served(serve)
    await relaxed(http)
    down, up = await shop(http, "BOULANGER"), await shop(http, "DECATHLON")
    faults = {"failNext": 1_000, "failStatus": 503, "operations": ["BOULANGER"]}
    assert (await http.put(f"{ADMIN}/faults", json=faults)).status_code == 200
    for path in (THREADS, ORDERS, STATS):
        assert (await down.get(path)).status_code == 503
        assert (await up.get(path)).status_code == 200
