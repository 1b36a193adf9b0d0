"""What a Fnac poll costs against its floor, in one run: the poller, then a bare loop,
polling the same shops of the same double at the same interval.

Set-up (not measured): the sandbox and a PostgreSQL, each a process of its own, ``SHOPS``
small Fnac/Darty shops connected as oauth does it, and each shop's first poll by the
poller (``bench_shop_polling``'s helpers).

Measured, each for ``WINDOW`` seconds, every shop due once an ``INTERVAL``:

- the poller: ``python -m keybuzz_poller`` in its own process, as in production;
- the bare loop, in this process: what a poll with nothing new must do and nothing more.
  Each shop's two calls (``incidents_query``, then ``messages_query``), as the poller's
  connector sends them (the same bytes, captured once from ``FnacClient``, its token in
  them), over one kept-alive ``httpx.AsyncClient`` (plain HTTP, as the poller's to the
  double), each answer parsed with lxml as the connector does, then one statement that
  records the poll and schedules the next (``UPDATE poller_shops``). No Vault read, no
  session, no cursor, no log line: the floor any poller of these shops pays, whatever its
  design; what the poller spends above it is ours to cut. With ``BENCH_POLL_FLOOR_AIOHTTP``
  (1), the same loop again on aiohttp's client: the floor on another HTTP client.

With ``BENCH_POLL_FLOOR_HTTPX_AIOHTTP`` (1), the poller and each bare loop again with
httpx over aiohttp's connections (httpx-aiohttp; the poller through ``poller_hooks``): the
poller's HTTP transport chosen by measurement. Each poller window starts once every shop
was polled by that poller (``_warmed``): its sessions as warm as the first poller's.

Figures: CPU a poll (ms) of the poller / the bare loop, PostgreSQL and the double, each
side's polls made, the ratio poller ÷ bare loop, PostgreSQL statements a poll
(``pg_stat_statements``). A poll is counted when its shop's ``last_poll_at`` moves (read
once a second in both windows, the same reads).

The families (``BENCH_POLL_FLOOR_FAMILIES``: Fnac, Cdiscount, Mirakl, Back Market,
Rakuten, eBay, Kaufland), each its poller's window and its bare loop's, and with
``BENCH_POLL_FLOOR_NEW`` (N > 0) both again with a page of N new buyer messages a poll
(the poller's window one interval: each shop polled once, each poll finding its page):
``poll_floor_families``. ``BENCH_POLL_FLOOR_SHOPS=0``: the families only (no Fnac windows
of 200 shops first).

``BENCH_POLL_FLOOR_SHOPS`` (200) / ``BENCH_POLL_FLOOR_INTERVAL`` (10 s) /
``BENCH_POLL_FLOOR_WINDOW`` (40 s) / ``BENCH_POLL_FLOOR_IDLE`` (15 s: the poller's CPU
a second after its window, no shop due) / ``BENCH_POLL_FLOOR_AIOHTTP`` (1) /
``BENCH_POLL_FLOOR_UNCACHED`` (1: the poller's window with the key read at every poll) /
``BENCH_POLL_FLOOR_FAMILIES`` (none) / ``BENCH_POLL_FLOOR_FAMILY_SHOPS`` (50) /
``BENCH_POLL_FLOOR_NEW`` (0: new messages a poll in the families' second windows) /
``BENCH_POLL_FLOOR_PROFILE`` (none: a folder where each poller window's py-spy profile is
written, ``py-spy record --nonblocking -f raw``, 250 Hz; py-spy from PyPI in the venv) /
``BENCH_POLL_FLOOR_PROFILE_NATIVE`` (0; 1: ``--native`` for ``--nonblocking``, the C frames
too, the system calls among them, the process paused at each sample; its idle threads in
the samples).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path

import asyncpg
import httpx
from keybuzz_connector_fnac.client import FnacClient, xml_instant
from keybuzz_connector_fnac.connector import LIMITS as FNAC_LIMITS
from keybuzz_connector_fnac.models import ByCreation, DateRange, IncidentsQuery, MessagesQuery
from keybuzz_devstack import bootstrap
from lxml import etree

from bench import poll_floor_families as families
from bench.bench_poll_scale import _cpu_seconds, _start_poller, _wait_ready
from bench.bench_shop_polling import (
    OVERLAP,
    Connected,
    _first_polls,
    connect_shops,
    double_and_postgres,
    extra_fnac_shops,
)
from bench.harness import BenchContext, Figure, cpu_seconds_by_process, cpu_spent_by_process

SHOPS = int(os.environ.get("BENCH_POLL_FLOOR_SHOPS", "200"))
INTERVAL = int(os.environ.get("BENCH_POLL_FLOOR_INTERVAL", "10"))
WINDOW = float(os.environ.get("BENCH_POLL_FLOOR_WINDOW", "40"))
IDLE = float(os.environ.get("BENCH_POLL_FLOOR_IDLE", "15"))
AIOHTTP = os.environ.get("BENCH_POLL_FLOOR_AIOHTTP", "1") == "1"
UNCACHED = os.environ.get("BENCH_POLL_FLOOR_UNCACHED", "1") == "1"
UNCACHED_POLLER = [("poller, key read at every poll", {"VAULT_CACHE_SECONDS": "0"})]
# The poller's marketplace clients on httpx-aiohttp's transport (``transport_hook``): the
# requester's HTTP transport chosen by measurement, in the same run.
# httpx-aiohttp is not installed by ``make install`` (the poller does not use it):
# ``pip install httpx-aiohttp`` in the venv to measure it.
HTTPX_AIOHTTP = (
    os.environ.get("BENCH_POLL_FLOOR_HTTPX_AIOHTTP", "1" if find_spec("httpx_aiohttp") else "0")
    == "1"
)
HOOK = str(Path(__file__).parent / "poller_hooks")
ON_HTTPX_AIOHTTP = {"PYTHONPATH": HOOK, "BENCH_POLLER_TRANSPORT": "httpx-aiohttp"}
HTTPX_AIOHTTP_POLLER = [("poller on httpx-aiohttp", ON_HTTPX_AIOHTTP)]
# eBay's poller with an app entry found missing read again at every poll, as before it was
# kept: the cut, in the same run.
EBAY_APP_UNCACHED = {"PYTHONPATH": HOOK, "BENCH_POLLER_EBAY_APP_UNCACHED": "1"}
# Every family's poller with the runtime protocols' checks answered anew at every ask, as
# before ``protocol_checks`` kept them (``BENCH_POLL_FLOOR_CHECKS_UNKEPT``, 1): the cut, in
# the same run.
CHECKS_UNKEPT = os.environ.get("BENCH_POLL_FLOOR_CHECKS_UNKEPT", "1") == "1"
UNKEPT_CHECKS = {"PYTHONPATH": HOOK, "BENCH_POLLER_PROTOCOL_CHECKS_UNKEPT": "1"}
POLLERS = [
    ("poller", {}),
    *(UNCACHED_POLLER if UNCACHED else []),
    *(HTTPX_AIOHTTP_POLLER if HTTPX_AIOHTTP else []),
]
FAMILIES = [
    families.FAMILIES[name.strip().upper()]
    for name in os.environ.get("BENCH_POLL_FLOOR_FAMILIES", "").split(",")
    if name.strip()
]
FAMILY_SHOPS = int(os.environ.get("BENCH_POLL_FLOOR_FAMILY_SHOPS", "50"))
NEW = int(os.environ.get("BENCH_POLL_FLOOR_NEW", "0"))
PROFILE = os.environ.get("BENCH_POLL_FLOOR_PROFILE", "")
NATIVE = os.environ.get("BENCH_POLL_FLOOR_PROFILE_NATIVE", "0") == "1"
SCHEDULED = (
    "UPDATE poller_shops SET last_poll_at = now(), last_success_at = now(), "
    "next_poll_at = now() + make_interval(secs => $2) WHERE poll_key = $1"
)
# A poll that found a page of new messages: the page stored (a row a message) and the poll
# recorded, in one statement.
STORED = (
    "WITH stored AS (INSERT INTO bench_floor_messages (poll_key, external_id, body) "
    "SELECT $1, unnest($3::text[]), unnest($4::text[])) " + SCHEDULED
)


async def run(ctx: BenchContext) -> list[Figure]:
    env = families.sandbox_env(FAMILIES, FAMILY_SHOPS)
    with double_and_postgres(ctx, SHOPS, "floor", statements=True, env=env) as (sandbox, pg):
        figures = await _measure(ctx, sandbox, pg) if SHOPS else []
        for family in FAMILIES:
            windows = await families.family_windows(
                ctx,
                sandbox,
                pg,
                family,
                FAMILY_SHOPS,
                INTERVAL,
                _window,
                _polled_each,
                _family_pollers(family),
                [
                    ("httpx", lambda: None),
                    *([("httpx-aiohttp", _aiohttp_transport)] if HTTPX_AIOHTTP else []),
                ],
                NEW,
            )
            floor = f"{family.double}: bare loop (httpx)"
            fresh = [w for w in windows if w.name.endswith(" new")]
            figures += _figures([w for w in windows if w not in fresh], floor)
            figures += _figures(fresh, f"{floor}, {NEW} new")
        return figures


def _family_pollers(family: families.Family) -> list[tuple[str, dict[str, str]]]:
    pollers = [("poller", {}), *(HTTPX_AIOHTTP_POLLER if HTTPX_AIOHTTP else [])]
    if CHECKS_UNKEPT:
        pollers.append(("poller, protocol checks at every ask", UNKEPT_CHECKS))
    if family.double == "ebay" and UNCACHED:  # the cut of the twenty-eighth session
        pollers.append(("poller, missing app read at every poll", EBAY_APP_UNCACHED))
    return pollers


@dataclass
class Window:
    """One side's window: its polls and every process's CPU seconds (``own``: the polling
    process's)."""

    name: str
    own: str = "keybuzz_poller"
    polls: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    statements: int = 0
    seconds: float = WINDOW


async def _measure(ctx: BenchContext, sandbox_url: str, postgres_url: str) -> list[Figure]:
    shops = await extra_fnac_shops(sandbox_url, SHOPS, "floor")
    database = await bootstrap.create_scratch_database(postgres_url, "pollfloor")
    api = {"FNAC_API_URL": f"{sandbox_url}/fnac/api.php/"}
    await connect_shops(ctx, database, api, shops)
    settings = {**api, "FNAC_POLL_INTERVAL_SECONDS": str(INTERVAL)}
    conn = await asyncpg.connect(database)
    windows: list[Window] = []
    idle: dict[str, float] = {}
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        # Before and after each cut, in the same run: the poller as it is, then with the
        # shop's key read from Vault at every poll as it was before (``VAULT_CACHE_SECONDS=0``).
        for name, cut in POLLERS:
            poller = _start_poller(ctx, database, {**settings, **cut}, INTERVAL)
            try:
                await _wait_ready(poller)
                await _first_polls(conn)
                windows.append(await _window(conn, name, None, None))
                await conn.execute(
                    "UPDATE poller_shops SET next_poll_at = now() + interval '1 day'"
                )
                idle[name] = await _idle(poller.process.pid)
            finally:
                poller.stop()
    except BaseException:
        await conn.close()
        raise
    try:
        bodies = await _captured(sandbox_url, shops)
        url = f"{sandbox_url}/fnac/api.php/"
        windows.append(
            await _window(conn, "bare loop (httpx)", _httpx_loop(url, bodies, database), None)
        )
        if HTTPX_AIOHTTP:
            loop = _httpx_loop(url, bodies, database, on_aiohttp=True)
            windows.append(await _window(conn, "bare loop (httpx-aiohttp)", loop, None))
        if AIOHTTP:
            loop = _aiohttp_loop(url, bodies, database)
            windows.append(await _window(conn, "bare loop (aiohttp)", loop, None))
    finally:
        await conn.close()
    return _figures(windows) + [
        _figure(f"{name}: CPU a second with no shop due", ms, "ms/s") for name, ms in idle.items()
    ]


async def _idle(pid: int) -> float:
    """The poller's CPU a second (ms) while no shop is due: its idle work."""
    await asyncio.sleep(2.0)  # the polls in flight end
    before = _cpu_seconds(pid)
    await asyncio.sleep(IDLE)
    return 1000 * (_cpu_seconds(pid) - before) / IDLE


# --- the bare loop ---------------------------------------------------------------------------

Bodies = dict[str, tuple[bytes, bytes]]  # poll key -> (incidents_query, messages_query) bodies


async def _captured(sandbox_url: str, shops: list[Connected]) -> Bodies:
    """Each shop's two requests as the connector sends them (its token in them)."""
    sent: dict[tuple[str, str], bytes] = {}

    async def keep(request: httpx.Request) -> None:
        call = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        sent[(request.headers.get("x-floor-shop", ""), call)] = request.content

    since = datetime.now(UTC) - OVERLAP
    bodies: Bodies = {}
    for c in shops:
        async with httpx.AsyncClient(
            timeout=60, event_hooks={"request": [keep]}, headers={"x-floor-shop": c.shop.key}
        ) as http:
            client = FnacClient(http, f"{sandbox_url}/fnac/api.php/", c.credentials)
            await client.listed(
                IncidentsQuery(
                    page=1,
                    results_count=FNAC_LIMITS.page_size,
                    date=DateRange(type="UpdatedAt", min=xml_instant(since)),
                )
            )
            await client.listed(
                MessagesQuery(
                    page=1,
                    results_count=FNAC_LIMITS.page_size,
                    date=DateRange(type="CreatedAt", min=xml_instant(since)),
                    sort=ByCreation("ASC"),
                )
            )
        key = c.shop.key
        bodies[key] = (sent[(key, "incidents_query")], sent[(key, "messages_query")])
    return bodies


Post = Callable[[str, bytes], Awaitable[bytes]]


async def _bare_polls(post: Post, bodies: Bodies, database: str, until: float) -> None:
    """Every shop's two calls, each answer parsed, once an interval until ``until``."""

    async def poll(key: str) -> None:
        incidents, messages = bodies[key]
        etree.fromstring(await post("incidents_query", incidents))
        etree.fromstring(await post("messages_query", messages))

    await _polled_each(poll, sorted(bodies), database, until)


async def _polled_each(
    poll: Callable[[str], Awaitable[None]],
    keys: list[str],
    database: str,
    until: float,
    pages: Mapping[str, families.Page] | None = None,
) -> None:
    """Every shop polled (``poll``, then the statement that records it, storing its page of
    ``pages`` if given) once an interval, spread over it, until ``until``."""
    pool = await asyncpg.create_pool(database, min_size=2, max_size=4)
    try:

        async def shop(n: int, key: str) -> None:
            await asyncio.sleep(INTERVAL * n / len(keys))
            while time.monotonic() < until:
                started = time.monotonic()
                await poll(key)
                if pages is None:
                    await pool.execute(SCHEDULED, key, float(INTERVAL))
                else:
                    await pool.execute(STORED, key, float(INTERVAL), *pages[key])
                await asyncio.sleep(max(0.0, INTERVAL - (time.monotonic() - started)))

        await asyncio.gather(*(shop(n, key) for n, key in enumerate(keys)))
    finally:
        await pool.close()


def _httpx_loop(
    url: str, bodies: Bodies, database: str, *, on_aiohttp: bool = False
) -> Callable[[float], Awaitable[None]]:
    """The bare loop on httpx: its own transport, or httpx-aiohttp's (``on_aiohttp``)."""

    async def loop(until: float) -> None:
        headers = {"Content-Type": "text/xml"}
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
        transport = _aiohttp_transport() if on_aiohttp else None
        async with httpx.AsyncClient(timeout=30, limits=limits, transport=transport) as http:

            async def post(call: str, body: bytes) -> bytes:
                answer = await http.post(url + call, content=body, headers=headers)
                answer.raise_for_status()
                return answer.content

            await _bare_polls(post, bodies, database, until)

    return loop


def _aiohttp_transport() -> httpx.AsyncBaseTransport:
    """httpx-aiohttp's transport, uncapped as the bare loop's pool."""
    import aiohttp  # only these figures need it
    from httpx_aiohttp import AiohttpTransport

    transport = AiohttpTransport()
    transport.client = lambda: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    return transport


def _aiohttp_loop(url: str, bodies: Bodies, database: str) -> Callable[[float], Awaitable[None]]:
    async def loop(until: float) -> None:
        import aiohttp  # only this figure needs it

        headers = {"Content-Type": "text/xml"}
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

            async def post(call: str, body: bytes) -> bytes:
                async with http.post(url + call, data=body, headers=headers) as answer:
                    answer.raise_for_status()
                    return await answer.read()

            await _bare_polls(post, bodies, database, until)

    return loop


# --- a window --------------------------------------------------------------------------------


async def _window(
    conn: asyncpg.Connection,
    name: str,
    bare: Callable[[float], Awaitable[None]] | None,
    written: families.Prepared | None,
) -> Window:
    """``WINDOW`` seconds of polls (the poller's, or ``bare``'s): polls counted, CPU. With
    ``written`` (the poller's, a page of new messages a poll): a message a shop written and
    polled first (a warm-up), the shops parked, the page written, each shop due once in
    the interval's first 60 % and parked once polled, the window until every shop was
    polled (three intervals at most): each polled once, finding its page."""
    window = Window(name, "keybuzz_poller" if bare is None else "bench process")
    seconds, spread = WINDOW, 1.0
    if bare is None:  # the poller: every shop's next poll spread over the interval
        await _warmed(conn)
        if written is not None:  # a message a shop polled first: warm connections
            await _parked(conn)
            await written(True)
            await _warmed(conn)
            await _parked(conn)
            await written(False)
            seconds, spread = 3.0 * INTERVAL, 0.6
        await conn.execute(
            "UPDATE poller_shops SET next_poll_at = now() + random() * make_interval(secs => $1)",
            spread * INTERVAL,
        )
    window.seconds = seconds
    shops = "SELECT poll_key, last_poll_at FROM poller_shops"
    last: dict[str, datetime | None] = {
        r["poll_key"]: r["last_poll_at"] for r in await conn.fetch(shops)
    }
    await conn.execute("SELECT pg_stat_statements_reset()")
    before = cpu_seconds_by_process()
    until = time.monotonic() + seconds
    polling = asyncio.create_task(bare(until)) if bare else None
    profiled = await _profiled(name, seconds, before) if PROFILE and bare is None else None
    polled: list[str] = []
    # Sampled before the counts start, once a second, and once more at the window's end,
    # the figures read right after: a poll ending outside the samples would be counted in
    # the statements and CPU, not in the polls.
    while True:
        for row in await conn.fetch(shops):
            key, at = row["poll_key"], row["last_poll_at"]
            if key in last and at != last[key]:
                window.polls += 1
                polled.append(key)
            last[key] = at
        if written is not None:  # each shop once: parked once polled, the window until all were
            await conn.execute(PARKED, polled)
            if window.polls >= len(last):
                await _relayed(conn)  # the last polls' events, inside the window
                break
        left = until - time.monotonic()
        if left <= 0:
            break
        await asyncio.sleep(min(1.0, left))
    window.seconds = seconds - max(0.0, until - time.monotonic())
    if polling is not None:
        await polling
    if profiled is not None:
        await profiled.wait()
    window.cpu = cpu_spent_by_process(before, cpu_seconds_by_process())
    rows = await conn.fetch(
        "SELECT calls, query FROM pg_stat_statements ORDER BY calls DESC LIMIT 40"
    )
    for row in rows:
        query = " ".join(row["query"].split())
        if _counted(query):
            window.statements += row["calls"]
            print(f"bench_poll_floor {name}: {row['calls']:>6} × {query[:150]}")
    return window


async def _profiled(
    name: str, seconds: float, processes: dict[int, tuple[str, float]]
) -> asyncio.subprocess.Process:
    """py-spy sampling the poller's process for the window (without stopping it)."""
    pid = next(p for p, (program, _) in processes.items() if program == "keybuzz_poller")
    await asyncio.to_thread(Path(PROFILE).mkdir, parents=True, exist_ok=True)
    out = Path(PROFILE) / f"{name.replace(': ', '-').replace(' ', '_').replace(',', '')}.txt"
    spy = Path(sys.executable).parent / "py-spy"
    return await asyncio.create_subprocess_exec(
        str(spy),
        "record",
        "-p",
        str(pid),
        "-d",
        str(int(seconds)),
        "-r",
        "250",
        "--native" if NATIVE else "--nonblocking",
        "-f",
        "raw",
        "-o",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


LEASED = "SELECT EXISTS (SELECT 1 FROM poller_shops WHERE lease_expires_at > now())"
UNRELAYED = "SELECT EXISTS (SELECT 1 FROM event_outbox WHERE published_at IS NULL)"


async def _relayed(conn: asyncpg.Connection) -> None:
    """Until the outbox holds no event left to publish (at most 10 s)."""
    give_up = time.monotonic() + 10
    while await conn.fetchval(UNRELAYED) and time.monotonic() < give_up:  # noqa: ASYNC110
        await asyncio.sleep(0.1)


async def _parked(conn: asyncpg.Connection) -> None:
    """No shop due (its polls in flight ended): the page is written before any is polled."""
    park = "UPDATE poller_shops SET next_poll_at = now() + interval '1 day'"
    await conn.execute(park)
    give_up = time.monotonic() + 10  # a lease left by a failed poll expires meanwhile
    while await conn.fetchval(LEASED) and time.monotonic() < give_up:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await conn.execute(park)


async def _warmed(conn: asyncpg.Connection) -> None:
    """Every shop polled once by the poller just started before its window: its sessions
    opened (keys read, tokens granted) as the window's polls find them. A poller started
    after another's window otherwise pays its shops' first polls inside its own: cold
    sessions counted against it (+0.5 ms a poll and twice the PostgreSQL and OpenBao CPU
    in this bench's second poller window, before this warm-up)."""
    started = await conn.fetchval("SELECT now()")
    await conn.execute(
        "UPDATE poller_shops SET next_poll_at = now() + random() * make_interval(secs => $1)",
        float(INTERVAL),
    )
    query = "SELECT count(*) FROM poller_shops WHERE last_poll_at IS NULL OR last_poll_at < $1"
    until = time.monotonic() + 3 * INTERVAL  # a shop failing its polls does not hold the bench
    while await conn.fetchval(query, started) and time.monotonic() < until:  # noqa: ASYNC110
        await asyncio.sleep(1.0)


# Not a poll's statements: this bench's own reads, the pool's upkeep (asyncpg's reset on
# release) and transaction control.
NOT_A_POLLS_WITHIN = ("pg_stat_statements", "last_poll_at FROM poller_shops", "'2 days'")
# A shop polled in a window with a page of new messages: not due again in it.
PARKED = "UPDATE poller_shops SET next_poll_at = now() + interval '2 days' WHERE poll_key = ANY($1)"
NOT_A_POLLS_FIRST = (
    "SELECT PG_ADVISORY_UNLOCK_ALL",
    "CLOSE ALL",
    "UNLISTEN",
    "RESET ALL",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
)


def _counted(query: str) -> bool:
    within = any(part in query for part in NOT_A_POLLS_WITHIN)
    return not within and not query.upper().startswith(NOT_A_POLLS_FIRST)


def _figure(name: str, value: float, unit: str) -> Figure:
    return {"name": name, "value": value, "unit": unit}


def _figures(windows: list[Window], floor_name: str = "bare loop (httpx)") -> list[Figure]:
    figures: list[Figure] = []
    per_poll: dict[str, float] = {}
    for w in windows:
        polls = max(w.polls, 1)
        per_poll[w.name] = 1000 * w.cpu.get(w.own, 0.0) / polls
        figures.append(_figure(f"{w.name}: polls in {w.seconds:.0f} s", float(w.polls), "polls"))
        figures.append(_figure(f"{w.name}: its own CPU a poll", per_poll[w.name], "ms"))
        for process in ("postgres", "keybuzz_sandbox", "bao", "nats-server", "worker processes"):
            spent = 1000 * w.cpu.get(process, 0.0) / polls
            figures.append(_figure(f"{w.name}: {process} CPU a poll", spent, "ms"))
        figures.append(_figure(f"{w.name}: statements a poll", w.statements / polls, "stmts"))
        print(f"bench_poll_floor {w.name}: CPU by process {w.cpu}")
    floor = per_poll.get(floor_name)
    if floor:
        for name, ms in per_poll.items():
            if name != floor_name:
                figures.append(_figure(f"{name} ÷ {floor_name}", ms / floor, "×"))
    return figures
