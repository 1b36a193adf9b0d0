"""Cdiscount double: the API's rate limit and injected faults (429 with and without
Retry-After, server errors, malformed bodies, latency), over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest
from cdiscount_helpers import ADMIN, DEMO, MAISON, Octopia, seller, shops
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.fixtures import byte_arrivals, trickled_at_pace

pytestmark = pytest.mark.asyncio

FAULTS = f"{ADMIN}/faults"


async def test_the_api_rate_limit_answers_429_with_retry_after(serve) -> None:
    # 5 calls a second per seller, bursts of 25, on a clock a hundred times slower: sixty at
    # once are well past the burst however slowly a busy machine sends them (at time scale 1
    # the bucket refills in seven seconds, which a loaded machine's calls may take).
    http = await serve(SandboxConfig(time_scale=0.01))
    octopia = await seller(http)
    answers = await asyncio.gather(*(octopia.get("/typologies") for _ in range(60)))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) >= 25 and set(statuses) == {200, 429}, statuses
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    other = await seller(http, MAISON)  # per seller
    assert (await other.get("/typologies")).status_code == 200
    assert (await http.post(f"{ADMIN}/ratelimits/reset")).status_code == 204
    assert (await octopia.get("/typologies")).status_code == 200


@pytest.mark.parametrize(("retry_after", "header"), [(0, None), (7, "7")])
async def test_an_injected_429_with_or_without_retry_after(serve, retry_after: int, header) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    octopia = await seller(http)
    faults = {"failNext": 1, "failStatus": 429, "retryAfterSeconds": retry_after}
    assert (await http.put(FAULTS, json=faults)).status_code == 200
    limited = await octopia.get("/discussions")
    assert limited.status_code == 429 and limited.headers.get("Retry-After") == header
    assert (await octopia.get("/discussions")).status_code == 200


@pytest.mark.parametrize("status", [500, 503])
async def test_fail_next_on_named_operations_then_recovers(serve, status: int) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    octopia = await seller(http)
    faults = {"failNext": 2, "failStatus": status, "operations": ["getOrders"]}
    assert (await http.put(FAULTS, json=faults)).status_code == 200
    assert (await octopia.get("/discussions")).status_code == 200  # not named
    for _ in range(2):
        failed = await octopia.get("/orders")
        assert failed.status_code == status and failed.headers["content-type"].startswith(
            "text/html"
        )
    assert (await octopia.get("/orders")).status_code == 200
    assert (await http.get(FAULTS)).json()["failNext"] == 0


async def test_the_token_endpoint_fails_only_when_named(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    octopia = Octopia(http, (await shops(http))[DEMO])
    assert (await http.put(FAULTS, json={"errorRate": 1.0})).status_code == 200
    assert (await octopia.request_token()).status_code == 200
    assert (
        await http.put(FAULTS, json={"failNext": 1, "operations": ["token"]})
    ).status_code == 200
    assert (await octopia.request_token()).status_code == 503
    assert (await octopia.request_token()).status_code == 200


@pytest.mark.parametrize("kind", ["invalid_json", "schema"])
async def test_malformed_bodies_on_demand(serve, kind: str) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    octopia = await seller(http)
    assert (
        await http.put(FAULTS, json={"malformedNext": 1, "malformedKind": kind})
    ).status_code == 200
    broken = await octopia.get("/discussions")
    assert broken.status_code == 200
    if kind == "invalid_json":
        with pytest.raises(ValueError):
            broken.json()
    else:
        assert all(not isinstance(d["discussionId"], str) for d in broken.json()["items"])
    assert isinstance((await octopia.ok("/discussions"))["items"][0]["discussionId"], str)


async def test_a_proxy_page_or_a_padded_answer_on_demand(serve) -> None:
    """``html``: a web page with status 200; ``huge``: the same JSON padded with whitespace
    to ``hugeBytes``, its length declared; a size below one byte refused."""
    http = await serve(SandboxConfig(time_scale=60))
    octopia = await seller(http)
    assert (await http.put(FAULTS, json={"hugeBytes": 0})).status_code == 400
    page = {"malformedNext": 1, "malformedKind": "html"}
    assert (await http.put(FAULTS, json=page)).status_code == 200
    proxied = await octopia.get("/discussions")
    assert proxied.status_code == 200
    assert proxied.headers["content-type"].startswith("text/html")
    huge = {"malformedNext": 1, "malformedKind": "huge", "hugeBytes": 300_000}
    assert (await http.put(FAULTS, json=huge)).status_code == 200
    padded = await octopia.get("/discussions")
    assert padded.headers["content-length"] == "300000" and len(padded.content) == 300_000
    assert padded.json()["items"] == (await octopia.ok("/discussions"))["items"]


async def test_latency_and_clearing_the_faults(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    octopia = await seller(http)
    assert (await http.put(FAULTS, json={"latencyMs": 400})).status_code == 200
    started = time.perf_counter()
    assert (await octopia.get("/typologies")).status_code == 200
    assert time.perf_counter() - started >= 0.4
    # A minute's latency, cleared: left in place, the call would outlast the client's 30 s
    # timeout, however fast or slow this machine answers.
    assert (await http.put(FAULTS, json={"latencyMs": 60_000})).status_code == 200
    assert (await http.delete(FAULTS)).status_code == 204
    assert (await octopia.get("/typologies")).status_code == 200


@pytest.mark.parametrize(
    "faults",
    [
        {"errorRate": 2},
        {"failStatus": 418},
        {"retryAfterSeconds": -1},
        {"malformedKind": "xml"},
        {"nope": 1},
    ],
)
async def test_bad_fault_settings_are_refused(serve, faults) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    assert (await http.put(FAULTS, json=faults)).status_code == 400
    assert (await http.get(FAULTS)).json()["failNext"] == 0


async def test_a_stalled_seller_answers_late_and_the_others_at_once(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    stalled, other = await seller(http), await seller(http, MAISON)
    for octopia in (stalled, other):  # their books made: the calls below cost nothing
        assert (await octopia.get("/discussions")).status_code == 200
    # Stalled for a minute: the other seller is answered while the stalled call still waits,
    # whatever this machine's speed.
    faults = {"stallSeconds": 60, "stallShops": [stalled.shop["sellerId"]]}
    assert (await http.put(FAULTS, json=faults)).status_code == 200
    waiting = asyncio.create_task(stalled.get("/discussions"))
    assert (await other.get("/discussions")).status_code == 200
    assert not waiting.done()
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    faults = {"stallSeconds": 0.6, "stallShops": [stalled.shop["sellerId"]]}
    assert (await http.put(FAULTS, json=faults)).status_code == 200
    started = time.perf_counter()
    late = await stalled.get("/discussions")
    assert time.perf_counter() - started >= 0.6
    assert late.status_code == 200 and "items" in late.json()  # late, then whole


async def test_a_trickling_seller_gets_its_answer_one_byte_at_a_time(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    octopia = await seller(http)
    faults = {"trickleSeconds": 0.2, "trickleShops": [octopia.shop["sellerId"]]}
    assert (await http.put(FAULTS, json=faults)).status_code == 200
    path = "/octopia/seller/v2/discussions"
    sent_at = time.perf_counter()
    async with http.stream("GET", path, headers=octopia.headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        arrivals = await byte_arrivals(response, sent_at)
    assert trickled_at_pace(arrivals, 0.2)  # each byte a pause after the one before


async def test_a_held_seller_is_answered_late_though_its_request_is_done(serve) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    octopia = await seller(http)
    [discussion] = (await octopia.ok("/discussions", pageSize=1))["items"]
    discussion_path = f"/discussions/{discussion['discussionId']}"
    message = (await octopia.ok(discussion_path))["messages"][0]
    faults = {"holdSeconds": 1.0, "holdShops": [octopia.shop["sellerId"]]}
    assert (await http.put(FAULTS, json=faults)).status_code == 200
    path = f"/octopia/seller/v2/messages/{message['messageId']}"
    operations = [{"op": "replace", "path": "/hasRead", "value": not message["hasRead"]}]
    headers = {**octopia.headers, "Content-Type": "application/json-patch+json"}
    with pytest.raises(httpx.ReadTimeout):
        await http.patch(path, json=operations, headers=headers, timeout=0.3)
    assert (await http.delete(FAULTS)).status_code == 204
    done = (await octopia.ok(discussion_path))["messages"][0]
    assert done["hasRead"] is not message["hasRead"]


@pytest.mark.parametrize("faults", [{"stallSeconds": -1}, {"holdSeconds": 3601}])
async def test_slow_seller_settings_are_checked(serve, faults) -> None:
    http = await serve(SandboxConfig(time_scale=60))
    assert (await http.put(FAULTS, json=faults)).status_code == 400
