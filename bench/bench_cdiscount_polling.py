"""Cdiscount shops polled beside Fnac's by one poller instance at the 60 s interval; a
buyer's new Cdiscount message → its ticket, and a reply on its ticket → on the double's
discussion, while it does.

Set-up (timed, not measured against the aims): the sandbox in a process of its own hosting
``FNAC`` small Fnac/Darty shops (``SANDBOX_FNAC_EXTRA_SHOPS``) and ``SHOPS`` small Cdiscount
shops (``SANDBOX_CDISCOUNT_EXTRA_SHOPS``, 12 orders in 90 days each), a PostgreSQL of the
bench's own, each shop connected as oauth does it (its credentials in Vault at the
connector's path, then ``connection.connected`` through a poller with polling off), and
every shop's first poll by the measured instance.

Measured: that instance, ``python -m keybuzz_poller`` in a process of its own (every
marketplace's ``*_POLL_INTERVAL_SECONDS`` ``INTERVAL``, ``SHOP_POLL_CONCURRENCY``
``BENCH_CDISCOUNT_POLLING_CONCURRENCY``), each shop's next poll spread over the interval.
First the baseline: ``ROUNDS`` intervals with Fnac's shops alone (the Cdiscount rows set
aside). Then ``ROUNDS`` intervals with both, the Cdiscount shops each due at a random point
of the first. Both times, each marketplace's poll lag from ``poller_shops`` (start: claimed
− scheduled; end: completed − scheduled) p50/p99/max, polls/s held against asked, failed
polls, and the CPU each process spent (``/proc``) per poll: Fnac's alone, then Cdiscount's
as what the second phase cost over the first's Fnac polls, and the shop count that implies;
and the double's 429s to Fnac's and Octopia's calls (its access log).

While both poll, buyers open ``WRITE_RATE`` new discussions a second on Cdiscount shops
drawn at random (``POST /_sandbox/cdiscount/shops/{sellerId}/discussions``): each is timed
from the double's 201 to its ticket message's row (read every 0.1 s) and to its
``message.received``. As soon as its ticket is seen, a reply is posted on it (``POST
/api/v1/tickets/{id}/replies``, 202) and timed to the double's discussion (``GET
/_sandbox/cdiscount/shops/{sellerId}/sent``, read every 0.1 s: queued → on the double).

Baselines of the same run: Fnac's shops alone (above); a Cdiscount poll's listing sent
straight to the double by the connector's session (``inbox_messages``, each shop's token
first, 8 shops at a time) before the polls, with the double's CPU per such poll; and after
them, the same number of replies sent straight by the connector's session (``reply``: the
discussion read, then the message posted) on the same discussions, timed the same way.

With ``BENCH_CDISCOUNT_POLLING_POLLERS`` (1) above 1, that many instances share the shops
through the schedule's leases, and over the phase with both (``poller_split``): each
instance's polls and shops, the shops polled twice within an interval, read from the
schedule's rows (a trigger records each poll's end and its lease's owner), not from the
pollers; with ``BENCH_CDISCOUNT_POLLING_KILL_AFTER`` (0: none) seconds into that phase, the
last instance is killed (SIGKILL, as soon as it holds a lease) and its shops' takeover timed.

``BENCH_CDISCOUNT_POLLING_SHOPS`` (10,000) / ``BENCH_CDISCOUNT_POLLING_FNAC_SHOPS`` (10,000)
/ ``BENCH_CDISCOUNT_POLLING_INTERVAL`` (60 s) / ``BENCH_CDISCOUNT_POLLING_ROUNDS`` (1) /
``BENCH_CDISCOUNT_POLLING_MESSAGES_PER_SECOND`` (1) / ``BENCH_CDISCOUNT_POLLING_CONCURRENCY``
(32).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import httpx
import nats
from keybuzz_connector_fnac.client import FnacCredentials
from keybuzz_devstack import bootstrap
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.shops.domain import Shop
from keybuzz_sandbox.doubles import service_env
from keybuzz_shared.auth import issue_token
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import (
    MarketplaceSession,
    Reply,
    ShopApiSettings,
    ThreadKey,
)
from keybuzz_shared.settings import DEV_JWT_SECRET, load_settings

from bench.bench_poll_scale import PollerProcess, _start_poller, _wait_ready
from bench.bench_shop_polling import (
    TABLE,
    Connected,
    Written,
    _first_polls,
    _gathered,
    _on_event,
    _quantiles,
    _watch_tickets,
    connect_shops,
    double_and_postgres,
)
from bench.bench_slow_shops import _PROCESSES
from bench.harness import (
    BenchContext,
    Figure,
    cpu_seconds_by_process,
    cpu_spent_by_process,
    sample_poll_lags,
    timed,
)
from bench.poller_split import POLLS_LOG, Kill, kill_after, split_figures, wait_taken_over

SHOPS = int(os.environ.get("BENCH_CDISCOUNT_POLLING_SHOPS", "10000"))
FNAC = int(os.environ.get("BENCH_CDISCOUNT_POLLING_FNAC_SHOPS", "10000"))
INTERVAL = int(os.environ.get("BENCH_CDISCOUNT_POLLING_INTERVAL", "60"))
ROUNDS = int(os.environ.get("BENCH_CDISCOUNT_POLLING_ROUNDS", "1"))
WRITE_RATE = float(os.environ.get("BENCH_CDISCOUNT_POLLING_MESSAGES_PER_SECOND", "1"))
CONCURRENCY = os.environ.get("BENCH_CDISCOUNT_POLLING_CONCURRENCY", "32")
POLLERS = int(os.environ.get("BENCH_CDISCOUNT_POLLING_POLLERS", "1"))
# Seconds into the phase with both when the last instance is killed (SIGKILL); 0: none.
KILL_AFTER = float(os.environ.get("BENCH_CDISCOUNT_POLLING_KILL_AFTER", "0"))
MARKETPLACE = "CDISCOUNT"
BASELINE_SHOPS = min(SHOPS, 1_000)  # shops the straight listing baseline polls
WATCH_EVERY = 0.1
CDISCOUNT_ROWS = f"poll_key LIKE '{MARKETPLACE}:%'"
FNAC_ROWS = f"poll_key NOT LIKE '{MARKETPLACE}:%'"
EVERY_PROCESS = "every process but the bench"
LABEL = "cdiscount-polling"
# An answer in the double's access log (uvicorn's): the marketplace's prefix and the status.
ACCESS = re.compile(r'"[A-Z]+ /(?P<double>fnac|octopia)/\S* HTTP/[\d.]+" (?P<status>\d{3})')


@dataclass
class Seller:
    """A Cdiscount shop of the double connected to a tenant of its own."""

    shop: Shop
    secret: dict[str, str]  # client_id, client_secret, seller_id: what oauth keeps
    # The double's admin: a buyer opens a thread at the shop's THREADS, its answer names
    # the thread by THREAD_FIELD.
    THREADS: ClassVar[str] = "discussions"
    THREAD_FIELD: ClassVar[str] = "discussionId"

    @property
    def seller_id(self) -> str:
        return self.secret["seller_id"]

    @property
    def shop_path(self) -> str:
        """The shop on the double's admin (under /_sandbox)."""
        return f"/cdiscount/shops/{self.seller_id}"

    @property
    def threads_path(self) -> str:
        return f"{self.shop_path}/{self.THREADS}"

    @property
    def sent_path(self) -> str:
        return f"{self.shop_path}/sent"


