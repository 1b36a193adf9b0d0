"""Shop polling scale: one poller instance polling Fnac/Darty shops at the 60 s interval,
and a buyer's new message → its ticket while it does.

Set-up (timed, not measured against the aims): the sandbox in a process of its own
hosting ``N`` small shops beside its seeded ones (``SANDBOX_FNAC_EXTRA_SHOPS``, Fnac and
Darty in turn, 12 orders in 90 days each), a PostgreSQL of the bench's own (with
``pg_stat_statements``), each shop connected as oauth does it (its key written to Vault at
``secret/keybuzz/tenants/<tenant>/<fnac|darty>_api``, then ``connection.connected`` with
its marketplace, through a poller instance with polling off), and each shop's first poll
(its 30 days of history stored, ~2 messages a shop, marked read) by the measured instance.

Measured: that instance, ``python -m keybuzz_poller`` in a process of its own as in
production (``FNAC_POLL_INTERVAL_SECONDS`` ``I``, ``POLL_CONCURRENCY`` its default unless
``BENCH_SHOP_POLLING_CONCURRENCY``), every shop's next poll spread over the interval, for
``ROUNDS`` intervals: polls/s held vs asked, poll lag from ``poller_shops`` (start: claimed
− scheduled; end: completed − scheduled) p50/p99/max, failed polls, CPU per poll of every
process (``/proc``: the poller, the double, PostgreSQL, OpenBao, NATS, this process), the
poller's peak RSS (and its anonymous part, the process's own) and PostgreSQL's time per
statement. Meanwhile buyers write ``WRITE_RATE`` new messages a second to shops drawn at random
(``POST /_sandbox/fnac/shops/{id}/messages``): each is timed from the double's 201 to its
ticket message's row (read every 0.1 s: what ``GET /api/v1/tickets/{id}`` shows) and to
its ``message.received`` on NATS. Baselines of the same run, before the polls: the two
queries of a poll (incidents, then messages) sent straight to the double with our
``FnacClient`` over the same shops at the same concurrency, with the double's CPU per
such poll; the claim statement alone on ``poller_shops``; Vault reads of the shops' keys.

``BENCH_SHOP_POLLING_SHOPS`` (10,000) / ``BENCH_SHOP_POLLING_INTERVAL`` (60 s) /
``BENCH_SHOP_POLLING_ROUNDS`` (3) / ``BENCH_SHOP_POLLING_MESSAGES_PER_SECOND`` (1).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import asyncpg
import httpx
import msgspec
import nats
from keybuzz_connector_fnac.client import FnacClient, FnacCredentials, xml_instant
from keybuzz_connector_fnac.connector import LIMITS as FNAC_LIMITS
from keybuzz_connector_fnac.models import ByCreation, DateRange, IncidentsQuery, MessagesQuery
from keybuzz_devstack import bootstrap, infra
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_poller.polling.shops_store import PostgresShopSchedule
from keybuzz_poller.shops.api_source import key_path
from keybuzz_poller.shops.domain import Shop
from keybuzz_shared.events import ConnectionConnected, encode_event, event_headers
from keybuzz_shared.vault import VaultClient

from bench.bench_poll_scale import _cpu_seconds, _rss_mib, _short, _start_poller, _wait_ready
from bench.bench_poller import _poller
from bench.harness import (
    BenchContext,
    Figure,
    cpu_figures,
    cpu_seconds_by_process,
    cpu_spent_by_process,
    sample_poll_lags,
    timed,
)

SHOPS = int(os.environ.get("BENCH_SHOP_POLLING_SHOPS", "10000"))
INTERVAL = int(os.environ.get("BENCH_SHOP_POLLING_INTERVAL", "60"))
ROUNDS = int(os.environ.get("BENCH_SHOP_POLLING_ROUNDS", "3"))
WRITE_RATE = float(os.environ.get("BENCH_SHOP_POLLING_MESSAGES_PER_SECOND", "1"))
CONCURRENCY = os.environ.get("BENCH_SHOP_POLLING_CONCURRENCY", "")  # "": the poller's default
SETUP_CONCURRENCY = 16  # Vault writes, baseline polls at a time
BASELINE_SHOPS = min(SHOPS, 2_000)  # shops the baselines poll straight
SAMPLE_SECONDS = 1.0
VISIBLE_CHECK_SECONDS = 0.1
LEASE_SECONDS = 30.0
OVERLAP = timedelta(minutes=10)  # a poll reads from 10 minutes before its cursor
TABLE = ("poller_shops", "poll_key")


async def run(ctx: BenchContext) -> list[Figure]:
    with double_and_postgres(ctx, SHOPS, "shops", statements=True) as (sandbox_url, pg_url):
        return await _measure(ctx, sandbox_url, pg_url)


@contextmanager
def double_and_postgres(
    ctx: BenchContext,
    shops: int,
    label: str,
    statements: bool = False,
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, str]]:
    """The sandbox hosting ``shops`` extra Fnac/Darty shops (and whatever ``env`` asks of
    it) and a PostgreSQL (with ``pg_stat_statements`` if ``statements``), each a process
    of its own: their URLs."""
    spec = infra.sandbox_spec(infra.free_port(), "1")
    spec.env["SANDBOX_FNAC_EXTRA_SHOPS"] = str(shops)
    spec.env.update(env or {})
    sandbox = infra.RunningServer(spec, ctx.root / f"{label}-sandbox.log").start(timeout=120)
    pg_spec = infra.postgres_spec(ctx.root / f"{label}-pg" / "data", infra.free_port())
    if statements:
        pg_spec.command += ["-c", "shared_preload_libraries=pg_stat_statements"]
    pg = infra.RunningServer(pg_spec, ctx.root / f"{label}-pg.log").start(timeout=60)
    try:
        yield spec.url, pg_spec.url
    finally:
        pg.stop()
        sandbox.stop()


@dataclass
class Connected:
    """A shop of the double connected to a tenant of its own."""

    shop: Shop
    credentials: FnacCredentials

    @property
    def secret(self) -> dict[str, str]:
        """What oauth keeps of the shop in Vault."""
        c = self.credentials
        return {"partner_id": c.partner_id, "shop_id": c.shop_id, "key": c.key}

    @property
    def seller_id(self) -> str:
        return self.credentials.shop_id


class ConnectedShop(Protocol):
    """A shop of a double connected to a tenant of its own, whatever its marketplace."""

    @property
    def shop(self) -> Shop: ...

    @property
    def secret(self) -> dict[str, str]: ...

    @property
    def seller_id(self) -> str: ...


Item = TypeVar("Item")


async def extra_fnac_shops(sandbox_url: str, count: int, label: str) -> list[Connected]:
    """The double's ``count`` extra Fnac/Darty shops, each for a tenant of its own."""
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/fnac", timeout=120) as admin:
        listed = (await admin.get("/shops")).json()
    extra = [s for s in listed if s["name"].startswith("KeyBuzz Boutique")][:count]
    assert len(extra) == count, f"the double hosts {len(extra)} extra shops, not {count}"
    return [
        Connected(
            Shop(f"{label}{n:05d}{uuid.uuid4().hex[:6]}", s["marketplace"]),
            FnacCredentials(s["partner_id"], s["shop_id"], s["key"]),
        )
        for n, s in enumerate(extra)
    ]


