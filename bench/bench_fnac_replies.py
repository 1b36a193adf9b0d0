"""Replies on Fnac and Darty tickets: from ``POST /api/v1/tickets/{id}/replies`` (202) to the
reply on the buyer's thread in the sandbox's Fnac double (``GET /_sandbox/fnac/shops/{shop_id}/sent``),
p50/p99/max over ``BENCH_FNAC_REPLIES`` replies (default 200) on three shops (KeyBuzz
Librairie Fnac, Démo Darty, Démo Fnac: half, three tenths and a fifth of them), one ticket
each. Baseline of the same run: the same number of raw ``messages_update`` replies
(``FnacClient``) on the same shops' same messages, from the call to the reply seen in
``/sent`` the same way.

The poller runs in this process (``run_in_process``, its reply sender on, polling off: the
bench polls each shop once to make the tickets), with the double and the load. The double
throttles each shop at 2 requests/s, bursts of 20, and a reply is one ``messages_update``:
replies are posted at ``BENCH_FNAC_REPLY_RATE`` per shop and second (default 1, half the
limit), each shop's in turn, so the limit itself queues none. Seen: a task per shop reads
``/sent`` every 50 ms.

Run by hand: ``.venv/bin/python -m bench bench_fnac_replies`` (~3 minutes).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from keybuzz_connector_fnac.client import FnacClient, FnacCredentials
from keybuzz_connector_fnac.models import MessageUpdate, Order, OrdersQuery
from keybuzz_devstack import infra
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_devstack.testing import RunningService
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.shops.domain import Shop
from keybuzz_sandbox.testing import running_sandbox
from keybuzz_shared.auth import issue_token
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.events import ConnectionConnected, encode_event, event_headers
from keybuzz_shared.vault import VaultClient

from bench.bench_poller import _poller
from bench.harness import BenchContext, Figure

REPLIES = int(os.environ.get("BENCH_FNAC_REPLIES", "200"))
RATE = float(os.environ.get("BENCH_FNAC_REPLY_RATE", "1"))  # per shop and second
SHARES = {"KeyBuzz Librairie Fnac": 0.5, "KeyBuzz Démo Darty": 0.3, "KeyBuzz Démo Fnac": 0.2}
WATCH_EVERY = 0.05


class _Shop:
    def __init__(self, spec: dict[str, Any], count: int) -> None:
        self.spec = spec
        self.count = count
        self.tenant_id = f"t{uuid.uuid4().hex[:10]}"
        self.shop = Shop(self.tenant_id, spec["marketplace"])
        self.tickets: list[tuple[str, str]] = []  # (ticket id, the buyer's message id)


async def _connect(poller: RunningService, vault: VaultClient, shop: _Shop) -> None:
    spec = shop.spec
    fields = {f: spec[f] for f in ("partner_id", "shop_id", "key")}
    await vault.write(connector_for(spec["marketplace"]).credentials_path(shop.tenant_id), fields)
    event = ConnectionConnected(
        tenant_id=shop.tenant_id,
        marketplace=spec["marketplace"],
        connection_id=str(uuid.uuid4()),
        seller_id=spec["shop_id"],
        marketplace_ids=[],
        region="eu",
    )
    await poller.runtime.js.publish(event.type, encode_event(event), headers=event_headers(event))
    query = "SELECT true FROM poller_shops WHERE poll_key = $1 AND connection = 'CONNECTED'"
    while not await poller.runtime.pool.fetchval(query, shop.shop.key):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _client(http: httpx.AsyncClient, base: str, spec: dict[str, Any]) -> FnacClient:
    return FnacClient(http, base, FnacCredentials(spec["partner_id"], spec["shop_id"], spec["key"]))


def _headers(poller: RunningService, tenant_id: str) -> dict[str, str]:
    token = issue_token(poller.runtime.settings.jwt_secret, "agent-1", tenants=[tenant_id])
    return {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant_id}


async def _tickets(
    poller: RunningService, admin: httpx.AsyncClient, fnac: FnacClient, shop: _Shop
) -> None:
    """A buyer's new message on each of ``shop.count`` orders, polled into tickets."""
    orders = await fnac.listed(OrdersQuery(results_count=100))
    order_ids = [o.decode(Order).order_id for o in orders.items][: shop.count]
    written = []
    for order_id in order_ids:
        body = {"orderId": order_id, "description": f"Où est ma commande {order_id} ?"}
        response = await admin.post(f"/shops/{shop.spec['shop_id']}/messages", json=body)
        response.raise_for_status()
        written.append(response.json())
    await poller.runtime.component(ShopScheduler).poll_now(shop.shop.key)
    async with poller.client() as api:
        for message in written:
            page = await api.get(
                "/api/v1/tickets/",
                params={"marketplace": shop.spec["marketplace"], "orderId": message["orderId"]},
                headers=_headers(poller, shop.tenant_id),
            )
            [ticket] = page.json()["items"]
            shop.tickets.append((ticket["id"], message["messageId"]))