def shop_api_view(api: Mapping[str, str], marketplace: str) -> ShopApiSettings:
    """The settings view a service started with ``api`` gives ``marketplace``'s sessions."""
    settings = load_settings(PollerSettings, api)
    view = settings.of(connector_for(marketplace).settings_type).shop_api(marketplace)
    assert view is not None, marketplace
    return view


async def run(ctx: BenchContext) -> list[Figure]:
    # Its take-over is read from the polls' log, kept only with several instances.
    assert not KILL_AFTER or POLLERS > 1, "KILL_AFTER asks for POLLERS of 2 or more"
    extra = {"SANDBOX_CDISCOUNT_EXTRA_SHOPS": str(SHOPS)}
    with double_and_postgres(ctx, FNAC, LABEL, env=extra) as (sandbox, pg):
        return await _measure(ctx, sandbox, pg, ctx.root / f"{LABEL}-sandbox.log")


async def _listed(
    sandbox_url: str, fnac_shops: int = FNAC, cdiscount_shops: int = SHOPS
) -> tuple[list[Connected], list[Seller]]:
    """The double's extra shops, each for a tenant of its own: Fnac's, then Cdiscount's."""
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox", timeout=300) as admin:
        fnac = [s for s in (await admin.get("/fnac/shops")).json() if "Boutique" in s["name"]]
        cdiscount = (await admin.get("/cdiscount/shops")).json()
    sellers = [s for s in cdiscount if "Boutique" in s["name"]]
    # The double's seller ids are 6 digits, drawn: two extra shops may draw one (a few in
    # a thousand at 10,000), and it lists that seller once.
    assert len(fnac) == fnac_shops and len(sellers) >= 0.99 * cdiscount_shops, (
        f"{len(fnac)}, {len(sellers)}"
    )
    return [
        Connected(
            Shop(f"fnac{n:05d}{uuid.uuid4().hex[:6]}", s["marketplace"]),
            FnacCredentials(s["partner_id"], s["shop_id"], s["key"]),
        )
        for n, s in enumerate(fnac)
    ], [
        Seller(
            Shop(f"cdis{n:05d}{uuid.uuid4().hex[:6]}", MARKETPLACE),
            {
                "client_id": s["clientId"],
                "client_secret": s["clientSecret"],
                "seller_id": s["sellerId"],
            },
        )
        for n, s in enumerate(sellers)
    ]