async def _measure(ctx: BenchContext, sandbox_url: str, postgres_url: str) -> list[Figure]:
    shops = await extra_fnac_shops(sandbox_url, SHOPS, "shop")
    database = await bootstrap.create_scratch_database(postgres_url, "shoppoll")
    api = {"FNAC_API_URL": f"{sandbox_url}/fnac/api.php/"}
    setup = await connect_shops(ctx, database, api, shops)
    vault = VaultClient(ctx.vault_addr, token=DEV_VAULT_ROOT_TOKEN)
    try:
        vault_rate = await _vault_reads(vault, shops[:BASELINE_SHOPS])
    finally:
        await vault.aclose()
    claim_rate = await _claim_alone(database)
    settings = {**api, "FNAC_POLL_INTERVAL_SECONDS": str(INTERVAL)}
    if CONCURRENCY:
        settings["POLL_CONCURRENCY"] = CONCURRENCY
    poller = _start_poller(ctx, database, settings, INTERVAL)
    conn = await asyncpg.connect(database)
    try:
        await _wait_ready(poller)
        setup["first polls"] = await timed(lambda: _first_polls(conn))
        stored = await conn.fetchval("SELECT count(*) FROM poller_external_messages")
        # The baselines with the poller idle: every shop's next poll an interval away.
        await conn.execute("UPDATE poller_shops SET next_poll_at = now() + interval '1 hour'")
        straight = await _straight_polls(sandbox_url, shops[:BASELINE_SHOPS])
        run = await _steady(ctx, database, conn, poller.process.pid, sandbox_url, shops)
    finally:
        poller.stop()
        await conn.close()
    return _figures(setup, stored, straight, claim_rate, vault_rate, run)


