"""``bench_poll_floor``'s other families (``BENCH_POLL_FLOOR_FAMILIES``, comma-separated:
CDISCOUNT, MIRAKL, BACKMARKET, RAKUTEN, EBAY): for each, in the same run, the poller
polling ``BENCH_POLL_FLOOR_FAMILY_SHOPS`` (50) of its double's small shops with nothing
new, then a bare loop polling the same shops the same way.

The bare loop replays, for each shop, the very requests the poller's own source sends for
a poll of it (``ApiMessageSource``: its listings of incidents and messages from where the
shop's cursor stands, less its overlap, as a poll reads; captured once in this process, a
second poll's, its token already held), over one kept-alive ``httpx.AsyncClient``, and
decodes each answer as its wire is (JSON with msgspec, XML with lxml; untyped: the
connector decodes into its own types), then runs the one statement that records the poll
(``bench_poll_floor.SCHEDULED``). What any poller of these shops pays: the calls, their
bytes, a decode, a statement.

Each family gets a database of its own (its shops connected as oauth does it); the
poller's interval is the bench's for every family (Mirakl's operators' M11 frequency set
to it, Back Market's and eBay's daily limits raised so that their plans do not space
the polls out).
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import msgspec
from keybuzz_devstack import bootstrap
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_poller.bootstrap import shop_reading
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.shops.api_source import ApiMessageSource
from keybuzz_poller.shops.connections import shop_marketplace
from keybuzz_poller.shops.domain import Shop, read_from
from keybuzz_sandbox.conformance import driver_for
from keybuzz_sandbox.doubles import service_env
from keybuzz_shared.connectors.registry import PerMarketplace
from keybuzz_shared.settings import load_settings
from keybuzz_shared.vault import VaultClient
from lxml import etree

from bench.bench_poll_scale import _start_poller, _wait_ready
from bench.bench_shop_polling import _first_polls, connect_shops
from bench.harness import BenchContext

Settings = Callable[[dict[str, str], int], dict[str, str]]
# Mirakl's M11 frequency, as the conformance suite sets it: the poller's 0.5 s, the
# double's 0.3 s (its 60 s scaled), under it.
MIRAKL_M11_SECONDS = 0.5
MIRAKL_FREQUENCY_FACTOR = 0.005


def _every(name: str, **more: str) -> Settings:
    return lambda api, seconds: {**api, f"{name}_POLL_INTERVAL_SECONDS": str(seconds), **more}


def _mirakl(api: dict[str, str], seconds: int) -> dict[str, str]:
    """Every operator's M11 frequency short (the poller spaces a shop's listings by it, and
    polls a shop every frequency, rounded up, plus the margin: ``seconds``)."""
    catalogue = json.loads(api["MIRAKL_CATALOGUE"])
    for entry in catalogue:
        entry["frequencies"] = {**entry.get("frequencies", {}), "M11": MIRAKL_M11_SECONDS}
    margin = seconds - math.ceil(MIRAKL_M11_SECONDS)
    return {
        **api,
        "MIRAKL_CATALOGUE": json.dumps(catalogue),
        "MIRAKL_POLL_INTERVAL_SECONDS": str(seconds),
        "MIRAKL_POLL_MARGIN_SECONDS": str(margin),
    }


@dataclass(frozen=True)
class Family:
    marketplace: str  # the one of the family its shops are connected under
    double: str  # the sandbox's name for its double (``SANDBOX_<DOUBLE>_EXTRA_SHOPS``)
    settings: Settings  # the poller's, every shop due once an interval
    # A shop's listings at least this far apart (Mirakl's M11 frequency: the poller's
    # session spaces them, the double refuses them closer): the bare loop spaces them too.
    spacing: float = 0.0


FAMILIES = {
    "CDISCOUNT": Family("CDISCOUNT", "cdiscount", _every("CDISCOUNT")),
    "MIRAKL": Family("BOULANGER", "mirakl", _mirakl, spacing=MIRAKL_M11_SECONDS),
    "BACKMARKET": Family(
        "BACKMARKET", "backmarket", _every("BACKMARKET", BACKMARKET_CALLS_PER_DAY="10000000")
    ),
    "RAKUTEN": Family("RAKUTEN", "rakuten", _every("RAKUTEN")),
    "EBAY": Family("EBAY", "ebay", _every("EBAY", EBAY_MESSAGE_CALLS_PER_DAY="1000000000")),
}


def sandbox_env(families: list[Family], shops: int) -> dict[str, str]:
    """The sandbox's settings hosting ``shops`` small shops of each family's double (the
    Mirakl double's frequencies scaled to the bench's interval)."""
    env = {f"SANDBOX_{f.double.upper()}_EXTRA_SHOPS": str(shops) for f in families}
    return env | {"SANDBOX_MIRAKL_FREQUENCY_FACTOR": str(MIRAKL_FREQUENCY_FACTOR)}


@dataclass(frozen=True)
class Seller:
    """A shop of the double connected to a tenant of its own (``ConnectedShop``)."""

    shop: Shop
    secret: dict[str, str]
    seller_id: str


async def sellers_of(sandbox_url: str, family: Family, count: int) -> list[Seller]:
    """``count`` of the double's extra (small) shops, with what oauth keeps of each."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=300) as admin:
        if family.marketplace == "EBAY":  # connected by consent: its listing's tokens
            # Here, not above: that bench polls these families beside its marketplace.
            from bench.bench_marketplace_polling import POLLED

            listed = (await admin.get("/_sandbox/ebay/shops")).json()
            found = [POLLED["EBAY"].seller(s) for s in listed if "Boutique" in s["name"]]
        else:
            driver = driver_for(family.marketplace)
            assert driver is not None, family.marketplace
            shops = [s for s in await driver.shops(admin) if "Boutique" in s.name]
            found = [(s.account, dict(s.credentials)) for s in shops]
    assert len(found) >= count, f"{family.double}: {len(found)} extra shops, not {count}"
    return [
        Seller(Shop(f"{family.double[:4]}{n:05d}{uuid.uuid4().hex[:6]}", family.marketplace), s, i)
        for n, (i, s) in enumerate(found[:count])
    ]


