"""The double's extra sellers (``SANDBOX_MANOMANO_EXTRA_SHOPS``) beside its seeded ones,
each answering its own key, and its per-key call limit; the double in-process, no services."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from keybuzz_double_manomano import ManoManoDoubleSettings
from keybuzz_double_manomano.routes import API_LIMIT
from keybuzz_sandbox import SandboxConfig


async def listing(http: httpx.AsyncClient, seller: dict[str, Any], **query: str) -> httpx.Response:
    return await http.get(
        "/manomano/orders/v1/orders",
        params={"seller_contract_id": str(seller["contract"]), **query},
        headers={"x-api-key": seller["apiKey"]},
    )


async def test_extra_sellers_are_listed_beside_the_seeded_ones_each_with_its_orders(
    serve: Any,
) -> None:
    http: httpx.AsyncClient = await serve(
        SandboxConfig(doubles=(ManoManoDoubleSettings(extra_shops=3),))
    )
    sellers = (await http.get("/_sandbox/manomano/sellers")).json()
    assert [s["contract"] for s in sellers] == [1001, 1002, 1003, 50001, 50002, 50003]
    assert len({s["apiKey"] for s in sellers}) == 6
    extra = sellers[-1]
    answer = await listing(http, extra, limit="50")
    assert answer.status_code == 200, answer.text
    orders = answer.json()["content"]
    assert len(orders) == extra["orders"] == 16
    references = {o["order_reference"] for o in orders}
    assert all(len(r) == 13 and r.startswith("M50003") for r in references)
    assert (await listing(http, {**extra, "contract": 50002})).status_code == 403
    read = SandboxConfig.from_env({"SANDBOX_MANOMANO_EXTRA_SHOPS": "3"})
    assert read.of(ManoManoDoubleSettings).extra_shops == 3


async def test_a_key_beyond_its_burst_is_answered_429_and_another_key_is_not(serve: Any) -> None:
    # 2 calls a second, bursts of 10, on a clock a hundred times slower: thirty calls are past
    # the burst however slowly a busy machine sends them (at time scale 1 the bucket refills
    # in ten seconds, which a loaded machine's calls may take).
    http: httpx.AsyncClient = await serve(SandboxConfig(time_scale=0.01))
    sellers = (await http.get("/_sandbox/manomano/sellers")).json()
    calls = API_LIMIT.burst * 3
    answers = await asyncio.gather(*(listing(http, sellers[0], limit="1") for _ in range(calls)))
    refused = [a for a in answers if a.status_code == 429]
    assert refused and int(refused[0].headers["Retry-After"]) >= 1
    assert (await listing(http, sellers[1], limit="1")).status_code == 200
    await http.post("/_sandbox/manomano/ratelimits/reset")
    assert (await listing(http, sellers[0], limit="1")).status_code == 200


async def test_the_relays_admin_refuses_a_body_it_cannot_read_with_a_400(serve: Any) -> None:
    http: httpx.AsyncClient = await serve()
    relay = "/_sandbox/manomano"
    for path, body in [
        ("/bounce-target", {"host": "127.0.0.1"}),
        ("/bounce-target", {"host": "127.0.0.1", "port": "nope"}),
        ("/bounce-target", {"host": "", "port": 70000}),
    ]:
        answer = await http.put(relay + path, json=body)
        assert answer.status_code == 400, (body, answer.text)
    assert (await http.post(relay + "/unreachable", json={})).status_code == 400
    target = await http.put(relay + "/bounce-target", json={"host": "127.0.0.1", "port": 2526})
    assert target.json() == {"host": "127.0.0.1", "port": 2526}
    assert (await http.post(relay + "/unreachable", json={"alias": "Ab"})).json() == {
        "unreachable": ["ab"]
    }