async def _gathered(
    items: Sequence[Item], action: Callable[[Item], Awaitable[Any]], at_once: int
) -> None:
    """``action`` on every item, ``at_once`` at a time."""
    queue: asyncio.Queue[Item] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            await action(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(at_once)))


async def _write_keys(vault: VaultClient, shops: Sequence[ConnectedShop]) -> None:
    """oauth's first step: each shop's key in Vault."""

    async def write(c: ConnectedShop) -> None:
        await vault.write(key_path(c.shop), c.secret)

    await _gathered(shops, write, SETUP_CONCURRENCY)


async def _connect(known: Any, shops: Sequence[ConnectedShop]) -> None:
    """oauth's second: ``connection.connected`` with the shop's marketplace."""
    js = known.runtime.js
    for c in shops:
        event = ConnectionConnected(
            tenant_id=c.shop.tenant_id,
            marketplace=c.shop.marketplace,
            connection_id=str(uuid.uuid4()),
            seller_id=c.seller_id,
            marketplace_ids=[],
            region="eu",
        )
        await js.publish(event.type, encode_event(event), headers=event_headers(event))
    query = "SELECT count(*) FROM poller_shops WHERE connection = 'CONNECTED'"
    while await known.runtime.pool.fetchval(query) < len(shops):  # noqa: ASYNC110
        await asyncio.sleep(0.2)


async def connect_shops(
    ctx: BenchContext, database: str, api: dict[str, str], shops: Sequence[ConnectedShop]
) -> dict[str, float]:
    """Each shop connected as oauth does it (``_write_keys``, then ``_connect`` through a
    poller with polling off): the seconds each step took, by ``"keys"`` and ``"connected"``."""
    setup: dict[str, float] = {}
    vault = VaultClient(ctx.vault_addr, token=DEV_VAULT_ROOT_TOKEN)
    try:
        setup["keys"] = await timed(lambda: _write_keys(vault, shops))
        known = await _poller(ctx, database, {}, poll=False, **api)
        try:
            setup["connected"] = await timed(lambda: _connect(known, shops))
        finally:
            await known.stop()
    finally:
        await vault.aclose()
    return setup


async def _first_polls(conn: asyncpg.Connection) -> None:
    """Until every shop was polled once (each due since it connected); a first poll that
    failed on a loaded machine (cut at its deadline) and succeeded when retried is set-up
    all the same, and said."""
    query = "SELECT count(*) FROM poller_shops WHERE last_success_at IS NULL"
    while await conn.fetchval(query):  # noqa: ASYNC110
        await asyncio.sleep(1)
    failed = await conn.fetchval("SELECT count(*) FROM poller_shops WHERE last_error IS NOT NULL")
    if failed:
        print(f"set-up: {failed} shops' first polls failed once, then succeeded")


async def _vault_reads(vault: VaultClient, shops: list[Connected]) -> float:
    """Baseline: the shops' keys read from Vault, as a poll does, 8 at a time: reads/s."""

    async def read(c: Connected) -> None:
        assert await vault.read(key_path(c.shop))

    return len(shops) / await timed(lambda: _gathered(shops, read, 8))


@dataclass
class Straight:
    polls_per_second: float
    double_ms_per_poll: float