def _log_end(log: Path) -> int:
    return log.stat().st_size


def _answers(log: Path, offset: int) -> Counter[tuple[str, str]]:
    """The double's Fnac and Octopia answers by (prefix, status) in its log after ``offset``."""
    with log.open("rb") as read:
        read.seek(offset)
        text = read.read().decode(errors="replace")
    return Counter((m["double"], m["status"]) for m in ACCESS.finditer(text))


async def _measure(
    ctx: BenchContext, sandbox_url: str, postgres_url: str, sandbox_log: Path
) -> list[Figure]:
    fnac, sellers = await _listed(sandbox_url)
    database = await bootstrap.create_scratch_database(postgres_url, "cdiscountpoll")
    api = service_env(sandbox_url)
    setup = await connect_shops(ctx, database, api, [*fnac, *sellers])
    straight = await _straight_polls(api, sellers[:BASELINE_SHOPS])
    intervals = {
        f"{name}_POLL_INTERVAL_SECONDS": str(INTERVAL) for name in ("FNAC", "DARTY", MARKETPLACE)
    }
    settings = {**api, **intervals, "SHOP_POLL_CONCURRENCY": CONCURRENCY}
    # POLLERS instances share the shops through the schedule's leases, as in production.
    pollers: list[PollerProcess] = []
    split: list[Figure] = []
    conn = await asyncpg.connect(database)
    try:
        for _ in range(POLLERS):
            pollers.append(_start_poller(ctx, database, settings, INTERVAL))
        for poller in pollers:
            await _wait_ready(poller)
        setup["first polls"] = await timed(lambda: _first_polls(conn))
        if POLLERS > 1:
            await conn.execute(POLLS_LOG)
        await _set_aside(conn, CDISCOUNT_ROWS)
        await _spread(conn, FNAC_ROWS)
        offset = _log_end(sandbox_log)
        alone = await _phase(database, conn, (FNAC_ROWS,))
        alone.answers = _answers(sandbox_log, offset)
        await _bring_back(conn, CDISCOUNT_ROWS)
        traffic = Traffic(sandbox_url, database, pollers[0].port, sellers)
        offset = _log_end(sandbox_log)
        both_started, killed = await conn.fetchval("SELECT now()"), list[Kill]()
        if KILL_AFTER:
            killing = asyncio.create_task(kill_after(conn, pollers[-1], KILL_AFTER, killed))
        together = await traffic.during(ctx, _phase(database, conn, (FNAC_ROWS, CDISCOUNT_ROWS)))
        together.answers = _answers(sandbox_log, offset)
        if KILL_AFTER:
            await killing
            await wait_taken_over(conn, killed[0], INTERVAL)
        if POLLERS > 1:
            split = await split_figures(conn, pollers, both_started, INTERVAL, killed)
        raw = await traffic.raw_replies(api)
    finally:
        for poller in pollers:
            poller.stop()
        await conn.close()
    return [*_figures(setup, straight, alone, together, traffic, raw), *split]