async def _watch(
    admin: httpx.AsyncClient, shop_id: str, seen: dict[str, float], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        sent = (await admin.get(f"/shops/{shop_id}/sent")).json()["sent"]
        now = time.perf_counter()
        for s in sent:
            seen.setdefault(s["description"], now)
        await asyncio.sleep(WATCH_EVERY)


async def _paced(
    admin: httpx.AsyncClient,
    shops: list[_Shop],
    send: Callable[[_Shop, str, str, str], Coroutine[Any, Any, None]],
    label: str,
) -> list[float]:
    """Each shop's replies at RATE a second, shops side by side; seconds until each is seen."""
    seen: dict[str, float] = {}
    started: dict[str, float] = {}
    stop = asyncio.Event()
    watchers = [asyncio.create_task(_watch(admin, s.spec["shop_id"], seen, stop)) for s in shops]

    async def one_shop(shop: _Shop) -> None:
        tasks: list[asyncio.Task[None]] = []
        for n, (ticket_id, message_id) in enumerate(shop.tickets):
            text = f"{label} {n} {uuid.uuid4().hex[:8]} : expédiée ce matin."
            started[text] = time.perf_counter()
            tasks.append(asyncio.create_task(send(shop, ticket_id, message_id, text)))
            await asyncio.sleep(1 / RATE)
        await asyncio.gather(*tasks)

    await asyncio.gather(*(one_shop(s) for s in shops))
    deadline = time.perf_counter() + 60
    while len(set(started) & set(seen)) < len(started) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*watchers)
    missing = set(started) - set(seen)
    assert not missing, f"{len(missing)} {label} replies never reached the double"
    return [seen[t] - started[t] for t in started]


def _quantiles(latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50": cuts[49], "p99": cuts[98], "max": max(latencies)}


async def run(ctx: BenchContext) -> list[Figure]:
    database = await ctx.make_database("fnacreplies")
    async with running_sandbox() as url, httpx.AsyncClient(timeout=30) as http:
        admin = httpx.AsyncClient(base_url=f"{url}/_sandbox/fnac", timeout=30)
        base = f"{url}/fnac/api.php/"
        mail = {"IMAP_PORT": str(infra.free_port())}  # no mailbox: Fnac's replies are no mail
        poller = await _poller(ctx, database, mail, poll=False, FNAC_API_URL=base)
        vault = VaultClient(ctx.vault_addr, token=DEV_VAULT_ROOT_TOKEN)
        try:
            specs = {s["name"]: s for s in (await admin.get("/shops")).json()}
            shops = [_Shop(specs[name], round(REPLIES * share)) for name, share in SHARES.items()]
            clients = {s.spec["shop_id"]: _client(http, base, s.spec) for s in shops}
            for shop in shops:
                await _connect(poller, vault, shop)
                await _tickets(poller, admin, clients[shop.spec["shop_id"]], shop)
            await admin.post("/ratelimits/reset")

            async def ours(shop: _Shop, ticket_id: str, message_id: str, text: str) -> None:
                async with poller.client() as api:
                    response = await api.post(
                        f"/api/v1/tickets/{ticket_id}/replies",
                        json={"text": text},
                        headers=_headers(poller, shop.tenant_id),
                    )
                assert response.status_code == 202, response.text

            async def raw(shop: _Shop, ticket_id: str, message_id: str, text: str) -> None:
                update = MessageUpdate(
                    message_id=message_id,
                    action="reply",
                    to="CLIENT",
                    subject="order_information",
                    text=text,
                    message_type="ORDER",
                )
                [result] = await clients[shop.spec["shop_id"]].messages_update([update])
                assert result.status == "OK", result

            load = os.getloadavg()
            cpu = time.process_time()
            mine = _quantiles(await _paced(admin, shops, ours, "poller"))
            cpu_mine = time.process_time() - cpu
            await admin.post("/ratelimits/reset")
            cpu = time.process_time()
            baseline = _quantiles(await _paced(admin, shops, raw, "raw"))
            cpu_raw = time.process_time() - cpu
        finally:
            await vault.aclose()
            await admin.aclose()
            await poller.stop()
    count = sum(len(s.tickets) for s in shops)
    note = (
        f"{count} replies on {len(shops)} shops at {RATE:g}/s per shop; load average "
        f"{load[0]:.1f} at the start"
    )
    return [
        {
            "name": f"POST → on the double's thread {q}",
            "value": mine[q] * 1000,
            "unit": "ms",
            "baseline": baseline[q] * 1000,
            "note": f"{note}; process CPU {cpu_mine:.1f} s (raw: {cpu_raw:.1f} s)"
            if q == "p99"
            else "",
        }
        for q in ("p50", "p99", "max")
    ]