async def _straight_polls(sandbox_url: str, shops: list[Connected]) -> Straight:
    """Baseline: a poll's two queries sent straight to the double with ``FnacClient`` (each
    shop authenticated first, as the poller's clients are), 8 shops at a time."""
    base = f"{sandbox_url}/fnac/api.php/"
    async with httpx.AsyncClient(timeout=60) as http:
        clients = {c.shop.key: FnacClient(http, base, c.credentials) for c in shops}

        async def authenticate(c: Connected) -> None:
            await clients[c.shop.key].authenticate()

        await _gathered(shops, authenticate, 8)
        since = datetime.now(UTC) - OVERLAP

        async def poll(c: Connected) -> None:
            client = clients[c.shop.key]
            incidents = IncidentsQuery(
                page=1,
                results_count=FNAC_LIMITS.page_size,
                date=DateRange(type="UpdatedAt", min=xml_instant(since)),
            )
            await client.listed(incidents)
            await client.listed(
                MessagesQuery(
                    page=1,
                    results_count=FNAC_LIMITS.page_size,
                    date=DateRange(type="CreatedAt", min=xml_instant(since)),
                    sort=ByCreation("ASC"),
                )
            )

        before = cpu_seconds_by_process()
        seconds = await timed(lambda: _gathered(shops, poll, 8))
        cpu = cpu_spent_by_process(before, cpu_seconds_by_process())
    return Straight(len(shops) / seconds, 1000 * cpu.get("keybuzz_sandbox", 0.0) / len(shops))


async def _claim_alone(database: str) -> float:
    """Baseline: the shops' claim statement alone (one shop a claim, rolled back) over the
    same rows spread over the interval, eight of them due: claims/s on one connection.
    Then every shop is due again, for its first poll."""
    conn = await asyncpg.connect(database)
    try:
        return await _claims(conn)
    finally:
        await conn.execute("UPDATE poller_shops SET next_poll_at = now()")
        await conn.close()


async def _claims(conn: asyncpg.Connection) -> float:
    await _spread(conn)
    await conn.execute(
        "UPDATE poller_shops SET next_poll_at = now() - interval '1 s' "
        "WHERE poll_key IN (SELECT poll_key FROM poller_shops LIMIT 8)"
    )
    await conn.execute("VACUUM ANALYZE poller_shops")
    schedule = PostgresShopSchedule(conn)
    claims, deadline = 0, time.perf_counter() + 3.0
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        transaction = conn.transaction()
        await transaction.start()
        assert await schedule.claim_due("bench", 1, LEASE_SECONDS, float(INTERVAL))
        await transaction.rollback()
        claims += 1
    return claims / (time.perf_counter() - start)


async def _spread(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "UPDATE poller_shops SET next_poll_at = now() + random() * make_interval(secs => $1)",
        float(INTERVAL),
    )


# --- the measured run ----------------------------------------------------------------------


@dataclass
class Written:
    """A buyer's message written at the double: when (its 201), and when it was seen."""

    shop: Shop
    message_id: str
    preview: str
    at: float
    ticket: float | None = None
    event: float | None = None


@dataclass
class Run:
    lags: list[float] = field(default_factory=list)
    start_lags: list[float] = field(default_factory=list)
    displaced: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: float = 0.0
    peak_anonymous_mib: float = 0.0  # RssAnon: the process's own (not mapped files' pages)
    seconds: float = 0.0
    written: list[Written] = field(default_factory=list)
    statements: list[asyncpg.Record] = field(default_factory=list)
    load: str = ""


async def _steady(
    ctx: BenchContext,
    database: str,
    conn: asyncpg.Connection,
    poller_pid: int,
    sandbox_url: str,
    shops: list[Connected],
) -> Run:
    result = Run()
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    await _spread(conn)
    await conn.execute("SELECT pg_stat_statements_reset()")
    started = await conn.fetchval("SELECT now()")
    duration = INTERVAL * ROUNDS
    peak = [0.0, 0.0]

    def rss() -> None:
        peak[0] = max(peak[0], _rss_mib(poller_pid))
        peak[1] = max(peak[1], _rss_mib(poller_pid, "RssAnon"))

    events = await nats.connect(ctx.nats_url)
    pending: dict[str, Written] = {}

    async def on_event(message: Any) -> None:
        _on_event(message, pending)

    await events.subscribe("message.received", cb=on_event)
    checker = await asyncpg.connect(database)
    cpu_before = cpu_seconds_by_process()
    poller_before = _cpu_seconds(poller_pid)
    try:
        sampling = asyncio.create_task(
            sample_poll_lags(
                conn,
                INTERVAL,
                duration,
                started,
                every=SAMPLE_SECONDS,
                on_sample=rss,
                table=TABLE,
                start_lags=result.start_lags,
            )
        )
        watching = asyncio.create_task(_watch_tickets(checker, pending))
        result.written = await _write_messages(sandbox_url, shops, duration, pending)
        result.lags, result.displaced = await sampling
        result.cpu = cpu_spent_by_process(cpu_before, cpu_seconds_by_process())
        result.seconds = duration
        result.peak_rss_mib, result.peak_anonymous_mib = peak
        result.load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
        # The messages written last may still be on their way: up to an interval and a half.
        give_up = time.perf_counter() + 1.5 * INTERVAL
        while any(w.ticket is None or w.event is None for w in result.written):
            if time.perf_counter() > give_up:
                break
            await asyncio.sleep(0.5)
        watching.cancel()
    finally:
        await events.close()
        await checker.close()
    print(
        f"bench_shop_polling: poller CPU {_cpu_seconds(poller_pid) - poller_before:.1f} s",
        file=sys.stderr,
    )
    result.failed = await conn.fetchval(
        "SELECT count(*) FROM poller_shops WHERE last_error_at > $1", started
    )
    result.errors = [
        r["last_error"]
        for r in await conn.fetch(
            "SELECT DISTINCT last_error FROM poller_shops WHERE last_error_at > $1 LIMIT 5",
            started,
        )
    ]
    result.statements = await conn.fetch(
        """
        SELECT calls, total_exec_time, mean_exec_time, query FROM pg_stat_statements
        WHERE query ILIKE '%poller_%' OR query ILIKE '%event_outbox%'
        ORDER BY total_exec_time DESC LIMIT 10
        """
    )
    return result


