"""Fnac double: refused requests, the rate limit and injected faults, over HTTP."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fnac_helpers import Fnac, element, errors_of, find, shops, text
from keybuzz_devstack.testing import until_the_limit
from keybuzz_double_fnac.schema import XmlRefused, parse, schema_errors
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.config import SHUTDOWN_GRACE_SECONDS
from keybuzz_sandbox.fixtures import ServedFactory, byte_arrivals, trickled_at_pace
from keybuzz_sandbox.testing import running_sandbox
from lxml import etree

pytestmark = pytest.mark.asyncio

FAULTS = "/_sandbox/fnac/faults"
HELD_MS = 60_000  # a fault that holds an answer for a minute


async def _shop(http) -> Fnac:
    fnac = Fnac(http, (await shops(http))["KeyBuzz Démo Fnac"])
    await fnac.authenticate()
    return fnac


async def _raw(http, service: str, body: bytes):
    return await http.post(f"/fnac/api.php/{service}", content=body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<messages_query xmlns='http://www.fnac.com/schemas/mp-dialog.xsd'>",  # truncated
        b"<messages_query xmlns='http://www.fnac.com/schemas/mp-dialog.xsd' partner_id='x'/>",
        b"<orders_query xmlns='urn:other'/>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<messages_query xmlns='http://www.fnac.com/schemas/mp-dialog.xsd'>&e;</messages_query>",
    ],
    ids=["empty", "not-xml", "truncated", "off-schema", "other-namespace", "external-entity"],
)
async def test_bad_requests_get_err_003(fnac_http, body: bytes) -> None:
    response = await _raw(fnac_http, "messages_query", body)
    assert response.status_code == 200
    root = parse(response.content)
    assert schema_errors(root) == []
    assert root.get("status") == "FATAL" and errors_of(root) == ["ERR_003"]
    assert b"root:" not in response.content  # nothing of /etc/passwd


async def test_a_request_posted_to_another_service_is_refused(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    body = fnac.request("orders_query")
    response = await _raw(fnac_http, "messages_query", etree.tostring(body))
    assert errors_of(parse(response.content)) == ["ERR_003"]
    assert (await _raw(fnac_http, "offers_query", b"<x/>")).status_code == 404


async def test_the_rate_limit_answers_429_with_retry_after(serve) -> None:
    # Fnac's 2 requests a second, bursts of 20, on a clock a hundred times slower: the burst
    # is spent whatever the machine's pace (at time scale 1 a loaded machine sending thirty
    # requests in more than five seconds never met the limit).
    http = await serve(SandboxConfig(time_scale=0.01))
    fnac = await _shop(http)
    statuses = []
    for _ in range(30):
        response, root = await fnac.send("orders_query", fnac.request("orders_query"))
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
            assert errors_of(root) == ["ERR_004"]  # and the body validates (send() checks)
    assert statuses[:19] == [200] * 19 and 429 in statuses
    assert (await http.post("/_sandbox/fnac/ratelimits/reset")).status_code == 204
    response, _ = await fnac.send("orders_query", fnac.request("orders_query"))
    assert response.status_code == 200


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_fail_next_gives_server_errors_then_recovers(fnac_http, status: int) -> None:
    fnac = await _shop(fnac_http)
    armed = await fnac_http.put(
        FAULTS, json={"failNext": 2, "failStatus": status, "operations": ["messages_query"]}
    )
    assert armed.status_code == 200
    other = await fnac.call("orders_query")
    assert other.get("status") == "OK"  # not a targeted service
    failed = [await fnac.send("messages_query", fnac.request("messages_query")) for _ in range(2)]
    assert [r.status_code for r, _ in failed] == [status, status]
    assert failed[0][0].headers["content-type"].startswith("text/html")
    assert (await fnac.call("messages_query")).get("status") == "OK"
    assert (await fnac_http.get(FAULTS)).json()["failNext"] == 0


async def test_injected_429_and_auth_only_when_named(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    await fnac_http.put(FAULTS, json={"failNext": 1, "failStatus": 429})
    assert (await fnac.authenticate()).get("status") == "OK"  # auth: only when named
    throttled, root = await fnac.send("orders_query", fnac.request("orders_query"))
    assert throttled.status_code == 429 and throttled.headers["Retry-After"]
    assert errors_of(root) == ["ERR_004"]
    await fnac_http.put(FAULTS, json={"failNext": 1, "operations": ["auth"]})
    response, _ = await fnac.send("auth", fnac.auth_request())
    assert response.status_code == 503


async def test_error_rate_and_latency(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    await fnac_http.put(FAULTS, json={"errorRate": 0.5, "errorStatuses": [503]})
    codes = [
        (await fnac.send("orders_query", fnac.request("orders_query")))[0].status_code
        for _ in range(16)
    ]
    assert set(codes) == {200, 503}
    await fnac_http.put(FAULTS, json={"latencyMs": 400})
    started = time.perf_counter()
    await fnac.call("orders_query")
    assert time.perf_counter() - started >= 0.4
    assert (await fnac_http.delete(FAULTS)).status_code == 204


@pytest.mark.parametrize("kind", ["truncated", "schema", "entities", "empty"])
async def test_malformed_responses(fnac_http, kind: str) -> None:
    fnac = await _shop(fnac_http)
    await fnac_http.put(FAULTS, json={"malformedNext": 1, "malformedKind": kind})
    broken = await fnac_http.post(
        "/fnac/api.php/messages_query",
        content=etree.tostring(fnac.request("messages_query")),
    )
    assert broken.status_code == 200
    if kind == "schema":
        assert schema_errors(parse(broken.content))  # well-formed, off the schema
    else:
        with pytest.raises(XmlRefused):
            parse(broken.content)
    assert (await fnac.call("messages_query")).get("status") == "OK"  # the next one is whole


async def test_bad_fault_settings_are_refused(serve: ServedFactory) -> None:
    both = SandboxConfig(serving=("fnac", "amazon"))
    fnac_http = await serve(both)
    for body in (
        {"errorRate": 2},
        {"failStatus": 418},
        {"errorStatuses": [403]},
        {"malformedKind": "invalid_json"},
        {"bogus": 1},
    ):
        assert (await fnac_http.put(FAULTS, json=body)).status_code == 400
    # The Amazon double's faults are its own.
    await fnac_http.put(FAULTS, json={"failNext": 3})
    assert (await fnac_http.get("/_sandbox/faults")).json()["failNext"] == 0


async def test_a_stalled_shop_answers_late_and_the_others_at_once(fnac_http) -> None:
    listed = await shops(fnac_http)
    stalled = Fnac(fnac_http, listed["KeyBuzz Démo Fnac"])
    other = Fnac(fnac_http, listed["KeyBuzz Démo Darty"])
    for fnac in (stalled, other):
        await fnac.authenticate()
    stall = 3.0
    faults = {"stallSeconds": stall, "stallShops": [stalled.shop["shop_id"].lower()]}
    assert (await fnac_http.put(FAULTS, json=faults)).status_code == 200
    # The other shop is answered while the stalled one still waits (an order, not a window
    # of wall-clock time that a busy machine stretches); the stalled one no sooner than
    # its stall, then whole.
    started = time.perf_counter()
    late = asyncio.create_task(stalled.send("orders_query", stalled.request("orders_query")))
    await other.call("orders_query")
    assert not late.done()
    response, root = await late
    assert time.perf_counter() - started >= stall
    assert response.status_code == 200 and root.get("status") == "OK"  # late, then whole


async def test_a_trickling_shop_sends_its_answer_one_byte_at_a_time(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    faults = {"trickleSeconds": 0.2, "trickleShops": [fnac.shop["shop_id"]]}
    assert (await fnac_http.put(FAULTS, json=faults)).status_code == 200
    body = etree.tostring(fnac.request("orders_query"))
    sent_at = time.perf_counter()
    async with fnac_http.stream("POST", "/fnac/api.php/orders_query", content=body) as response:
        assert response.status_code == 200
        arrivals = await byte_arrivals(response, sent_at)
    assert trickled_at_pace(arrivals, 0.2)  # each byte a pause after the one before


@pytest.mark.parametrize(
    "faults",
    [{"stallSeconds": -1}, {"trickleSeconds": 7200}, {"holdSeconds": -1}, {"stallShop": ["x"]}],
)
async def test_slow_answer_settings_are_checked(fnac_http, faults) -> None:
    assert (await fnac_http.put(FAULTS, json=faults)).status_code == 400


async def test_refused_requests_on_demand_carry_each_code_and_do_nothing(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    faults = {
        "operations": ["messages_query"],
        "refuseNext": 1,
        "refuseCodes": ["ERR_203", "ERR_201"],
    }
    assert (await fnac_http.put(FAULTS, json=faults)).status_code == 200
    try:
        refused = await fnac.call("messages_query")
        assert refused.get("status") == "ERROR" and errors_of(refused) == ["ERR_203", "ERR_201"]
        assert schema_errors(refused) == []
        assert (await fnac.call("messages_query")).get("status") == "OK"  # only the next one
        for bad in ({"refuseNext": 1, "refuseCodes": ["oops"]}, {"refuseCodes": []}):
            assert (await fnac_http.put(FAULTS, json=bad)).status_code == 400, bad
    finally:
        await fnac_http.delete(FAULTS)


async def test_a_held_shop_is_answered_late_though_its_request_is_done(fnac_http) -> None:
    """``holdShops``: the request handled at once, its answer held (a caller that gives up
    first does not know it was done)."""
    fnac = await _shop(fnac_http)
    listed = find(await fnac.call("messages_query"), "message")
    target = next(text(m, "message_id") for m in listed if m.get("state") == "UNREAD")
    faults = {"holdSeconds": 1.0, "holdShops": [fnac.shop["shop_id"]]}
    assert (await fnac_http.put(FAULTS, json=faults)).status_code == 200
    marked = fnac.request(
        "messages_update", element("message", None, action="mark_as_read", id=target)
    )
    with pytest.raises(httpx.ReadTimeout):
        await fnac_http.post(
            "/fnac/api.php/messages_update", content=etree.tostring(marked), timeout=0.3
        )
    assert (await fnac_http.delete(FAULTS)).status_code == 204
    read = await fnac.call("messages_query", element("message_id", target))
    assert find(read, "message")[0].get("state") == "READ"


async def test_a_huge_answer_is_streamed_past_any_client_cap(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    await fnac_http.put(FAULTS, json={"malformedNext": 1, "malformedKind": "huge"})
    body = etree.tostring(fnac.request("messages_query"))
    read = 0
    async with fnac_http.stream("POST", "/fnac/api.php/messages_query", content=body) as response:
        assert response.status_code == 200 and "content-length" not in response.headers
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read > 20 * 1024 * 1024:  # past the client's 16 MiB cap: enough
                break
    assert read > 20 * 1024 * 1024
    assert (await fnac.call("messages_query")).get("status") == "OK"  # the next one is whole


async def test_an_html_page_answers_with_200(fnac_http) -> None:
    fnac = await _shop(fnac_http)
    await fnac_http.put(FAULTS, json={"malformedNext": 1, "malformedKind": "html"})
    page = await fnac_http.post(
        "/fnac/api.php/messages_query", content=etree.tostring(fnac.request("messages_query"))
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    with pytest.raises(XmlRefused):
        parse(page.content)


async def test_a_stalled_answer_never_holds_the_doubles_stop() -> None:
    """A fault that holds a request for a minute: the double asked to stop cuts it within
    its grace, as the test session's sandbox process is stopped at the end of a run."""
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=70) as http:
        async with asyncio.timeout(until_the_limit()):  # a hang's bound
            async with running_sandbox() as url:
                armed = await http.put(f"{url}{FAULTS}", json={"latencyMs": HELD_MS})
                assert armed.status_code == 200
                held = asyncio.create_task(
                    http.post(f"{url}/fnac/api.php/messages_query", content=b"<x/>")
                )
                await asyncio.sleep(0.5)  # the request is in, held by the fault
                assert not held.done()
                stopping = loop.time()
        # Stopped long before the held minute ends (its grace, and what a busy machine adds
        # to it), and the request cut while in flight: uvicorn's 500, never the held answer.
        stopped_in = loop.time() - stopping
        assert stopped_in < HELD_MS / 1000 / 2, (
            f"{stopped_in:.1f} s (grace {SHUTDOWN_GRACE_SECONDS} s)"
        )
        assert (await held).status_code == 500