Bare = Callable[[float], Awaitable[None]]
Transport = Callable[[], httpx.AsyncBaseTransport | None]
Window = Callable[[asyncpg.Connection, str, Bare | None], Awaitable[Any]]
Polled = Callable[[Callable[[str], Awaitable[None]], list[str], str, float], Awaitable[None]]


async def family_windows(
    ctx: BenchContext,
    sandbox_url: str,
    postgres_url: str,
    family: Family,
    shops: int,
    interval: int,
    window: Window,
    polled_each: Polled,
    pollers: Sequence[tuple[str, dict[str, str]]] = (("poller", {}),),
    transports: Sequence[tuple[str, Transport]] = (("httpx", lambda: None),),
) -> list[Any]:
    """The family's poller windows (each ``pollers``' settings added), then its bare loop's
    (each on one of ``transports``: None, httpx's own)."""
    sellers = await sellers_of(sandbox_url, family, shops)
    database = await bootstrap.create_scratch_database(postgres_url, f"floor{family.double}")
    api = service_env(sandbox_url)
    await connect_shops(ctx, database, api, sellers)
    settings = family.settings(api, interval)
    name = family.double
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        windows = []
        for title, more in pollers:
            poller = _start_poller(ctx, database, {**settings, **more}, interval)
            try:
                await _wait_ready(poller)
                await _first_polls(conn)
                windows.append(await window(conn, f"{name}: {title}", None))
                await conn.execute(
                    "UPDATE poller_shops SET next_poll_at = now() + interval '1 day'"
                )
            finally:
                poller.stop()
        requests = await _captured(ctx, conn, settings, sellers)
        calls = sum(len(r) for r in requests.values()) / len(requests)
        first = [f"{m} {httpx.URL(u).path}" for m, u, _, _ in next(iter(requests.values()))]
        print(f"bench_poll_floor {name}: {calls:g} requests a bare poll, e.g. {first}")
        await asyncio.sleep(1 + family.spacing)  # past the capture's last listing
        for title, transport in transports:
            bare = _replay(requests, database, polled_each, family.spacing, transport)
            windows.append(await window(conn, f"{name}: bare loop ({title})", bare))
    finally:
        await conn.close()
    return windows


Recorded = tuple[str, str, dict[str, str], bytes]  # method, URL, headers, body


async def _captured(
    ctx: BenchContext,
    conn: asyncpg.Connection,
    env: dict[str, str],
    sellers: list[Seller],
) -> dict[str, list[Recorded]]:
    """Each shop's requests of a poll with nothing new, as the poller's source sends them:
    a second poll's (its session and token held from the first)."""
    settings = load_settings(PollerSettings, env)
    apis = PerMarketplace(lambda c: settings.shop_api(shop_marketplace(c)))
    reading = shop_reading(apis)
    vault = VaultClient(ctx.vault_addr, token=DEV_VAULT_ROOT_TOKEN)
    source = ApiMessageSource(vault, apis, inside_allowed=True)
    sent: list[httpx.Request] = []

    async def keep(request: httpx.Request) -> None:
        sent.append(request)

    captured: dict[str, list[Recorded]] = {}
    source.http(sellers[0].shop.marketplace).event_hooks["request"].append(keep)
    try:
        for seller in sellers:
            shop = seller.shop
            row = await conn.fetchrow(
                "SELECT messages_since, incidents_since FROM poller_shops WHERE poll_key = $1",
                shop.key,
            )
            read = reading[shop.marketplace]
            now = datetime.now(UTC)
            for _ in range(2):
                sent.clear()
                await source.open(shop)
                since = read_from(row["incidents_since"], now, read.first_poll, read.overlap)
                async for _page in source.incidents(shop, since):
                    pass
                since = read_from(row["messages_since"], now, read.first_poll, read.overlap)
                async for _page in source.messages(shop, since):
                    pass
            captured[shop.key] = [_recorded(r) for r in sent]
    finally:
        await source.aclose()
        await vault.aclose()
    return captured


def _recorded(request: httpx.Request) -> Recorded:
    headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
    return request.method, str(request.url), headers, request.content


def _replay(
    requests: Mapping[str, list[Recorded]],
    database: str,
    polled_each: Polled,
    spacing: float,
    transport: Transport,
) -> Bare:
    async def loop(until: float) -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
        async with httpx.AsyncClient(timeout=30, limits=limits, transport=transport()) as http:

            async def poll(key: str) -> None:
                for n, (method, url, headers, body) in enumerate(requests[key]):
                    if n and spacing:
                        await asyncio.sleep(spacing)
                    answer = await http.request(method, url, headers=headers, content=body)
                    answer.raise_for_status()
                    _decoded(answer)

            await polled_each(poll, sorted(requests), database, until)

    return loop


def _decoded(answer: httpx.Response) -> object:
    kind = answer.headers.get("content-type", "")
    if "json" in kind:
        return msgspec.json.decode(answer.content)
    if "xml" in kind:
        return etree.fromstring(answer.content)
    return None
