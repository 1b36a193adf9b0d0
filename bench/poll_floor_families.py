"""``bench_poll_floor``'s families (``BENCH_POLL_FLOOR_FAMILIES``, comma-separated:
FNAC, CDISCOUNT, MIRAKL, BACKMARKET, RAKUTEN, EBAY, KAUFLAND): for each, in the same run,
the poller polling ``BENCH_POLL_FLOOR_FAMILY_SHOPS`` (50) of its double's small shops with
nothing new, then a bare loop polling the same shops the same way; with
``BENCH_POLL_FLOOR_NEW`` (N > 0), both again with a page of N new buyer messages a poll.

The bare loop replays, for each shop, the very requests the poller's own source sends for
a poll of it (``ApiMessageSource``: its listings of incidents and messages from where the
shop's cursor stands, less its overlap, as a poll reads; captured once in this process, a
second poll's, its token already held), over one kept-alive ``httpx.AsyncClient``, and
decodes each answer as its wire is (JSON with msgspec, XML with lxml; untyped, where the
family's decode is no dearer so: Mirakl's M11 pages are decoded as its connector does,
``read_thread`` on each of its threads, typed), then runs the one statement that records the poll
(``bench_poll_floor.SCHEDULED``). What any poller of these shops pays: the calls, their
bytes, a decode, a statement.

A page of new messages (``new`` > 0): before the poller's window, each shop's buyers open
``new`` threads on the double (its conformance driver's ``buyer_writes``), then every shop
is polled once in the window (one interval: each poll finds its page, and stores it). The
bare loop replays the requests the poller's source sent for that poll (captured from the
shop's cursor as it stood before it: the same listings, the same answers, the page in
them, and the marks read a poll sends where the connector marks, ``mark_as_read``), decodes
each answer, then one statement stores the page (a row a message: its id and text) and
records the poll (``bench_poll_floor.STORED``): the calls, the decode, a statement.

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
from keybuzz_connector_mirakl.threads import read_thread
from keybuzz_devstack import bootstrap
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_poller.bootstrap import shop_reading
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.shops.api_source import ApiMessageSource
from keybuzz_poller.shops.connections import shop_marketplace
from keybuzz_poller.shops.domain import MARKED_READ, Shop, read_from
from keybuzz_sandbox.conformance import DoubleShop, driver_for
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
    named: str = "Boutique"  # in the name of each of its double's extra (small) shops
    # An answer's decode where the untyped one would be dearer than the connector's
    decode: Callable[[bytes], object] | None = None


class _M11Page(msgspec.Struct):
    data: list[msgspec.Raw] = []


def _m11_page(answer: bytes) -> object:
    """An M11 page decoded as the Mirakl connector does: its threads kept as their bytes,
    each decoded into a thread alone."""
    return [read_thread(raw) for raw in msgspec.json.decode(answer, type=_M11Page).data]


FAMILIES = {
    "FNAC": Family("FNAC", "fnac", _every("FNAC"), named="KeyBuzz Boutique Fnac"),
    "CDISCOUNT": Family("CDISCOUNT", "cdiscount", _every("CDISCOUNT")),
    "MIRAKL": Family("BOULANGER", "mirakl", _mirakl, spacing=MIRAKL_M11_SECONDS, decode=_m11_page),
    "BACKMARKET": Family(
        "BACKMARKET", "backmarket", _every("BACKMARKET", BACKMARKET_CALLS_PER_DAY="10000000")
    ),
    "RAKUTEN": Family("RAKUTEN", "rakuten", _every("RAKUTEN")),
    "EBAY": Family("EBAY", "ebay", _every("EBAY", EBAY_MESSAGE_CALLS_PER_DAY="1000000000")),
    "KAUFLAND": Family("KAUFLAND", "kaufland", _every("KAUFLAND"), named="Petite boutique"),
}


def sandbox_env(families: list[Family], shops: int) -> dict[str, str]:
    """The sandbox's settings hosting ``shops`` small shops of each family's double (the
    Mirakl double's frequencies scaled to the bench's interval)."""
    env = {f"SANDBOX_{f.double.upper()}_EXTRA_SHOPS": str(shops) for f in families}
    if "SANDBOX_FNAC_EXTRA_SHOPS" in env:  # Fnac's and Darty's in turn: ``shops`` Fnac ones
        env["SANDBOX_FNAC_EXTRA_SHOPS"] = str(2 * shops)
    return env | {"SANDBOX_MIRAKL_FREQUENCY_FACTOR": str(MIRAKL_FREQUENCY_FACTOR)}


@dataclass(frozen=True)
class Seller:
    """A shop of the double connected to a tenant of its own (``ConnectedShop``)."""

    shop: Shop
    secret: dict[str, str]
    seller_id: str
    double: DoubleShop  # as the double's conformance driver knows it (its buyers write)


async def sellers_of(sandbox_url: str, family: Family, count: int) -> list[Seller]:
    """``count`` of the double's extra (small) shops, with what oauth keeps of each."""
    driver = driver_for(family.marketplace)
    assert driver is not None, family.marketplace
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=300) as admin:
        if family.marketplace == "EBAY":  # connected by consent: its listing's tokens
            # Here, not above: that bench polls these families beside its marketplace.
            from bench.bench_marketplace_polling import POLLED

            listed = (await admin.get("/_sandbox/ebay/shops")).json()
            found = [
                (*POLLED["EBAY"].seller(s), DoubleShop(s["name"], s["number"], {}))
                for s in listed
                if family.named in s["name"]
            ]
        elif family.marketplace == "FNAC":  # its driver lists the shops with orders only
            listed = (await admin.get("/_sandbox/fnac/shops")).json()
            found = [
                (
                    s["shop_id"],
                    {f: s[f] for f in ("partner_id", "shop_id", "key")},
                    DoubleShop(s["name"], s["shop_id"], {}),
                )
                for s in listed
                if family.named in s["name"]
            ]
        else:
            shops = [s for s in await driver.shops(admin) if family.named in s.name]
            found = [(s.account, dict(s.credentials), s) for s in shops]
    assert len(found) >= count, f"{family.double}: {len(found)} extra shops, not {count}"
    return [
        Seller(
            Shop(f"{family.double[:4]}{n:05d}{uuid.uuid4().hex[:6]}", family.marketplace),
            secret,
            seller_id,
            double,
        )
        for n, (seller_id, secret, double) in enumerate(found[:count])
    ]