async def _write_messages(
    sandbox_url: str, shops: list[Connected], duration: float, pending: dict[str, Written]
) -> list[Written]:
    """Buyers write ``WRITE_RATE`` messages a second for ``duration`` s, each to a shop
    drawn at random, about the shop's latest order."""
    written: list[Written] = []
    rng = random.Random(28)
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/fnac", timeout=30) as admin:
        start = time.perf_counter()
        n = 0
        while (due := start + n / WRITE_RATE) < start + duration:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            target = rng.choice(shops)
            text = f"bench {n} {uuid.uuid4().hex[:8]}: où en est ma commande ?"
            answer = await admin.post(
                f"/shops/{target.credentials.shop_id}/messages",
                json={"subject": "Livraison", "description": text},
            )
            at = time.perf_counter()
            assert answer.status_code == 201, answer.text
            one = Written(target.shop, answer.json()["messageId"], text, at)
            pending[one.message_id] = one
            written.append(one)
            n += 1
    return written


def _on_event(message: Any, pending: dict[str, Written]) -> None:
    event = msgspec.json.decode(message.data)
    preview = event.get("preview", "")
    if not preview.startswith("bench "):
        return
    for one in pending.values():
        if one.event is None and one.preview == preview:
            one.event = time.perf_counter() - one.at
            return


async def _watch_tickets(conn: asyncpg.Connection, pending: dict[str, Written]) -> None:
    """Every 0.1 s: which written messages are in a ticket (committed, so listed)."""
    while True:
        waiting = [w for w in pending.values() if w.ticket is None]
        if waiting:
            rows = await conn.fetch(
                """
                SELECT e.external_id
                FROM unnest($1::text[], $2::text[], $3::text[]) AS w (tenant, marketplace, id)
                JOIN poller_external_messages e ON e.tenant_id = w.tenant
                     AND e.marketplace = w.marketplace AND e.external_id = w.id
                JOIN poller_ticket_messages m ON m.external_message_id = e.id
                """,
                [w.shop.tenant_id for w in waiting],
                [w.shop.marketplace for w in waiting],
                [w.message_id for w in waiting],
            )
            now = time.perf_counter()
            for row in rows:
                one = pending[row["external_id"]]
                one.ticket = now - one.at
        await asyncio.sleep(VISIBLE_CHECK_SECONDS)


