"""Cdiscount's two message aims on the Octopia double: a buyer's new message visible as a
ticket's message p99 ≤ the poll interval + 1 s, and a reply on the double's discussion
p99 ≤ 2 s.

``BENCH_CDISCOUNT_SHOPS`` small shops (default 20, the double's extra shops) are
connected to a poller running in this process with polling on every
``BENCH_CDISCOUNT_INTERVAL`` seconds (default 10). For ``BENCH_CDISCOUNT_SECONDS``
(default 60) buyers open discussions at ``BENCH_CDISCOUNT_MESSAGES_PER_SECOND`` (default
2) on shops drawn in turn: each message's latency is from the double's ``201`` to its row
in the poller's database (committed: what the ticket view reads). Baseline of the same run:
a raw poll loop per shop, ``GET discussions`` pages through ``OctopiaClient`` every
interval, no storage, started at the same phases — what polling at that interval costs
whatever the poller does.

The writing starts two intervals after the shops are connected: a shop's first scheduled
poll comes two intervals after the poll of its connection (the poller's scheduler), and
the figures are of shops in their steady rhythm.

Then ``BENCH_CDISCOUNT_REPLIES`` replies (default 60, to the buyer) on those tickets,
posted at one a second per shop in turn: from ``POST /api/v1/tickets/{id}/replies`` (202) to
the reply seen in the double's ``/sent`` (read every 50 ms). Baseline: the same number of
raw ``POST messages`` through ``OctopiaClient`` on the same discussions. The double allows
each seller 5 calls a second (bursts of 25); a reply costs two (the discussion read, the
post), a poll one.

Run by hand: ``.venv/bin/python -m bench bench_cdiscount_messages`` (~3 minutes).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from keybuzz_connector_cdiscount.connector import OctopiaClient, OctopiaCredentials
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_devstack.testing import RunningService
from keybuzz_double_cdiscount import CdiscountDoubleSettings, service_env
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.shops.domain import Shop
from keybuzz_sandbox.config import SandboxConfig
from keybuzz_sandbox.testing import running_sandbox
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.events import ConnectionConnected, encode_event, event_headers
from keybuzz_shared.vault import VaultClient

from bench.bench_fnac_replies import _headers, _quantiles
from bench.bench_poller import _poller
from bench.harness import BenchContext, Figure

SHOPS = int(os.environ.get("BENCH_CDISCOUNT_SHOPS", "20"))
INTERVAL = float(os.environ.get("BENCH_CDISCOUNT_INTERVAL", "10"))
SECONDS = float(os.environ.get("BENCH_CDISCOUNT_SECONDS", "60"))
WRITE_RATE = float(os.environ.get("BENCH_CDISCOUNT_MESSAGES_PER_SECOND", "2"))
REPLIES = int(os.environ.get("BENCH_CDISCOUNT_REPLIES", "60"))
WATCH_EVERY = 0.05
MARKETPLACE = "CDISCOUNT"
TOKEN_PATH = "/octopia/auth/realms/maas/protocol/openid-connect/token"


class _Shop:
    def __init__(self, spec: dict[str, Any], client: OctopiaClient) -> None:
        self.spec = spec
        self.client = client
        self.tenant_id = f"t{uuid.uuid4().hex[:10]}"
        self.shop = Shop(self.tenant_id, MARKETPLACE)
        self.discussions: list[str] = []  # opened by the bench


async def _connect(poller: RunningService, vault: VaultClient, shop: _Shop) -> None:
    spec = shop.spec
    fields = {
        "client_id": spec["clientId"],
        "client_secret": spec["clientSecret"],
        "seller_id": spec["sellerId"],
    }
    await vault.write(connector_for(MARKETPLACE).credentials_path(shop.tenant_id), fields)
    event = ConnectionConnected(
        tenant_id=shop.tenant_id,
        marketplace=MARKETPLACE,
        connection_id=str(uuid.uuid4()),
        seller_id=spec["sellerId"],
        marketplace_ids=[],
        region="eu",
    )
    await poller.runtime.js.publish(event.type, encode_event(event), headers=event_headers(event))
    query = "SELECT true FROM poller_shops WHERE poll_key = $1 AND connection = 'CONNECTED'"
    while not await poller.runtime.pool.fetchval(query, shop.shop.key):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await poller.runtime.component(ShopScheduler).poll_now(shop.shop.key)  # its history


async def _raw_polls(shop: _Shop, seen: dict[str, float], stop: asyncio.Event) -> None:
    """A bare poll loop: the shop's discussions updated lately, every interval."""
    await asyncio.sleep(random.uniform(0, INTERVAL))
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600))
    while not stop.is_set():
        started = time.perf_counter()
        params = {"updatedAtMin": since, "includeMessages": "All", "pageSize": "100"}
        items, _ = await shop.client.get_page("discussions", params)
        now = time.perf_counter()
        for discussion in items:
            for message in discussion.get("messages", []):
                seen.setdefault(message["messageId"], now)
        await asyncio.sleep(max(0.0, INTERVAL - (time.perf_counter() - started)))