async def _set_aside(conn: asyncpg.Connection, rows: str) -> None:
    """The ``rows`` not polled (disconnected) and not due: due, the claims would park them
    in their window ahead of the measured shops, a lag of the set-up's making."""
    await conn.execute(
        f"""UPDATE poller_shops SET connection = 'DISCONNECTED',
                next_poll_at = now() + interval '1 hour'
            WHERE {rows}"""
    )


async def _bring_back(conn: asyncpg.Connection, rows: str, interval: float = INTERVAL) -> None:
    """The ``rows`` set aside connected again, each due at a random point of ``interval``."""
    await conn.execute(f"UPDATE poller_shops SET connection = 'CONNECTED' WHERE {rows}")
    await _spread(conn, rows, interval)


async def _spread(conn: asyncpg.Connection, rows: str, interval: float = INTERVAL) -> None:
    await conn.execute(
        f"""UPDATE poller_shops SET next_poll_at = now() + random() * make_interval(secs => $1)
            WHERE {rows}""",
        float(interval),
    )


@dataclass
class Straight:
    polls_per_second: float
    double_ms_per_poll: float
    messages: int


async def _straight_polls(api: Mapping[str, str], sellers: list[Seller]) -> Straight:
    """Baseline: a poll's listing (the last 10 minutes' threads) sent straight to the
    double by the connector's session, each shop's credentials checked first, 8 shops at
    a time."""
    async with httpx.AsyncClient(timeout=60) as http:
        sessions = _sessions(api, sellers, http)

        async def authenticate(s: Seller) -> None:
            await sessions[s.shop.key].verify()

        await _gathered(sellers, authenticate, 8)
        since = datetime.now(UTC) - timedelta(minutes=10)
        listed = [0]

        async def poll(s: Seller) -> None:
            page = await sessions[s.shop.key].inbox_messages(since=since)
            listed[0] += len(page.items)

        before = cpu_seconds_by_process()
        seconds = await timed(lambda: _gathered(sellers, poll, 8))
        cpu = cpu_spent_by_process(before, cpu_seconds_by_process())
    double_ms = 1000 * cpu.get("keybuzz_sandbox", 0.0) / len(sellers)
    return Straight(len(sellers) / seconds, double_ms, listed[0])


def _sessions(
    api: Mapping[str, str], sellers: list[Seller], http: httpx.AsyncClient
) -> dict[str, MarketplaceSession]:
    """Each seller's session by its shop's key, as a service started with ``api`` makes it."""
    views = {m: shop_api_view(api, m) for m in {s.shop.marketplace for s in sellers}}
    sessions: dict[str, MarketplaceSession] = {}
    for s in sellers:
        shop_api = connector_for(s.shop.marketplace).shop_api
        assert shop_api is not None
        view = views[s.shop.marketplace]
        sessions[s.shop.key] = shop_api.session(s.secret, http=http, settings=view)
    return sessions


@dataclass
class Phase:
    lags: dict[str, tuple[list[float], list[float], int]]  # rows → end lags, start lags, late
    failed: dict[str, int]
    cpu: dict[str, float]
    load: str
    # The double's Fnac and Octopia answers by (prefix, status) over the phase and what
    # followed it (the last messages' and replies' wait).
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)


async def _phase(
    database: str,
    conn: asyncpg.Connection,
    rows: tuple[str, ...],
    interval: int = INTERVAL,
    rounds: float = ROUNDS,
) -> Phase:
    """``rounds`` intervals (or a part of one): the lags of each set of ``rows`` and every
    process's CPU."""
    started = await conn.fetchval("SELECT now()")
    before = cpu_seconds_by_process()

    async def lags(where: str) -> tuple[list[float], list[float], int]:
        start_lags: list[float] = []
        sampler = await asyncpg.connect(database)  # each its own: both read at once
        try:
            end_lags, late = await sample_poll_lags(
                sampler,
                interval,
                interval * rounds,
                started,
                every=1.0,
                table=TABLE,
                start_lags=start_lags,
                where=where,
            )
        finally:
            await sampler.close()
        return end_lags, start_lags, late

    sampled = await asyncio.gather(*(lags(where) for where in rows))
    cpu = cpu_spent_by_process(before, cpu_seconds_by_process())
    failed = {
        where: await conn.fetchval(
            f"SELECT count(*) FROM poller_shops WHERE last_error_at > $1 AND {where}", started
        )
        for where in rows
    }
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return Phase(dict(zip(rows, sampled, strict=True)), failed, cpu, load)