Bare = Callable[[float], Awaitable[None]]
Transport = Callable[[], httpx.AsyncBaseTransport | None]
Prepared = Callable[[bool], Awaitable[None]]  # its argument: a warm-up's (one message)
# (connection, name, the bare loop or None for the poller, for the poller's window with a
# page of new messages: what writes them once its shops are parked)
Window = Callable[[asyncpg.Connection, str, Bare | None, Prepared | None], Awaitable[Any]]
Page = tuple[list[str], list[str]]  # a shop's new messages: their ids, their texts
Polled = Callable[
    [Callable[[str], Awaitable[None]], list[str], str, float, Mapping[str, Page] | None],
    Awaitable[None],
]


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
    new: int = 0,
) -> list[Any]:
    """The family's poller windows (each ``pollers``' settings added), then its bare loop's
    (each on one of ``transports``: None, httpx's own); with ``new``, the poller's and the
    first transport's bare loop's again with a page of ``new`` new messages a poll."""
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
            windows.append(
                await _poller_window(
                    ctx,
                    conn,
                    database,
                    {**settings, **more},
                    interval,
                    window,
                    f"{name}: {title}",
                    None,
                )
            )
        requests = await _captured(ctx, conn, settings, sellers)
        windows += await _bare_windows(
            conn, family, requests, database, polled_each, transports, window
        )
        if new:
            windows += await _new_windows(
                ctx,
                sandbox_url,
                conn,
                database,
                family,
                sellers,
                settings,
                interval,
                new,
                window,
                polled_each,
                transports[:1],
            )
    finally:
        await conn.close()
    return windows


async def _poller_window(
    ctx: BenchContext,
    conn: asyncpg.Connection,
    database: str,
    settings: dict[str, str],
    interval: int,
    window: Window,
    name: str,
    written: Prepared | None,
) -> Any:
    """A poller started, its shops' first polls, its ``window``, its shops parked, stopped."""
    poller = _start_poller(ctx, database, settings, interval)
    try:
        await _wait_ready(poller)
        await _first_polls(conn)
        measured = await window(conn, name, None, written)
        await conn.execute("UPDATE poller_shops SET next_poll_at = now() + interval '1 day'")
        return measured
    finally:
        poller.stop()


async def _bare_windows(
    conn: asyncpg.Connection,
    family: Family,
    requests: Mapping[str, list[Recorded]],
    database: str,
    polled_each: Polled,
    transports: Sequence[tuple[str, Transport]],
    window: Window,
    pages: Mapping[str, Page] | None = None,
    titled: str = "",
) -> list[Any]:
    calls = sum(len(r) for r in requests.values()) / len(requests)
    first = [f"{m} {httpx.URL(u).path}" for m, u, _, _ in next(iter(requests.values()))]
    print(f"bench_poll_floor {family.double}{titled}: {calls:g} requests a bare poll, e.g. {first}")
    await asyncio.sleep(1 + family.spacing)  # past the capture's last listing
    windows = []
    for title, transport in transports:
        bare = _replay(requests, database, polled_each, family, transport, pages)
        name = f"{family.double}: bare loop ({title}){titled}"
        windows.append(await window(conn, name, bare, None))
    return windows