async def _stored(poller: RunningService, seen: dict[str, float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        rows = await poller.runtime.pool.fetch(
            "SELECT external_id FROM poller_external_messages WHERE marketplace = $1", MARKETPLACE
        )
        now = time.perf_counter()
        for row in rows:
            seen.setdefault(row["external_id"], now)
        await asyncio.sleep(WATCH_EVERY)


async def _messages(
    poller: RunningService, admin: httpx.AsyncClient, shops: list[_Shop]
) -> tuple[list[float], list[float]]:
    """Buyers write for SECONDS; (the poller's latencies, the raw loops')."""
    stored: dict[str, float] = {}
    raw: dict[str, float] = {}
    written: dict[str, float] = {}
    stop = asyncio.Event()
    watchers = [asyncio.create_task(_stored(poller, stored, stop))]
    watchers += [asyncio.create_task(_raw_polls(s, raw, stop)) for s in shops]
    end = time.perf_counter() + SECONDS
    n = 0
    while time.perf_counter() < end:
        shop = shops[n % len(shops)]
        n += 1
        path = f"/shops/{shop.spec['sellerId']}/discussions"
        opened = (await admin.post(path, json={"body": f"Où est ma commande ? ({n})"})).json()
        written[opened["messageId"]] = time.perf_counter()
        shop.discussions.append(opened["discussionId"])
        await asyncio.sleep(1 / WRITE_RATE)
    deadline = time.perf_counter() + 3 * INTERVAL
    while time.perf_counter() < deadline and not (written.keys() <= stored.keys() & raw.keys()):  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*watchers)
    missing = written.keys() - stored.keys()
    assert not missing, f"{len(missing)} messages never stored"
    return [stored[m] - t for m, t in written.items()], [
        raw[m] - t for m, t in written.items() if m in raw
    ]


async def _watch_sent(
    admin: httpx.AsyncClient, shops: list[_Shop], seen: dict[str, float], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        for shop in shops:
            sent = (await admin.get(f"/shops/{shop.spec['sellerId']}/sent")).json()["sent"]
            now = time.perf_counter()
            for s in sent:
                seen.setdefault(s["body"], now)
        await asyncio.sleep(WATCH_EVERY)


async def _replies(
    admin: httpx.AsyncClient,
    shops: list[_Shop],
    send: Callable[[_Shop, str, str], Coroutine[Any, Any, None]],
    label: str,
) -> list[float]:
    """REPLIES replies, one a second per shop, shops in turn; seconds until each is sent."""
    seen: dict[str, float] = {}
    started: dict[str, float] = {}
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch_sent(admin, shops, seen, stop))
    pace = 1 / len(shops)  # one a second per shop
    tasks: list[asyncio.Task[None]] = []
    for n in range(REPLIES):
        shop = shops[n % len(shops)]
        discussion = shop.discussions[(n // len(shops)) % len(shop.discussions)]
        text = f"Bonjour, {label} {n} {uuid.uuid4().hex[:8]} : expédiée ce matin."
        started[text] = time.perf_counter()
        tasks.append(asyncio.create_task(send(shop, discussion, text)))
        await asyncio.sleep(pace)
    await asyncio.gather(*tasks)
    deadline = time.perf_counter() + 30
    while not started.keys() <= seen.keys() and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    stop.set()
    await watcher
    missing = started.keys() - seen.keys()
    assert not missing, f"{len(missing)} {label} replies never reached the double"
    return [seen[t] - started[t] for t in started]


async def run(ctx: BenchContext) -> list[Figure]:
    database = await ctx.make_database("cdiscountmessages")
    config = SandboxConfig(doubles=(CdiscountDoubleSettings(extra_shops=SHOPS, bench_orders=50),))
    async with running_sandbox(config) as url, httpx.AsyncClient(timeout=30) as http:
        admin = httpx.AsyncClient(base_url=f"{url}/_sandbox/cdiscount", timeout=30)
        settings = {**service_env(url), "CDISCOUNT_POLL_INTERVAL_SECONDS": f"{INTERVAL:g}"}
        poller = await _poller(ctx, database, {}, poll=True, **settings)
        vault = VaultClient(ctx.vault_addr, token=DEV_VAULT_ROOT_TOKEN)
        try:
            specs = [s for s in (await admin.get("/shops")).json() if "Boutique" in s["name"]]
            shops = [
                _Shop(
                    s,
                    OctopiaClient(
                        OctopiaCredentials(
                            client_id=s["clientId"],
                            client_secret=s["clientSecret"],
                            seller_id=s["sellerId"],
                        ),
                        http,
                        f"{url}/octopia/seller/v2/",
                        f"{url}{TOKEN_PATH}",
                    ),
                )
                for s in specs[:SHOPS]
            ]
            for shop in shops:
                await _connect(poller, vault, shop)
            # A shop's first scheduled poll comes two intervals after its connection's:
            # the figures are of shops polled every interval.
            await asyncio.sleep(2 * INTERVAL + 1)
            load = os.getloadavg()
            cpu = time.process_time()
            visible, raw_visible = await _messages(poller, admin, shops)
            cpu_messages = time.process_time() - cpu
            await admin.post("/ratelimits/reset")

            async def ours(shop: _Shop, discussion: str, text: str) -> None:
                ticket = await poller.runtime.pool.fetchval(
                    "SELECT id FROM poller_tickets WHERE tenant_id = $1 AND thread_key = $2",
                    shop.tenant_id,
                    f"discussion:{discussion}",
                )
                async with poller.client() as api:
                    response = await api.post(
                        f"/api/v1/tickets/{ticket}/replies",
                        json={"text": text},
                        headers=_headers(poller, shop.tenant_id),
                    )
                assert response.status_code == 202, response.text

            async def raw(shop: _Shop, discussion: str, text: str) -> None:
                body = {
                    "body": text,
                    "discussionId": discussion,
                    "receivers": [{"userType": "Customer"}],
                }
                await shop.client.request("POST", "messages", body=body, idempotent=False)

            cpu = time.process_time()
            sent = _quantiles(await _replies(admin, shops, ours, "poller"))
            cpu_sent = time.process_time() - cpu
            await admin.post("/ratelimits/reset")
            raw_sent = _quantiles(await _replies(admin, shops, raw, "raw"))
        finally:
            await vault.aclose()
            await admin.aclose()
            await poller.stop()
    mine, baseline = _quantiles(visible), _quantiles(raw_visible)
    note = (
        f"{len(visible)} messages on {len(shops)} shops, interval {INTERVAL:g} s (aim p99 ≤ "
        f"{INTERVAL + 1:g} s); load average {load[0]:.1f} at the start; process CPU "
        f"{cpu_messages:.1f} s"
    )
    reply_note = f"{REPLIES} replies on {len(shops)} shops, one a second per shop (aim p99 ≤ 2 s); process CPU {cpu_sent:.1f} s"
    return [
        {
            "name": f"new message → stored {q}",
            "value": mine[q],
            "unit": "s",
            "baseline": baseline[q],
            "note": note if q == "p99" else "",
        }
        for q in ("p50", "p99", "max")
    ] + [
        {
            "name": f"reply POST → on the double {q}",
            "value": sent[q] * 1000,
            "unit": "ms",
            "baseline": raw_sent[q] * 1000,
            "note": reply_note if q == "p99" else "",
        }
        for q in ("p50", "p99", "max")
    ]