# --- buyers' messages and the replies on them ------------------------------------------------


@dataclass
class Answered:
    """A reply on a buyer's discussion: sent when (the request's start), seen when."""

    seller: Seller
    discussion_id: str
    order_id: str
    message_id: str
    text: str
    at: float = 0.0
    seen: float | None = None


@dataclass
class Traffic:
    """Buyers opening discussions on Cdiscount shops drawn at random while the shops are
    polled, and a reply on each one's ticket as soon as it is seen."""

    sandbox_url: str
    database: str
    poller_port: int
    sellers: list[Seller]
    seconds: float = INTERVAL * ROUNDS  # how long buyers write
    rate: float = WRITE_RATE  # new threads a second
    interval: float = INTERVAL  # the shops' poll interval
    written: list[Written] = field(default_factory=list)
    replies: list[Answered] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # replies not accepted (not 202)

    async def during(self, ctx: BenchContext, measured: Any) -> Phase:
        pending: dict[str, Written] = {}
        opened: dict[str, Answered] = {}  # the buyer's message id → the reply to make

        async def on_event(message: Any) -> None:
            _on_event(message, pending)

        events = await nats.connect(ctx.nats_url)
        await events.subscribe("message.received", cb=on_event)
        checker, finder = await asyncpg.connect(self.database), await asyncpg.connect(self.database)
        admin = httpx.AsyncClient(base_url=f"{self.sandbox_url}/_sandbox", timeout=30)
        api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.poller_port}", timeout=30)
        tasks = [
            asyncio.create_task(_watch_tickets(checker, pending)),
            asyncio.create_task(self._reply_when_seen(finder, api, opened)),
            asyncio.create_task(_watch_sent(admin, self.replies)),
        ]
        try:
            phase = asyncio.create_task(measured)
            await self._write(admin, pending, opened)
            result: Phase = await phase
            # The last messages may still be on their way: up to an interval and a half.
            give_up = time.perf_counter() + 1.5 * self.interval
            while time.perf_counter() < give_up and (  # noqa: ASYNC110
                any(w.ticket is None or w.event is None for w in self.written)
                or any(r.seen is None for r in self.replies)
                or len(self.replies) + len(self.refused) < len(self.written)
            ):
                await asyncio.sleep(0.5)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await events.close()
            await checker.close()
            await finder.close()
            await admin.aclose()
            await api.aclose()
        return result

    async def _write(
        self, admin: httpx.AsyncClient, pending: dict[str, Written], opened: dict[str, Answered]
    ) -> None:
        """``rate`` new threads a second for ``seconds``, each on a random shop."""
        rng = random.Random(33)
        start, n = time.perf_counter(), 0
        while (due := start + n / self.rate) < start + self.seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            seller = rng.choice(self.sellers)
            text = f"bench {n} {uuid.uuid4().hex[:8]}: où en est ma commande ?"
            answer = await admin.post(seller.threads_path, json={"body": text})
            at = time.perf_counter()
            assert answer.status_code == 201, answer.text
            made = answer.json()
            one = Written(seller.shop, made["messageId"], text, at)
            pending[one.message_id] = one
            self.written.append(one)
            opened[one.message_id] = Answered(
                seller, made[seller.THREAD_FIELD], made["orderId"], made["messageId"], ""
            )
            n += 1

    async def _reply_when_seen(
        self, conn: asyncpg.Connection, api: httpx.AsyncClient, opened: dict[str, Answered]
    ) -> None:
        """Every 0.1 s: a reply posted on the ticket of each buyer's message seen since."""
        posting: set[asyncio.Task[None]] = set()
        while True:
            seen = [w for w in self.written if w.ticket is not None and w.message_id in opened]
            for w in seen:
                answer = opened.pop(w.message_id)
                ticket_id = await conn.fetchval(
                    """SELECT m.ticket_id FROM poller_ticket_messages m
                       JOIN poller_external_messages e ON m.external_message_id = e.id
                       WHERE e.tenant_id = $1 AND e.marketplace = $2 AND e.external_id = $3""",
                    w.shop.tenant_id,
                    w.shop.marketplace,
                    w.message_id,
                )
                task = asyncio.create_task(self._post(api, ticket_id, answer))
                posting.add(task)
                task.add_done_callback(posting.discard)
            await asyncio.sleep(WATCH_EVERY)

    async def _post(self, api: httpx.AsyncClient, ticket_id: str, answer: Answered) -> None:
        tenant = answer.seller.shop.tenant_id
        token = issue_token(DEV_JWT_SECRET, "agent-1", tenants=[tenant])
        answer.text = f"poller {uuid.uuid4().hex[:8]} : votre colis est parti ce matin."
        answer.at = time.perf_counter()
        response = await api.post(
            f"/api/v1/tickets/{ticket_id}/replies",
            json={"text": answer.text},
            headers={"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant},
        )
        if response.status_code == 202:
            self.replies.append(answer)
        else:
            self.refused.append(f"{response.status_code} {response.text[:200]}")

    async def raw_replies(self, api: Mapping[str, str]) -> list[Answered]:
        """Baseline: as many replies sent straight by the connector's session, on the same
        discussions at ``rate`` a second, each shop's credentials checked first."""
        raw = [
            Answered(r.seller, r.discussion_id, r.order_id, r.message_id, "") for r in self.replies
        ]
        async with (
            httpx.AsyncClient(timeout=60) as http,
            httpx.AsyncClient(base_url=f"{self.sandbox_url}/_sandbox", timeout=30) as admin,
        ):
            sessions = _sessions(
                api, list({r.seller.shop.key: r.seller for r in raw}.values()), http
            )
            for session in sessions.values():
                await session.verify()
            watching = asyncio.create_task(_watch_sent(admin, raw))

            async def send(r: Answered) -> None:
                r.text = f"raw {uuid.uuid4().hex[:8]} : votre colis est parti ce matin."
                r.at = time.perf_counter()
                thread = ThreadKey(kind="DISCUSSION", id=r.discussion_id, order_id=r.order_id)
                outcome = await sessions[r.seller.shop.key].reply(
                    Reply(thread=thread, in_reply_to=r.message_id, body=r.text)
                )
                assert outcome.status == "SENT", outcome

            start, sending = time.perf_counter(), []
            for n, r in enumerate(raw):
                await asyncio.sleep(max(0.0, start + n / self.rate - time.perf_counter()))
                sending.append(asyncio.create_task(send(r)))
            await asyncio.gather(*sending)
            give_up = time.perf_counter() + 30
            while any(r.seen is None for r in raw) and time.perf_counter() < give_up:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            watching.cancel()
        return raw


async def _watch_sent(admin: httpx.AsyncClient, replies: list[Answered]) -> None:
    """Every 0.1 s: each reply still unseen looked for among its shop's sent messages."""
    while True:
        waiting = [r for r in replies if r.seen is None and r.text]
        for path in {r.seller.sent_path for r in waiting}:
            bodies = {m["body"] for m in (await admin.get(path)).json()["sent"]}
            now = time.perf_counter()
            for r in waiting:
                if r.seller.sent_path == path and r.text in bodies:
                    r.seen = now - r.at
        await asyncio.sleep(WATCH_EVERY)


# --- figures -------------------------------------------------------------------------------


def _polls(phase: Phase, rows: str) -> int:
    end_lags, _, late = phase.lags[rows]
    return len(end_lags) + late


def _cpu_per_poll(
    alone: Phase,
    together: Phase,
    before: tuple[str, ...] = (FNAC_ROWS,),
    added: str = CDISCOUNT_ROWS,
) -> dict[str, tuple[float, float]]:
    """Per process (``_PROCESSES``, then all): ms per poll of the ``before`` rows alone, and
    ms per poll of the ``added`` rows — what the second phase spent over its ``before``
    polls at the first's cost per poll."""
    before_alone = sum(_polls(alone, rows) for rows in before)
    before_both = sum(_polls(together, rows) for rows in before)
    added_polls = max(_polls(together, added), 1)
    per_process: dict[str, tuple[float, float]] = {}
    # The bench's own work (the buyers, the replies, the watching) is not the polls'.
    everything = (EVERY_PROCESS, None)
    for which, names in [*_PROCESSES.items(), everything]:

        def spent(phase: Phase, names: tuple[str, ...] | None = names) -> float:
            cpu = phase.cpu
            if names is None:
                return sum(s for n, s in cpu.items() if n not in _PROCESSES["the bench"])
            return sum(cpu.get(n, 0.0) for n in names)

        before_ms = 1000 * spent(alone) / max(before_alone, 1)
        added_ms = (1000 * spent(together) - before_ms * before_both) / added_polls
        per_process[which] = (before_ms, added_ms)
    return per_process


def _lag_figures(
    name: str,
    rows: str,
    together: Phase,
    alone: Phase,
    baseline_rows: str = FNAC_ROWS,
    baseline_name: str = "Fnac's shops alone just before",
) -> list[Figure]:
    end, start, late = together.lags[rows]
    b_end, b_start, _ = alone.lags[baseline_rows]
    figures: list[Figure] = []
    for which, lags, baseline in (
        ("start (claimed − scheduled)", start, b_start),
        ("end (completed − scheduled)", end, b_end),
    ):
        p50, p99, most = _quantiles(lags)
        b50, b99, _ = _quantiles(baseline)
        figures.append(
            {
                "name": f"{name}' poll lag, {which}, p99, every marketplace polled",
                "value": p99,
                "unit": "s",
                "baseline": b99,
                "note": f"baseline: {baseline_name} (p50 {b50:.2f} s); p50 "
                f"{p50:.2f} s, max {most:.2f} s; {late} polls more than an interval late; "
                "aim p99 ≤ 2 s",
            }
        )
    return figures


def _figures(
    setup: dict[str, float],
    straight: Straight,
    alone: Phase,
    together: Phase,
    traffic: Traffic,
    raw: list[Answered],
) -> list[Figure]:
    seconds = INTERVAL * ROUNDS
    shops = len(traffic.sellers)  # those the double lists (its ids may collide)
    size = f"{FNAC} Fnac/Darty + {shops} Cdiscount shops every {INTERVAL} s × {ROUNDS}"
    figures: list[Figure] = [
        {
            "name": f"set-up: {FNAC + shops} shops' first polls (history stored, marked read)",
            "value": (FNAC + shops) / setup["first polls"],
            "unit": "polls/s",
            "note": f"keys in Vault {setup['keys']:.0f} s, connection.connected "
            f"{setup['connected']:.0f} s",
        },
        {
            "name": f"a Cdiscount poll's listing straight to the double (the connector's "
            f"session, 8 at a time, {BASELINE_SHOPS} shops)",
            "value": straight.polls_per_second,
            "unit": "polls/s",
            "note": f"the double's CPU {straight.double_ms_per_poll:.2f} ms per listing; "
            f"{straight.messages} messages listed",
        },
        *_lag_figures("Cdiscount shops", CDISCOUNT_ROWS, together, alone),
        *_lag_figures("Fnac shops", FNAC_ROWS, together, alone),
        {
            "name": f"polls: {size}, SHOP_POLL_CONCURRENCY {CONCURRENCY}: Cdiscount's",
            "value": _polls(together, CDISCOUNT_ROWS) / seconds,
            "unit": "polls/s",
            "baseline": shops / INTERVAL,
            "note": f"baseline: asked; Fnac's {_polls(together, FNAC_ROWS) / seconds:.1f}/s "
            f"(alone {_polls(alone, FNAC_ROWS) / seconds:.1f}, asked {FNAC / INTERVAL:.1f}); "
            f"shops with a failed poll: Cdiscount {together.failed[CDISCOUNT_ROWS]}, Fnac "
            f"{together.failed[FNAC_ROWS]} (alone {alone.failed[FNAC_ROWS]}); load average "
            f"{together.load} (alone {alone.load})",
        },
        _throttled(alone, together),
        *_cpu_figures(_cpu_per_poll(alone, together), INTERVAL, "Cdiscount", "Fnac"),
        *_traffic_figures(traffic, raw, "Cdiscount", "discussion"),
    ]
    return figures


def _throttled(alone: Phase, together: Phase) -> Figure:
    """The double's 429s to the polled shops' calls, each marketplace at its limit per shop
    (Fnac 2 requests a second, bursts of 20; Octopia 5, bursts of 25)."""

    def counted(phase: Phase, double: str) -> str:
        calls = sum(n for (d, _), n in phase.answers.items() if d == double)
        return f"{phase.answers[(double, '429')]} of {calls}"

    return {
        "name": f"the double's 429s while polled ({POLLERS} poller instance"
        f"{'s' * (POLLERS > 1)}), Fnac's and Cdiscount's shops both",
        "value": together.answers[("fnac", "429")] + together.answers[("octopia", "429")],
        "unit": "answers",
        "baseline": alone.answers[("fnac", "429")],
        "note": f"baseline: Fnac's shops alone; Fnac {counted(together, 'fnac')} calls, "
        f"Octopia {counted(together, 'octopia')} (alone: Fnac {counted(alone, 'fnac')}); "
        "from the double's access log, the phase and the wait for the last replies",
    }


def _cpu_figures(
    per_process: dict[str, tuple[float, float]], interval: float, added: str, before: str
) -> list[Figure]:
    """CPU per poll of the ``added`` marketplace's shops (``_cpu_per_poll``), each process,
    and the shops at ``interval`` it implies on a poller core and on the machine's 2."""
    figures: list[Figure] = []
    for which, (before_ms, added_ms) in per_process.items():
        cores = 1 if which == "poller" else 2 if which == EVERY_PROCESS else 0
        implied = (
            f"; {cores} core{'s' * (cores > 1)}: {interval * 1000 * cores / added_ms:,.0f} "
            f"{added} shops at {interval:g} s ({before}'s: "
            f"{interval * 1000 * cores / before_ms:,.0f})"
            if cores and added_ms > 0
            else ""
        )
        figures.append(
            {
                "name": f"CPU per {added} poll, {which}",
                "value": added_ms,
                "unit": "ms",
                "baseline": before_ms,
                "note": f"baseline: per {before} poll, {before}'s shops alone; {added}'s: the "
                f"phase with both less its {before} polls at that cost" + implied,
            }
        )
    return figures


def _traffic_figures(
    traffic: Traffic, raw: list[Answered], marketplace: str, thread: str
) -> list[Figure]:
    """A buyer's new ``thread`` → its ticket, and a reply → on the double's, against the
    connector's session alone (``raw``)."""
    tickets = [w.ticket if w.ticket is not None else float("inf") for w in traffic.written]
    events = [w.event if w.event is not None else float("inf") for w in traffic.written]
    t50, t99, t_max = _quantiles(tickets)
    e50, e99, _ = _quantiles(events)
    seen = sum(w.ticket is not None for w in traffic.written)
    ours = [r.seen if r.seen is not None else float("inf") for r in traffic.replies]
    straight_replies = [r.seen if r.seen is not None else float("inf") for r in raw]
    r50, r99, r_max = _quantiles(ours)
    b50, b99, b_max = _quantiles(straight_replies)
    return [
        {
            "name": f"a buyer's new {marketplace} {thread} → its ticket ({seen} of "
            f"{len(tickets)} seen)",
            "value": t99,
            "unit": "s p99",
            "note": f"p50 {t50:.2f} s, max {t_max:.2f} s; → message.received p50 {e50:.2f} s, "
            f"p99 {e99:.2f} s; aim p99 ≤ {traffic.interval + 1:g} s (interval + 1 s); "
            f"{traffic.rate:g} a second to random shops",
        },
        {
            "name": f"a reply on its ticket → on the double's {thread} "
            f"({len(traffic.replies)} replies, POST /replies → GET /sent)",
            "value": r99,
            "unit": "s p99",
            "baseline": b99,
            "note": f"baseline: the connector's session alone, same discussions after (p50 "
            f"{b50:.3f} s, max {b_max:.3f} s); p50 {r50:.3f} s, max {r_max:.3f} s; not "
            f"accepted {traffic.refused[:3]}; aim p99 ≤ 2 s",
        },
    ]