# --- figures -------------------------------------------------------------------------------


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p99, max (nan when empty)."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def _figures(
    setup: dict[str, float],
    stored: int,
    straight: Straight,
    claim_rate: float,
    vault_rate: float,
    run: Run,
) -> list[Figure]:
    polls = len(run.lags) + run.displaced
    asked = SHOPS / INTERVAL
    start50, start99, start_max = _quantiles(run.start_lags)
    end50, end99, end_max = _quantiles(run.lags)
    cpu_total = sum(run.cpu.values())
    poller_cpu = run.cpu.get("keybuzz_poller", 0.0) + run.cpu.get("worker processes", 0.0)
    size = f"{SHOPS} shops every {INTERVAL} s × {ROUNDS}"
    statements = "; ".join(
        f"{_short(r['query'])}: {r['calls']} calls, {r['mean_exec_time']:.3f} ms mean, "
        f"{r['total_exec_time'] / 1000:.1f} s total"
        for r in run.statements
    )
    print(f"bench_shop_polling statements: {statements}", file=sys.stderr)
    tickets = [w.ticket for w in run.written]
    events = [w.event for w in run.written]
    seen = [t for t in tickets if t is not None]
    t50, t99, t_max = _quantiles(
        [t if t is not None else float("inf") for t in tickets] if tickets else []
    )
    e50, e99, e_max = _quantiles([e if e is not None else float("inf") for e in events])
    per_poll = 1000 * cpu_total / max(polls, 1)
    return [
        {
            "name": f"set-up: {SHOPS} shops' first polls (history stored, marked read)",
            "value": SHOPS / setup["first polls"],
            "unit": "polls/s",
            "note": f"{stored} messages stored in {setup['first polls']:.0f} s; keys in Vault "
            f"{setup['keys']:.0f} s, connection.connected × {SHOPS} {setup['connected']:.0f} s",
        },
        {
            "name": f"a poll's two queries straight to the double (FnacClient, 8 at a time, "
            f"{BASELINE_SHOPS} shops)",
            "value": straight.polls_per_second,
            "unit": "polls/s",
            "note": f"the double's CPU {straight.double_ms_per_poll:.2f} ms per poll",
        },
        {
            "name": "claim statement alone on poller_shops (1 a claim, rolled back)",
            "value": claim_rate,
            "unit": "claims/s",
        },
        {"name": "Vault reads of shops' keys, 8 at a time", "value": vault_rate, "unit": "reads/s"},
        {
            "name": f"polling: {size} (mostly empty polls)",
            "value": polls / run.seconds,
            "unit": "polls/s",
            "baseline": asked,
            "note": f"baseline: asked; POLL_CONCURRENCY {CONCURRENCY or 'default (8)'}; "
            f"{run.displaced} of {polls} polls more than an interval "
            f"late; {run.failed} shops with a failed poll {run.errors}; poller CPU "
            f"{100 * poller_cpu / run.seconds:.0f} % of a core, peak RSS "
            f"{run.peak_rss_mib:.0f} MiB (anonymous {run.peak_anonymous_mib:.0f} MiB); "
            f"load average at the end {run.load}",
        },
        {
            "name": "poll lag, start (claimed − scheduled) p99",
            "value": start99,
            "unit": "s",
            "note": f"p50 {start50:.2f} s, max {start_max:.2f} s; aim p99 ≤ 2 s",
        },
        {
            "name": "poll lag, end (completed − scheduled) p99",
            "value": end99,
            "unit": "s",
            "note": f"p50 {end50:.2f} s, max {end_max:.2f} s",
        },
        {
            "name": f"buyer's new message → its ticket ({len(seen)} of {len(tickets)} seen)",
            "value": t99,
            "unit": "s p99",
            "note": f"p50 {t50:.2f} s, max {t_max:.2f} s; aim p99 ≤ {INTERVAL + 1} s "
            f"(interval + 1 s); {WRITE_RATE:g} a second to random shops",
        },
        {
            "name": "buyer's new message → message.received on NATS",
            "value": e99,
            "unit": "s p99",
            "note": f"p50 {e50:.2f} s, max {e_max:.2f} s",
        },
        {
            "name": "CPU per poll, every process together",
            "value": per_poll,
            "unit": "ms",
            "note": f"{cpu_total / run.seconds:.2f} cores over the run; 2 cores host "
            f"{2000 / per_poll:.0f} polls/s: {2000 / per_poll * INTERVAL:,.0f} shops at "
            f"{INTERVAL} s; the poller alone (one process) "
            f"{1000 * poller_cpu / max(polls, 1):.2f} ms: {INTERVAL * polls / poller_cpu:,.0f} "
            "shops a core",
        },
        *cpu_figures("shop polls", run.cpu, max(polls, 1), scale=1000, unit="ms", per="poll"),
        {
            "name": "PostgreSQL: the poller's statements, total execution time",
            "value": sum(r["total_exec_time"] for r in run.statements) / 1000 / run.seconds,
            "unit": "s per s",
            "note": "pg_stat_statements, the 10 costliest naming poller_ or event_outbox",
        },
    ]
