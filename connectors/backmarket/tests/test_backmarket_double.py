"""The Back Market double over HTTP: every answer checked against Back Market's OpenAPI
description, paging and filters, POST …/msg's limits and a closed folder reopening, the
headers Back Market requires, per-minute and per-day limits (429 + Retry-After, counted per
shop, endpoint and day, calls inside a Retry-After listed), the WAF's 403, faults, and the
clock making folders and messages at an hourly rate."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import jsonschema
import pytest
from backmarket_helpers import (
    ADMIN,
    FOLDERS,
    ORDERS,
    USER_AGENT,
    Seller,
    check_error,
    check_response,
    seller,
    shops,
    validator_for,
)
from keybuzz_double_backmarket import BackMarketDoubleSettings
from keybuzz_double_backmarket.contract import DESCRIBED
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.doubles import doubles

pytestmark = pytest.mark.asyncio

DETAILS_SCHEMA = ("responses", "200", "content", "application/json", "schema")


async def served(serve: Any, **config: Any) -> httpx.AsyncClient:
    http: httpx.AsyncClient = await serve(SandboxConfig(**config))
    return http


async def every_folder(shop: Seller, **params: Any) -> list[dict[str, Any]]:
    """Every page of GET /ws/sav, following ``next``."""
    found: list[dict[str, Any]] = []
    page = check_response("getCareFolderList", await shop.get(FOLDERS, **params))
    found += page["results"]
    while page["next"]:
        response = await shop.http.get(page["next"], headers=shop.headers())
        page = check_response("getCareFolderList", response)
        found += page["results"]
    return found


async def advance(http: httpx.AsyncClient, seconds: float) -> dict[str, Any]:
    played = await http.post(f"{ADMIN}/clock/advance", json={"seconds": seconds})
    assert played.status_code == 200, played.text
    body: dict[str, Any] = played.json()
    return body


async def test_shops_are_listed_with_their_tokens_countries_and_sizes(serve) -> None:
    http = await served(serve, doubles=(BackMarketDoubleSettings(extra_shops=3),))
    listed = await shops(http)
    assert {s["country"] for s in listed} == {"fr-fr", "de-de", "es-es", "it-it"}
    assert len({s["token"] for s in listed}) == len(listed) == 7
    sizes = sorted(s["buyerEventsPerDay"] for s in listed if s["number"] < 1_000)
    assert sizes[0] * 10 < sizes[-1]  # several sizes
    assert all(s["baseUrl"] == f"{http.base_url}".rstrip("/") + "/backmarket" for s in listed)
    extra = Seller(http, listed[-1])
    assert check_response("getCareFolderList", await extra.get(FOLDERS))["results"]
    assert doubles()["backmarket"].service_env("http://sandbox") == {
        "BACKMARKET_EU_URL": "http://sandbox/backmarket"
    }
    read = SandboxConfig.from_env({"SANDBOX_BACKMARKET_EXTRA_SHOPS": "3"})
    assert read.of(BackMarketDoubleSettings).extra_shops == 3


async def test_every_endpoint_answers_as_back_markets_description_says(serve) -> None:
    http = await served(serve)
    shop = await seller(http)
    folders = await every_folder(shop)
    details = [
        check_response("getCareFolderDetails", await shop.get(f"{FOLDERS}/{f['id']}"))
        for f in folders
    ]
    messages = [m for d in details for m in d["messages"]]
    assert {m["initiator"] for m in messages} == {"Customer", "Merchant", "BackMarket"}
    assert any(m["is_informative"] for m in messages) and not all(
        m["is_informative"] for m in messages
    )
    with_claims = [d for d in details if d["lines"]]
    assert 0 < len(with_claims) < len(details)
    claim = with_claims[0]["lines"][0]
    assert claim["issues"] and claim["resolution_choice"] and claim["declared_warranty_state"]
    assert {d["state"] for d in details} == {0, 9}
    first = details[0]
    assert first["orderline"]["order"]["country_code"] == first["country_code"]
    assert first["client"]["email"] and first["merchant"]["id"] == folders[0]["merchant"]
    posted = check_response(
        "postMessage", await shop.post_message(first["id"], {"message": "Bonjour"})
    )
    assert posted["group"] == first["id"] and posted["message"] == "Bonjour"
    orders = check_response("get-ws-list-order", await shop.get(ORDERS, **{"page-size": 50}))
    assert orders["count"] > 50 and len(orders["results"]) == 50
    order_id = first["orderline"]["order"]["order_id"]
    order = check_response("get-ws-specific-order", await shop.get(f"{ORDERS}/{order_id}"))
    assert first["orderline"]["id"] in {line["id"] for line in order["orderlines"]}
    check_error(await shop.get(f"{FOLDERS}/1"), 404)
    check_error(await shop.get(f"{ORDERS}/1"), 404)


async def test_the_check_fails_on_a_renamed_or_an_unknown_field(serve) -> None:
    http = await served(serve)
    shop = await seller(http)
    folder_id = (await every_folder(shop))[0]["id"]
    body = check_response("getCareFolderDetails", await shop.get(f"{FOLDERS}/{folder_id}"))
    schema = validator_for("getCareFolderDetails", *DETAILS_SCHEMA)
    message = body["messages"][0]
    message["informative"] = message.pop("is_informative")
    with pytest.raises(jsonschema.ValidationError):
        schema.validate(body)
    message["is_informative"] = message.pop("informative")
    schema.validate(body)
    body["orderline"]["order"]["country"] = "fr-fr"  # unknown field
    with pytest.raises(jsonschema.ValidationError):
        schema.validate(body)
    # The stored description is Back Market's: a message names what the double sends.
    named = DESCRIBED.published()["components"]["schemas"]["message"]["properties"]
    assert {"initiator", "kind", "is_informative", "attachments"} <= named.keys()


async def test_folders_ten_a_page_with_next_previous_and_filters(serve) -> None:
    http = await served(serve)
    shop = await seller(http)
    everything = await every_folder(shop)
    ids = [f["id"] for f in everything]
    assert len(ids) > 20 and ids == sorted(ids) and len(set(ids)) == len(ids)
    second = check_response("getCareFolderList", await shop.get(FOLDERS, page=2))
    assert second["count"] == len(second["results"]) == 10
    assert re.search(r"[?&]page=1\b", second["previous"]) and "page=3" in second["next"]
    assert [f["id"] for f in second["results"]] == ids[10:20]
    last = check_response("getCareFolderList", await shop.get(FOLDERS, page=-(-len(ids) // 10)))
    assert last["next"] is None
    check_error(await shop.get(FOLDERS, page=len(ids)), 404)
    check_error(await shop.get(FOLDERS, page=0), 404)
    closed = [f for f in everything if f["state"] == 9]
    assert closed and "date_closed" in closed[0]
    dates = sorted(f["date_last_message"] for f in everything)
    since = dates[len(dates) // 2]
    minute = since[:16].replace("T", "-").replace(":", "-")
    recent = await every_folder(shop, last_message_date=minute)
    assert {f["id"] for f in recent} == {
        f["id"] for f in everything if f["date_last_message"][:16] >= since[:16]
    }
    for bad in ({"last_message_date": since}, {"status": 0}):
        check_error(await shop.get(FOLDERS, **bad), 400)


async def test_orders_by_date_with_paging(serve) -> None:
    http = await served(serve)
    shop = await seller(http, 2)
    first = check_response("get-ws-list-order", await shop.get(ORDERS))
    assert len(first["results"]) == 10 and first["previous"] is None and first["next"]
    everything = check_response("get-ws-list-order", await shop.get(ORDERS, **{"page-size": 50}))
    ids: list[int] = []
    page: dict[str, Any] | None = everything
    while page is not None:
        ids += [o["order_id"] for o in page["results"]]
        url = page["next"]
        response = await http.get(url, headers=shop.headers()) if url else None
        page = check_response("get-ws-list-order", response) if response else None
    assert len(ids) == len(set(ids)) == everything["count"] and ids == sorted(ids)
    created = sorted(o["date_creation"] for o in everything["results"])[25]
    since = check_response("get-ws-list-order", await shop.get(ORDERS, date_creation=created))
    assert since["count"] == sum(
        1 for o in everything["results"] if o["date_creation"] >= created
    ) + (everything["count"] - 50)
    check_error(await shop.get(ORDERS, **{"page-size": 51}), 400)
    # values the description's parameter schemas refuse (enums CountryCode, OrderState)
    assert (
        "country_code"
        in check_error(await shop.get(ORDERS, country_code="fr"), 400)["error"]["message"]
    )
    check_error(await shop.get(ORDERS, state=2), 400)
    check_error(await shop.get(ORDERS, date_creation="yesterday"), 400)


async def test_post_message_limits_and_a_closed_folder_reopens(serve) -> None:
    http = await served(serve)
    shop = await seller(http, 3)
    folder = next(f for f in await every_folder(shop) if f["state"] == 0)
    photo = b"\xff\xd8" + b"p" * 3 * 1024 * 1024  # 3 MB and 2 bytes
    ten = [(f"photo{n}.jpg", b"jpg %d" % n) for n in range(10)]
    text = {"message": "Bonjour, voici la procédure."}
    check_error(await shop.post_message(folder["id"], text, [*ten, ("eleven.jpg", b"j")]), 400)
    check_error(await shop.post_message(folder["id"], text, [("big.jpg", photo)]), 400)
    check_error(await shop.post_message(folder["id"], {}), 400)
    check_error(await shop.post_message(folder["id"], {"msg": "Bonjour"}), 400)
    check_error(await shop.post_message(folder["id"], {"message": "  "}), 400)
    assert (await http.get(f"{shop.admin}/sent")).json()["sent"] == []
    sent = await shop.post_message(folder["id"], text, [*ten[:9], ("max.jpg", photo[:-2])])
    posted = check_response("postMessage", sent)
    assert len(posted["attachments"]) == 10
    details = check_response("getCareFolderDetails", await shop.get(f"{FOLDERS}/{folder['id']}"))
    last = details["messages"][-1]
    assert last["id"] == posted["id"] and last["initiator"] == "Merchant"
    downloaded = await http.get(last["attachments"][-1]["attachment"])
    assert downloaded.content == photo[:-2]
    closed = await http.post(f"{shop.admin}/folders/{folder['id']}/close")
    assert closed.json()["state"] == 9
    check_response("postMessage", await shop.post_message(folder["id"], text))
    details = check_response("getCareFolderDetails", await shop.get(f"{FOLDERS}/{folder['id']}"))
    assert details["state"] == 0 and "date_closed" not in details
    sent_log = (await http.get(f"{shop.admin}/sent")).json()["sent"]
    assert [s["folderId"] for s in sent_log] == [folder["id"]] * 2
    check_error(await shop.post_message(10, text), 404)
    url = f"{shop.base}{FOLDERS}/{folder['id']}/msg"
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=xyz"):
        headers = shop.headers({"Content-Type": content_type})
        check_error(await http.post(url, headers=headers, content=b"not a form"), 400)


async def test_token_country_and_user_agent_are_required(serve) -> None:
    http = await served(serve)
    shop = await seller(http, 4)
    url = f"{shop.base}{FOLDERS}"

    async def called(changed: dict[str, str | None]) -> httpx.Response:
        return await http.get(url, headers=shop.headers(changed))

    for agent in ("", "python-httpx/0.28", "BM-KeyBuzz;tech@keybuzz.io", "KeyBuzz-Helpdesk"):
        refused = await called({"User-Agent": agent})
        assert refused.status_code == 403, agent
        assert refused.json()["errors"][0]["code"] == "bot-need-challenge"
    for authorization in (None, shop.token, f"Bearer {shop.token}", "Basic nope"):
        check_error(await called({"Authorization": authorization}), 401)
    for language in (None, "fr", "en-us", "fr_FR"):
        check_error(await called({"Accept-Language": language}), 400)
    assert (await called({"Accept-Language": "de-at"})).status_code == 200
    token = (await http.post(f"{shop.admin}/rotate-token")).json()["token"]
    check_error(await called({}), 401)
    assert (await called({"Authorization": f"Basic {token}"})).status_code == 200
    assert (await http.get(f"{ADMIN}/shops")).json()[3]["token"] == token
    assert USER_AGENT.startswith("BM-")


async def test_limits_per_minute_and_per_day_are_enforced_and_counted(serve) -> None:
    http = await served(serve)
    sandbox = http.sandbox  # type: ignore[attr-defined]
    limits = {"perOperation": {"getCareFolderList": [3, 5]}}
    assert (await http.put(f"{ADMIN}/limits", json=limits)).status_code == 200
    shop, other = await seller(http, 4), await seller(http, 3)
    with sandbox.clock.held():  # windows of the double's clock, moved by the advance only
        day_left = (await http.get(f"{ADMIN}/clock")).json()["dayEndsInSeconds"]
        if day_left < 300:  # the day's 429 below must still be minutes from its end
            await advance(http, day_left + 1)
        await advance(http, 60 - (await http.get(f"{ADMIN}/clock")).json()["epoch"] % 60)
        for _ in range(3):
            assert (await shop.get(FOLDERS)).status_code == 200
        minute = check_error(await shop.get(FOLDERS), 429)
        assert minute["error"]["code"]
        refused = await shop.get(FOLDERS)
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
        assert (await other.get(FOLDERS)).status_code == 200  # per shop
        assert (await shop.get(ORDERS)).status_code == 200  # per endpoint
        inside = (await http.get(f"{ADMIN}/retry-after-violations")).json()
        assert inside["count"] == 1 and inside["calls"][0]["operation"] == "getCareFolderList"
        await advance(http, 60)
        for _ in range(2):
            assert (await shop.get(FOLDERS)).status_code == 200
        daily = await shop.get(FOLDERS)
        assert daily.status_code == 429 and int(daily.headers["Retry-After"]) > 60
        counters = (await http.get(f"{ADMIN}/counters")).json()
        today = counters["day"]
        mine = {
            c["operation"]: c for c in counters["counters"] if c["shop"] == 4 and c["day"] == today
        }
        assert mine["getCareFolderList"] == {
            "shop": 4,
            "operation": "getCareFolderList",
            "day": today,
            "answered": 5,
            "refused": 3,
            "insideRetryAfter": 1,
        }
        left = (await http.get(f"{ADMIN}/clock")).json()["dayEndsInSeconds"]
        await advance(http, left + 1)  # the next day of the double's clock
        assert (await shop.get(FOLDERS)).status_code == 200
        counters = (await http.get(f"{ADMIN}/counters", params={"shop": 4})).json()
        assert counters["day"] == today + 1 and {c["shop"] for c in counters["counters"]} == {4}
        assert {(c["day"], c["answered"]) for c in counters["counters"]} == {
            (today, 5),  # getCareFolderList
            (today, 1),  # get-ws-list-order
            (today + 1, 1),
        }


async def test_back_markets_figures_are_the_defaults(serve) -> None:
    http = await served(serve)
    read = (await http.get(f"{ADMIN}/limits")).json()
    documented = {}
    for item in DESCRIBED.published()["paths"].values():
        for op in item.values():
            words = re.search(r"(\d+) requests per minute and (\d+)", op.get("description", ""))
            if words:
                documented[op["operationId"]] = [int(words[1]), int(words[2])]
    assert read["perOperation"] == documented and len(documented) == 3
    assert read["burstCalls"] == 200 and read["enforced"] is True


async def test_a_burst_above_the_general_limit_blocks_the_shop_for_ten_seconds(serve) -> None:
    http = await served(serve)
    sandbox = http.sandbox  # type: ignore[attr-defined]
    assert (await http.put(f"{ADMIN}/limits", json={"burstCalls": 4})).status_code == 200
    shop = await seller(http, 4)
    with sandbox.clock.held():
        # 7 s into a 10 s window: the block outlasts the window
        await advance(http, 17 - (await http.get(f"{ADMIN}/clock")).json()["epoch"] % 10)
        for path in (ORDERS, FOLDERS, ORDERS, f"{ORDERS}/1"):
            assert (await shop.get(path)).status_code in (200, 404)
        blocked = await shop.get(ORDERS)
        assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "10"
        await advance(http, 4)
        assert (await shop.get(FOLDERS)).status_code == 429  # blocked, whatever the endpoint
        await advance(http, 6)
        assert (await shop.get(FOLDERS)).status_code == 200
        for _ in range(4):  # the next burst, blocked again until the limits are reset
            await shop.get(ORDERS)
        assert (await shop.get(ORDERS)).status_code == 429
        assert (await http.post(f"{ADMIN}/limits/reset")).status_code == 204
        assert (await shop.get(ORDERS)).status_code == 200


async def test_a_day_of_the_double_passes_in_minutes_at_a_time_scale(serve) -> None:
    http = await served(serve, time_scale=288)
    clock = (await http.get(f"{ADMIN}/clock")).json()
    assert clock["scale"] == 288 and clock["dayEndsInRealSeconds"] <= 300
    started = clock["epoch"]
    await asyncio.sleep(0.5)
    assert (await http.get(f"{ADMIN}/clock")).json()["epoch"] - started >= 0.5 * 288


async def test_the_waf_answers_403_on_demand(serve) -> None:
    http = await served(serve)
    shop = await seller(http, 4)
    assert (await http.put(f"{ADMIN}/faults", json={"wafNext": 1})).status_code == 200
    page = await shop.get(FOLDERS)
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "cloudflare" in page.headers["server"] and page.headers["cf-ray"]
    await http.put(f"{ADMIN}/faults", json={"wafNext": 1, "wafKind": "json"})
    challenge = await shop.get(ORDERS)
    assert challenge.status_code == 403
    assert challenge.json()["errors"][0]["code"] == "bot-need-challenge"
    assert (await shop.get(FOLDERS)).status_code == 200
    await http.put(f"{ADMIN}/faults", json={"failNext": 1, "failStatus": 403})
    assert (await shop.get(FOLDERS)).headers["content-type"].startswith("text/html")
    assert (await http.put(f"{ADMIN}/faults", json={"wafKind": "xml"})).status_code == 400


async def test_faults_fail_next_429_malformed_and_slow(serve) -> None:
    http = await served(serve)
    shop = await seller(http, 4)
    faults = f"{ADMIN}/faults"
    set_up = {"failNext": 2, "failStatus": 503, "operations": ["getCareFolderList"]}
    assert (await http.put(faults, json=set_up)).status_code == 200
    assert (await shop.get(ORDERS)).status_code == 200  # not named
    for _ in range(2):
        assert (await shop.get(FOLDERS)).status_code == 503
    assert (await shop.get(FOLDERS)).status_code == 200
    await http.put(faults, json={"failNext": 1, "failStatus": 429, "retryAfterSeconds": 7})
    limited = await shop.get(FOLDERS)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert (await shop.get(FOLDERS)).status_code == 200
    assert (await http.get(f"{ADMIN}/retry-after-violations")).json()["count"] == 1
    for kind, check in (
        ("html", lambda r: r.headers["content-type"].startswith("text/html")),
        ("invalid_json", lambda r: not r.content.rstrip().endswith(b"}")),
    ):
        await http.put(faults, json={"malformedNext": 1, "malformedKind": kind})
        assert check(await shop.get(FOLDERS)), kind
    await http.put(faults, json={"stallSeconds": 1.0, "stallShops": ["4"]})
    started = time.perf_counter()
    assert (await shop.get(FOLDERS)).status_code == 200
    assert time.perf_counter() - started >= 1.0
    assert (await http.delete(faults)).status_code == 204


async def test_the_clock_makes_folders_and_messages_at_the_hourly_rate(serve) -> None:
    http = await served(serve)
    sandbox = http.sandbox  # type: ignore[attr-defined]
    shop = await seller(http, 1)
    default = (await http.get(f"{ADMIN}/activity")).json()["hourlyWeights"]
    assert sum(default[0:6]) * 3 < sum(default[18:24])  # quiet nights, busy evenings
    for off_bounds in ({"multiplier": -1}, {"staffShare": 1.5}, {"newFolderShare": -0.1}):
        assert (await http.put(f"{ADMIN}/activity", json=off_bounds)).status_code == 400
    afternoons = {"hourlyWeights": [0] * 12 + [1] * 12, "multiplier": 2.0}
    assert (await http.put(f"{ADMIN}/activity", json=afternoons)).status_code == 200
    with sandbox.clock.held():
        await advance(http, (await http.get(f"{ADMIN}/clock")).json()["dayEndsInSeconds"] + 1)
        before = {f["id"]: f["date_last_message"] for f in await every_folder(shop)}
        morning = await advance(http, 12 * 3_600 - 2)
        assert morning["played"]["1"] == {"folders": 0, "messages": 0}
        afternoon = (await advance(http, 12 * 3_600))["played"]["1"]
        assert afternoon["folders"] > 10 and afternoon["messages"] > 10
        after = await every_folder(shop)
        new = [f for f in after if f["id"] not in before]
        assert len(new) == afternoon["folders"]
        moved = [
            f for f in after if f["id"] in before and f["date_last_message"] != before[f["id"]]
        ]
        assert moved
        hours = {int(f["date_creation"][11:13]) for f in new}
        assert min(hours) >= 12
    assert (await http.put(f"{ADMIN}/activity", json={"hourlyWeights": [1]})).status_code == 400


async def test_admin_writes_as_the_buyer_and_as_back_market_staff(serve) -> None:
    http = await served(serve)
    shop = await seller(http, 2)
    opened = await http.post(f"{shop.admin}/folders", json={"claim": False})
    assert opened.status_code == 201
    folder_id = opened.json()["folderId"]
    staff = {"initiator": "BackMarket", "message": "Merci de répondre.", "informative": True}
    assert (
        await http.post(f"{shop.admin}/folders/{folder_id}/messages", json=staff)
    ).status_code == 201
    buyer = {"attachments": [{"name": "photo.jpg", "size": 2_000}]}
    assert (
        await http.post(f"{shop.admin}/folders/{folder_id}/messages", json=buyer)
    ).status_code == 201
    details = check_response("getCareFolderDetails", await shop.get(f"{FOLDERS}/{folder_id}"))
    assert details["lines"] == []
    kinds = [(m["initiator"], m["is_informative"]) for m in details["messages"]]
    assert kinds == [("Customer", False), ("BackMarket", True), ("Customer", False)]
    attachment = details["messages"][-1]["attachments"][0]["attachment"]
    assert len((await http.get(attachment)).content) == 2_000
    assert (await http.get(attachment.replace("photo.jpg", "other.jpg"))).status_code == 404
    bad = {"initiator": "Merchant"}
    assert (
        await http.post(f"{shop.admin}/folders/{folder_id}/messages", json=bad)
    ).status_code == 400
