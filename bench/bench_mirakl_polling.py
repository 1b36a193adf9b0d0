"""Mirakl operators' shops polled by one poller instance at each operator's M11 frequency,
beside Fnac's and Cdiscount's shops; a buyer's new Mirakl thread → its ticket, a reply on
its ticket → on the double's thread, and the 429s the double gave, while it does.

Set-up (timed, not measured against the aims): the sandbox in a process of its own hosting
``CONNECTIONS`` small Mirakl shops spread over the double's operators
(``SANDBOX_MIRAKL_EXTRA_SHOPS`` each, 4 orders in 90 days a shop), ``FNAC`` Fnac/Darty and
``CDISCOUNT`` Cdiscount shops; a PostgreSQL of the bench's own; each shop connected as oauth
does it (its credentials in Vault at the connector's path, then ``connection.connected``
with its marketplace — the operator's code for a Mirakl shop) and polled once by the
measured instance. The services' catalogue is the dev stack's (``service_env``): each
seeded operator at its instance on the double, M11 every ``INTERVAL`` s, the double's
frequency.

Measured: that instance, ``python -m keybuzz_poller`` in a process of its own (Fnac's,
Darty's and Cdiscount's ``*_POLL_INTERVAL_SECONDS`` ``INTERVAL`` too, ``SHOP_POLL_CONCURRENCY``
``BENCH_MIRAKL_POLLING_CONCURRENCY``). First the baseline: one interval with Fnac's and
Cdiscount's shops alone (the Mirakl rows set aside). Then ``ROUNDS`` intervals with all
three, each Mirakl shop due at a random point of the first (the double's frequencies
counted from zero just before). Both times, each marketplace's poll lag from
``poller_shops`` (start: claimed − scheduled; end: completed − scheduled) p50/p99/max,
polls/s against asked, failed polls, and every process's CPU (``/proc``) per poll: Fnac's
and Cdiscount's alone, then Mirakl's as what the second phase cost over their polls at
that cost, and the connections per core it implies. The double's 429s over those
``ROUNDS`` intervals: its answers with status 429 in its access log, by operation, and the
calls it saw made inside a Retry-After it had given
(``GET /_sandbox/mirakl/retry-after-violations``).

While all three poll, buyers open ``WRITE_RATE`` new threads a second on Mirakl shops drawn
at random (``POST /_sandbox/mirakl/operators/{code}/shops/{id}/threads``), each timed from
the double's 201 to its ticket message's row (read every 0.1 s) and to its
``message.received``; as soon as its ticket is seen, a reply is posted on it (``POST
/api/v1/tickets/{id}/replies``, 202) and timed to the double's thread (its shop's ``GET
…/sent``, read every 0.1 s).

Baselines of the same run: Fnac's and Cdiscount's shops without Mirakl's (above); a Mirakl
poll's listing (M11) sent straight to the double by the connector's session, up to 1,000
shops 8 at a time, the double's frequencies set aside for it, with the double's CPU per
listing; and after the polls the same number of replies sent straight by the connector's
session (M10 then M12) on the same threads, timed the same way.

Early polls: ``NUDGED`` times a second while all three poll, a Mirakl shop drawn at random
among those whose last poll ended less than ``INTERVAL`` ago is made due at once (as a
reconnection, a retry after a failure or an operator's "poll now" makes it): polled at once,
its M11 would land inside the operator's frequency.

``BENCH_MIRAKL_POLLING_CONNECTIONS`` (10,000) / ``BENCH_MIRAKL_POLLING_FNAC_SHOPS`` (1,000)
/ ``BENCH_MIRAKL_POLLING_CDISCOUNT_SHOPS`` (1,000) / ``BENCH_MIRAKL_POLLING_ROUNDS`` (2) /
``BENCH_MIRAKL_POLLING_MESSAGES_PER_SECOND`` (1) / ``BENCH_MIRAKL_POLLING_CONCURRENCY`` (32)
/ ``BENCH_MIRAKL_POLLING_INTERVAL`` (the double's M11 frequency, 60 s: every marketplace's
poll interval, the catalogue's M11 frequency set to it) / ``BENCH_MIRAKL_POLLING_NUDGED``
(0 a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import asyncpg
import httpx
from keybuzz_devstack import bootstrap
from keybuzz_double_mirakl.contract import DESCRIBED
from keybuzz_double_mirakl.double import FREQUENCIES
from keybuzz_double_mirakl.operators import OPERATORS
from keybuzz_poller.shops.domain import Shop
from keybuzz_sandbox.doubles import service_env

from bench.bench_cdiscount_polling import (
    Answered,
    Phase,
    Seller,
    Straight,
    Traffic,
    _bring_back,
    _cpu_figures,
    _cpu_per_poll,
    _lag_figures,
    _listed,
    _phase,
    _polls,
    _set_aside,
    _spread,
    _straight_polls,
    _traffic_figures,
)
from bench.bench_poll_scale import _start_poller, _wait_ready
from bench.bench_shop_polling import (
    ConnectedShop,
    _first_polls,
    connect_shops,
    double_and_postgres,
)
from bench.harness import BenchContext, Figure, timed

CONNECTIONS = int(os.environ.get("BENCH_MIRAKL_POLLING_CONNECTIONS", "10000"))
FNAC = int(os.environ.get("BENCH_MIRAKL_POLLING_FNAC_SHOPS", "1000"))
CDISCOUNT = int(os.environ.get("BENCH_MIRAKL_POLLING_CDISCOUNT_SHOPS", "1000"))
ROUNDS = int(os.environ.get("BENCH_MIRAKL_POLLING_ROUNDS", "2"))
WRITE_RATE = float(os.environ.get("BENCH_MIRAKL_POLLING_MESSAGES_PER_SECOND", "1"))
CONCURRENCY = os.environ.get("BENCH_MIRAKL_POLLING_CONCURRENCY", "32")
NUDGED = float(os.environ.get("BENCH_MIRAKL_POLLING_NUDGED", "0"))
# The double allows M11 once a minute a shop (its FREQUENCIES, the dev stack catalogue's
# frequency): every marketplace's poll interval, and the catalogue's M11 frequency for the
# operators when set apart from it.
INTERVAL = int(os.environ.get("BENCH_MIRAKL_POLLING_INTERVAL", str(round(FREQUENCIES["M11"]))))
CODES = tuple(spec.code for spec in OPERATORS)
BASELINE_SHOPS = min(CONNECTIONS, 1_000)  # shops the straight listing baseline polls
LABEL = "mirakl-polling"


def _rows(*marketplaces: str) -> str:
    named = ", ".join(f"'{m}'" for m in marketplaces)
    return f"split_part(poll_key, ':', 1) IN ({named})"


MIRAKL_ROWS = _rows(*CODES)
FNAC_ROWS = _rows("FNAC", "DARTY")
CDISCOUNT_ROWS = _rows("CDISCOUNT")
OTHERS = (FNAC_ROWS, CDISCOUNT_ROWS)
# An answer in the double's access log (uvicorn's): the method, the path, the status.
ACCESS = re.compile(
    r'"(?P<method>[A-Z]+) /mirakl/[A-Z_]+(?P<path>/api/[^ ?]+)\S* HTTP/[\d.]+" (?P<status>\d{3})'
)


@dataclass
class MiraklSeller(Seller):
    """A Mirakl operator's shop of the double connected to a tenant of its own
    (``shop.marketplace`` the operator's code; ``secret`` its api_key and shop_id)."""

    THREADS: ClassVar[str] = "threads"
    THREAD_FIELD: ClassVar[str] = "threadId"

    @property
    def seller_id(self) -> str:
        return self.secret["shop_id"]

    @property
    def shop_path(self) -> str:
        return f"/mirakl/operators/{self.shop.marketplace}/shops/{self.seller_id}"


async def run(ctx: BenchContext) -> list[Figure]:
    extra = {
        "SANDBOX_CDISCOUNT_EXTRA_SHOPS": str(CDISCOUNT),
        "SANDBOX_MIRAKL_EXTRA_SHOPS": str(math.ceil(CONNECTIONS / len(CODES))),
    }
    with double_and_postgres(ctx, FNAC, LABEL, env=extra) as (sandbox, pg):
        return await _measure(ctx, sandbox, pg, ctx.root / f"{LABEL}-sandbox.log")


async def _mirakl_sellers(sandbox_url: str) -> list[Seller]:
    """``CONNECTIONS`` of the double's extra Mirakl shops, the operators taken in turn."""
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox", timeout=300) as admin:
        operators = (await admin.get("/mirakl/operators")).json()
    extra = [[s for s in o["shops"] if "Boutique" in s["name"]] for o in operators]
    turns = [
        (o["code"], shops[n])
        for n in range(max(map(len, extra)))
        for o, shops in zip(operators, extra, strict=True)
        if n < len(shops)
    ][:CONNECTIONS]
    assert len(turns) == CONNECTIONS, f"the double hosts {len(turns)} extra Mirakl shops"
    return [
        MiraklSeller(
            Shop(f"mirk{n:05d}{uuid.uuid4().hex[:6]}", code),
            {"api_key": s["apiKey"], "shop_id": str(s["shopId"])},
        )
        for n, (code, s) in enumerate(turns)
    ]


@dataclass
class Throttling:
    """What the double saw while all three marketplaces polled."""

    answers: Counter[tuple[str, str]]  # (operation, status) → the double's answers
    inside_retry_after: int  # calls made before a Retry-After it gave ended
    nudged: int = 0  # Mirakl shops made due at once inside their frequency

    @property
    def too_many(self) -> int:
        return sum(n for (_, status), n in self.answers.items() if status == "429")


async def _nudging(database: str, phase: Awaitable[Phase]) -> tuple[Phase, int]:
    """``phase``, and meanwhile ``NUDGED`` Mirakl shops a second polled less than an interval
    ago made due at once; how many were."""
    if NUDGED <= 0:
        return await phase, 0
    conn = await asyncpg.connect(database)
    nudged = 0

    async def nudge() -> None:
        nonlocal nudged
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            due = int((loop.time() - start) * NUDGED) + 1 - nudged
            if due > 0:
                nudged += await conn.fetchval(
                    f"""
                    WITH picked AS (
                        SELECT poll_key FROM poller_shops
                        WHERE {MIRAKL_ROWS} AND lease_owner IS NULL
                          AND last_poll_at > now() - make_interval(secs => $2)
                        ORDER BY random() LIMIT $1
                    ), made AS (
                        UPDATE poller_shops s SET next_poll_at = now()
                        FROM picked WHERE s.poll_key = picked.poll_key RETURNING 1
                    )
                    SELECT count(*) FROM made
                    """,
                    due,
                    float(INTERVAL),
                )
            await asyncio.sleep(min(1.0, 1 / NUDGED))

    nudger = asyncio.create_task(nudge())
    try:
        return await phase, nudged
    finally:
        nudger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await nudger
        await conn.close()


def _with_m11_frequency(api: dict[str, str], seconds: int) -> dict[str, str]:
    """``api`` with its catalogue's operators polled every ``seconds`` (M11's frequency)."""
    catalogue = json.loads(api["MIRAKL_CATALOGUE"])
    for entry in catalogue:
        entry["frequencies"] = {**entry.get("frequencies", {}), "M11": seconds}
    return {**api, "MIRAKL_CATALOGUE": json.dumps(catalogue)}


def _log_end(log: Path) -> int:
    return log.stat().st_size


def _answers(log: Path, offset: int) -> Counter[tuple[str, str]]:
    """The double's Mirakl answers by (operation, status) in its log after ``offset``."""
    with log.open("rb") as read:
        read.seek(offset)
        text = read.read().decode(errors="replace")
    found: Counter[tuple[str, str]] = Counter()
    for match in ACCESS.finditer(text):
        # Mirakl's operation code of the method and path, as its description names them.
        operation = DESCRIBED.operation_at(match["method"], match["path"]) or match["path"]
        found[(operation, match["status"])] += 1
    return found


async def _measure(
    ctx: BenchContext, sandbox_url: str, postgres_url: str, sandbox_log: Path
) -> list[Figure]:
    fnac, cdiscount = await _listed(sandbox_url, FNAC, CDISCOUNT)
    mirakl = await _mirakl_sellers(sandbox_url)
    database = await bootstrap.create_scratch_database(postgres_url, "miraklpoll")
    api = _with_m11_frequency(service_env(sandbox_url), INTERVAL)
    connected: list[ConnectedShop] = [*fnac, *cdiscount, *mirakl]
    setup = await connect_shops(ctx, database, api, connected)
    setup["shops"] = len(connected)
    intervals = {
        f"{name}_POLL_INTERVAL_SECONDS": str(INTERVAL) for name in ("FNAC", "DARTY", "CDISCOUNT")
    }
    poller = _start_poller(
        ctx, database, {**api, **intervals, "SHOP_POLL_CONCURRENCY": CONCURRENCY}, INTERVAL
    )
    conn = await asyncpg.connect(database)
    double = httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/mirakl", timeout=60)
    try:
        await _wait_ready(poller)
        setup["first polls"] = await timed(lambda: _first_polls(conn))
        await _set_aside(conn, MIRAKL_ROWS)
        # The straight listing is not a poll: the double's frequencies set aside for it.
        await double.put("/limits", json={"enforced": False})
        straight = await _straight_polls(api, mirakl[:BASELINE_SHOPS])
        await double.put("/limits", json={"enforced": True})
        await _spread(conn, f"NOT ({MIRAKL_ROWS})", INTERVAL)
        alone = await _phase(database, conn, OTHERS, INTERVAL, 1)
        # Each Mirakl shop's frequency counted from zero: the set-up's polls are not theirs.
        await double.post("/limits/reset")
        await double.delete("/retry-after-violations")
        offset = _log_end(sandbox_log)
        await _bring_back(conn, MIRAKL_ROWS, INTERVAL)
        traffic = Traffic(
            sandbox_url,
            database,
            poller.port,
            list(mirakl),
            INTERVAL * ROUNDS,
            WRITE_RATE,
            INTERVAL,
        )
        seen: list[Throttling] = []
        nudges: list[int] = []

        async def polled() -> Phase:
            """The phase, then what the double saw during it (not the buyers' wait after)."""
            phase, nudged = await _nudging(
                database, _phase(database, conn, (*OTHERS, MIRAKL_ROWS), INTERVAL, ROUNDS)
            )
            nudges.append(nudged)
            inside = (await double.get("/retry-after-violations")).json()["count"]
            seen.append(Throttling(_answers(sandbox_log, offset), inside))
            return phase

        together = await traffic.during(ctx, polled())
        [throttling] = seen
        throttling.nudged = nudges[0]
        raw = await traffic.raw_replies(api)
    finally:
        poller.stop()
        await conn.close()
        await double.aclose()
    return _figures(setup, straight, alone, together, throttling, traffic, raw)


# --- figures -------------------------------------------------------------------------------


def _figures(
    setup: dict[str, float],
    straight: Straight,
    alone: Phase,
    together: Phase,
    throttling: Throttling,
    traffic: Traffic,
    raw: list[Answered],
) -> list[Figure]:
    seconds = INTERVAL * ROUNDS
    others = "the same shops, Mirakl's set aside, just before"
    size = (
        f"{CONNECTIONS} Mirakl connections ({len(CODES)} operators) + {FNAC} Fnac/Darty + "
        f"{CDISCOUNT} Cdiscount shops every {INTERVAL} s × {ROUNDS}"
    )
    rates = {
        name: f"{_polls(together, rows) / seconds:.1f}/s (alone "
        f"{_polls(alone, rows) / INTERVAL:.1f}, asked {count / INTERVAL:.1f}; failed "
        f"{together.failed[rows]}, alone {alone.failed[rows]})"
        for name, rows, count in (
            ("Fnac", FNAC_ROWS, FNAC),
            ("Cdiscount", CDISCOUNT_ROWS, CDISCOUNT),
        )
    }
    answers = ", ".join(
        f"{path} {status}: {n}" for (path, status), n in sorted(throttling.answers.items())
    )
    return [
        {
            "name": f"set-up: {setup['shops']:.0f} shops' first polls (history stored)",
            "value": setup["shops"] / setup["first polls"],
            "unit": "polls/s",
            "note": f"keys in Vault {setup['keys']:.0f} s, connection.connected "
            f"{setup['connected']:.0f} s",
        },
        {
            "name": f"a Mirakl poll's listing (M11) straight to the double (the connector's "
            f"session, 8 at a time, {BASELINE_SHOPS} shops)",
            "value": straight.polls_per_second,
            "unit": "polls/s",
            "note": f"the double's CPU {straight.double_ms_per_poll:.2f} ms per listing; "
            f"{straight.messages} messages listed",
        },
        *_lag_figures(
            "Mirakl shops",
            MIRAKL_ROWS,
            together,
            alone,
            FNAC_ROWS,
            "Fnac's shops (beside Cdiscount's) before Mirakl's were polled",
        ),
        *_lag_figures("Fnac shops", FNAC_ROWS, together, alone, FNAC_ROWS, others),
        *_lag_figures("Cdiscount shops", CDISCOUNT_ROWS, together, alone, CDISCOUNT_ROWS, others),
        {
            "name": f"polls: {size}, SHOP_POLL_CONCURRENCY {CONCURRENCY}: Mirakl's",
            "value": _polls(together, MIRAKL_ROWS) / seconds,
            "unit": "polls/s",
            "baseline": CONNECTIONS / INTERVAL,
            "note": f"baseline: asked; Mirakl shops with a failed poll "
            f"{together.failed[MIRAKL_ROWS]}; Fnac's {rates['Fnac']}; Cdiscount's "
            f"{rates['Cdiscount']}; load average {together.load} (alone {alone.load})",
        },
        {
            "name": "the double's 429s to Mirakl calls while all three polled",
            "value": throttling.too_many,
            "unit": "answers",
            "note": f"its answers by operation and status: {answers}; M11 allowed once a "
            f"shop every {FREQUENCIES['M11']:g} s, polled every {INTERVAL} s; "
            f"{throttling.nudged} shops made due at once inside it",
        },
        {
            "name": "calls the double saw made inside a Retry-After it gave",
            "value": throttling.inside_retry_after,
            "unit": "calls",
            "note": "GET /_sandbox/mirakl/retry-after-violations; aim 0",
        },
        *_cpu_figures(
            _cpu_per_poll(alone, together, OTHERS, MIRAKL_ROWS),
            INTERVAL,
            "Mirakl",
            "Fnac and Cdiscount",
        ),
        *_traffic_figures(traffic, raw, "Mirakl", "thread"),
    ]