async def _new_windows(
    ctx: BenchContext,
    sandbox_url: str,
    conn: asyncpg.Connection,
    database: str,
    family: Family,
    sellers: list[Seller],
    settings: dict[str, str],
    interval: int,
    new: int,
    window: Window,
    polled_each: Polled,
    transports: Sequence[tuple[str, Transport]],
) -> list[Any]:
    """The poller's window with a page of ``new`` messages a poll, then the bare loop's:
    the requests of those polls replayed, each page stored by one statement."""
    cursors: dict[str, asyncpg.Record] = {}
    pages: dict[str, Page] = {}

    async def written(warm_up: bool) -> None:
        """Each shop's cursor as its poll will read it, then its page on the double; for a
        warm-up, one message a shop (the poller's connections prepare the statements that
        store a message before the window: a fresh one introspects their types)."""
        if warm_up:
            await _pages_written(sandbox_url, family, sellers, 1)
            return
        rows = await conn.fetch(
            "SELECT poll_key, messages_since, incidents_since FROM poller_shops"
        )
        cursors.update({r["poll_key"]: r for r in rows})
        pages.update(await _pages_written(sandbox_url, family, sellers, new))

    titled = f", {new} new"
    name = f"{family.double}: poller{titled}"
    await conn.execute(STORED_TABLE)
    measured = await _poller_window(ctx, conn, database, settings, interval, window, name, written)
    requests = await _captured(ctx, conn, settings, sellers, cursors, pages)
    return [measured] + await _bare_windows(
        conn, family, requests, database, polled_each, transports, window, pages, titled
    )


# Where the bare loop stores its pages (``bench_poll_floor.STORED``).
STORED_TABLE = """CREATE TABLE IF NOT EXISTS bench_floor_messages (
    poll_key text NOT NULL, external_id text NOT NULL, body text NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now())"""
# A buyer's message of the page, as long as a short question (~200 characters)
FILLER = "Bonjour, je n'ai toujours pas reçu ma commande, pouvez-vous me dire où elle en est ?"


async def _pages_written(
    sandbox_url: str, family: Family, sellers: list[Seller], new: int
) -> dict[str, Page]:
    """``new`` threads a shop, each opened by its buyer's message: the ids and texts."""
    driver = driver_for(family.marketplace)
    assert driver is not None, family.marketplace
    gate = asyncio.Semaphore(16)
    pages: dict[str, Page] = {}
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=120) as admin:

        async def page(seller: Seller) -> None:
            ids, texts = [], []
            for n in range(new):
                text = f"{seller.shop.key} #{n} {uuid.uuid4().hex[:8]}: {FILLER} {FILLER}"
                async with gate:
                    written = await driver.buyer_writes(admin, seller.double, text)
                ids.append(written.message_id)
                texts.append(text)
            pages[seller.shop.key] = (ids, texts)

        await asyncio.gather(*(page(s) for s in sellers))
    return pages


Recorded = tuple[str, str, dict[str, str], bytes]  # method, URL, headers, body


async def _captured(
    ctx: BenchContext,
    conn: asyncpg.Connection,
    env: dict[str, str],
    sellers: list[Seller],
    cursors: Mapping[str, asyncpg.Record] | None = None,
    pages: Mapping[str, Page] | None = None,
) -> dict[str, list[Recorded]]:
    """Each shop's requests of a poll, as the poller's source sends them: a second poll's
    (its session and token held from the first), from its cursor as it stands (a poll
    with nothing new), or as ``cursors`` kept it (the poll that found ``pages``, its
    marks read included where its connector marks)."""
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
            row = (cursors or {}).get(shop.key) or await conn.fetchrow(
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
                marked = []
                async for listed in source.messages(shop, since):
                    marked += [m.message_id for m in listed if _marked(m, read.mark_as_read)]
            new = set(pages[shop.key][0]) if pages else set()
            if marked := [m for m in marked if m in new]:
                await source.mark_read(shop, marked)
            captured[shop.key] = [_recorded(r) for r in sent]
    finally:
        await source.aclose()
        await vault.aclose()
    return captured


def _marked(message: Any, mark_as_read: bool) -> bool:
    """What the poller marks read of a new message (``poll._take_message``: unread when it
    polled, as the page was; read by now, the poller having marked it)."""
    return mark_as_read and message.sender_type in MARKED_READ


def _recorded(request: httpx.Request) -> Recorded:
    headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
    return request.method, str(request.url), headers, request.content


def _replay(
    requests: Mapping[str, list[Recorded]],
    database: str,
    polled_each: Polled,
    family: Family,
    transport: Transport,
    pages: Mapping[str, Page] | None = None,
) -> Bare:
    async def loop(until: float) -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
        async with httpx.AsyncClient(timeout=30, limits=limits, transport=transport()) as http:

            async def poll(key: str) -> None:
                for n, (method, url, headers, body) in enumerate(requests[key]):
                    if n and family.spacing:
                        await asyncio.sleep(family.spacing)
                    answer = await http.request(method, url, headers=headers, content=body)
                    answer.raise_for_status()
                    family.decode(answer.content) if family.decode else _decoded(answer)

            await polled_each(poll, sorted(requests), database, until, pages)

    return loop


def _decoded(answer: httpx.Response) -> object:
    kind = answer.headers.get("content-type", "")
    if "json" in kind:
        return msgspec.json.decode(answer.content)
    if "xml" in kind:
        return etree.fromstring(answer.content)
    return None
