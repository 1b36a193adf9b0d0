"""A marketplace's sellers polled beside Fnac's shops by one poller instance at its
interval: ``BENCH_MARKETPLACE_POLLING_MARKETPLACE`` names it (``RAKUTEN``, ``EBAY`` or
``KAUFLAND``).

Set-up (timed, not measured against the aims): the sandbox in a process of its own hosting
``FNAC`` small Fnac/Darty shops (``SANDBOX_FNAC_EXTRA_SHOPS``) and ``SHOPS`` small sellers
of the marketplace (``SANDBOX_<DOUBLE>_EXTRA_SHOPS``), a PostgreSQL of the bench's own,
each connected as oauth does it (``bench_shop_polling.connect_shops``), and every shop's
first poll by the measured instance.

Measured: that instance, ``python -m keybuzz_poller`` in a process of its own (every
marketplace's ``*_POLL_INTERVAL_SECONDS`` ``INTERVAL``, ``POLL_CONCURRENCY``
``BENCH_MARKETPLACE_POLLING_CONCURRENCY``), each shop's next poll spread over the interval.
First the same-run baseline: ``ROUNDS`` intervals with Fnac's shops alone (the
marketplace's rows set aside). Then ``ROUNDS`` intervals with both, the marketplace's
sellers each due at a random point of the first. Both times, as
``bench_cdiscount_polling`` measures them: each side's poll lag (start: claimed −
scheduled; end: completed − scheduled) p50/p99/max, polls/s held against asked, failed
polls, every process's CPU per poll (the marketplace's as what the second phase cost over
its Fnac polls, and the sellers it implies a core); and from the double's access log, the
marketplace's calls by action and their 429s, against its published limit (``Polled``).

A marketplace whose connector declares an application call budget (eBay's, the seam's
``AppCallBudget``) is polled at the interval the budget gives its sellers, the budget scaled
by ``BENCH_MARKETPLACE_POLLING_BUDGET_SCALE`` so that a run of minutes holds intervals of a
day's budget: the poller's budget and the double's limit alike, the double's "day" a window
of ``LIMIT_WINDOW`` seconds (its limit the budget's calls in that window), set once every
shop's first poll is made. Its sellers' phase lasts ``BENCH_MARKETPLACE_POLLING_BUDGET_ROUNDS``
of their intervals, so that every poll but the first of each seller is one the scheduler
placed; figures: the interval scheduled, the calls a day projected (the access log's and the
schedule's), both against the budget unscaled, and the double's 429s.

Beside Fnac's, the other families polled shop by shop (``BENCH_MARKETPLACE_POLLING_BESIDE``,
comma-separated, or ``ALL``: CDISCOUNT, MIRAKL (Boulanger's shops), BACKMARKET, RAKUTEN, EBAY,
the measured one left out; ``bench/poll_floor_families.py``), ``BESIDE_SHOPS`` small shops of
each, connected and polled at the same interval (Mirakl's M11 frequency set under it, Back
Market's and eBay's daily limits raised): the baseline phase is every family beside alone,
each one's lag a figure of its own. Amazon's and ManoMano's buyers write through their mail
relays, read from one mailbox, not polled shop by shop: none of theirs is here.

``BENCH_MARKETPLACE_POLLING_MARKETPLACE`` (RAKUTEN) / ``BENCH_MARKETPLACE_POLLING_SHOPS``
(2,000) / ``BENCH_MARKETPLACE_POLLING_FNAC_SHOPS`` (as many) /
``BENCH_MARKETPLACE_POLLING_BESIDE`` (none) / ``BENCH_MARKETPLACE_POLLING_BESIDE_SHOPS``
(as many as Fnac's) /
``BENCH_MARKETPLACE_POLLING_INTERVAL`` (60 s) / ``BENCH_MARKETPLACE_POLLING_ROUNDS`` (1) /
``BENCH_MARKETPLACE_POLLING_CONCURRENCY`` (32) / ``BENCH_MARKETPLACE_POLLING_BUDGET_SCALE`` (1) /
``BENCH_MARKETPLACE_POLLING_BUDGET_ROUNDS`` (2).
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from keybuzz_devstack import bootstrap
from keybuzz_poller.shops.domain import Shop
from keybuzz_sandbox.doubles import service_env
from keybuzz_shared.app_budgets import REREAD_SECONDS
from keybuzz_shared.connectors.connector_settings import ConnectorSettings
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import AppCallBudget

from bench import poll_floor_families as families
from bench.bench_cdiscount_polling import (
    Phase,
    _cpu_figures,
    _cpu_per_poll,
    _lag_figures,
    _listed,
    _log_end,
    _phase,
    _polls,
    _quantiles,
    _set_aside,
    _spread,
)
from bench.bench_poll_scale import _start_poller, _wait_ready
from bench.bench_shop_polling import ConnectedShop, _first_polls, connect_shops, double_and_postgres
from bench.harness import BenchContext, Figure, timed


@dataclass(frozen=True)
class Polled:
    """A marketplace as the bench polls it: its double's name (its admin's prefix and its
    ``SANDBOX_<NAME>_EXTRA_SHOPS``), an extra seller's id and what oauth keeps of it from
    the double's listing, its calls in the double's access log, and the limit it publishes
    (or the assumption docs/<MARKETPLACE>.md states)."""

    marketplace: str
    name: str  # in the figures
    double: str
    extra: Callable[[Mapping[str, Any]], bool]
    seller: Callable[[Mapping[str, Any]], tuple[str, dict[str, str]]]
    calls: re.Pattern[str]  # groups: action, status
    limit: str
    budget_variable: str | None = None  # the setting of its application call budget


POLLED = {
    "RAKUTEN": Polled(
        "RAKUTEN",
        "Rakuten",
        "rakuten",
        lambda s: "Boutique" in s["name"],
        lambda s: (s["login"], {"login": s["login"], "token": s["token"]}),
        re.compile(
            r'"GET /rakuten/sales_ws\?action=(?P<action>\w+)\S* HTTP/[\d.]+" (?P<status>\d{3})'
        ),
        "Rakuten publishes none (docs/RAKUTEN.md: assumed once a minute a seller, "
        "a getitemtodolist and a getiteminfos per item to do)",
    ),
    "EBAY": Polled(
        "EBAY",
        "eBay",
        "ebay",
        lambda s: "Boutique" in s["name"],
        lambda s: (
            s["userId"],
            {
                "user_id": s["userId"],
                "refresh_token": s["refreshToken"],
                "client_id": s["clientId"],
                "client_secret": s["clientSecret"],
            },
        ),
        re.compile(
            r'"(?:GET|POST) /ebay/(?P<action>[\w/]+?)/?(?:\?\S*)? HTTP/[\d.]+" (?P<status>\d{3})'
        ),
        "eBay's (docs/EBAY.md): 1,500,000 calls a day an application (17.4/s), 20,000 a "
        "user; the double answers 429 past either",
        "EBAY_MESSAGE_CALLS_PER_DAY",
    ),
    "KAUFLAND": Polled(
        "KAUFLAND",
        "Kaufland",
        "kaufland",
        lambda s: "Petite boutique" in s["name"],
        lambda s: (s["clientKey"], {"client_key": s["clientKey"], "secret_key": s["secretKey"]}),
        re.compile(
            r'"(?:GET|POST|PATCH) /kaufland/v2/(?P<action>[a-z_]+)\S* HTTP/[\d.]+" (?P<status>\d{3})'
        ),
        "Kaufland's (docs/KAUFLAND.md): 111 requests a second per seller, across endpoints",
    ),
}

MARKETPLACE = POLLED[os.environ.get("BENCH_MARKETPLACE_POLLING_MARKETPLACE", "RAKUTEN")]
SHOPS = int(os.environ.get("BENCH_MARKETPLACE_POLLING_SHOPS", "2000"))
FNAC = int(os.environ.get("BENCH_MARKETPLACE_POLLING_FNAC_SHOPS", str(SHOPS)))
INTERVAL = int(os.environ.get("BENCH_MARKETPLACE_POLLING_INTERVAL", "60"))
ROUNDS = int(os.environ.get("BENCH_MARKETPLACE_POLLING_ROUNDS", "1"))
CONCURRENCY = os.environ.get("BENCH_MARKETPLACE_POLLING_CONCURRENCY", "32")
SCALE = float(os.environ.get("BENCH_MARKETPLACE_POLLING_BUDGET_SCALE", "1"))
BUDGET_ROUNDS = int(os.environ.get("BENCH_MARKETPLACE_POLLING_BUDGET_ROUNDS", "2"))
# The budgeted sellers' phase in seconds, when shorter than its rounds (0: its rounds).
BUDGET_SECONDS = float(os.environ.get("BENCH_MARKETPLACE_POLLING_BUDGET_SECONDS", "0"))
LIMIT_WINDOW = 60  # seconds: the double's scaled "day" for its application limit
ROWS = f"poll_key LIKE '{MARKETPLACE.marketplace}:%'"
OTHERS_ROWS = f"NOT ({ROWS})"  # every shop polled beside the marketplace's


def _beside(names: str) -> list[families.Family]:
    """The families ``names`` selects (comma-separated, or ALL), the measured one left out."""
    wanted = {n.strip().upper() for n in names.split(",") if n.strip()}
    wanted = set(families.FAMILIES) if "ALL" in wanted else wanted
    unknown = wanted - set(families.FAMILIES)
    assert not unknown, f"no family {sorted(unknown)}: {', '.join(families.FAMILIES)} or ALL"
    chosen = [families.FAMILIES[n] for n in sorted(wanted)]
    return [f for f in chosen if f.marketplace != MARKETPLACE.marketplace]


BESIDE = _beside(os.environ.get("BENCH_MARKETPLACE_POLLING_BESIDE", ""))
BESIDE_SHOPS = int(os.environ.get("BENCH_MARKETPLACE_POLLING_BESIDE_SHOPS", str(FNAC)))
# Each family beside by its rows (Fnac's shops are FNAC's and DARTY's), and what the
# figures call them all.
FAMILY_ROWS = {
    "Fnac": "(poll_key LIKE 'FNAC:%' OR poll_key LIKE 'DARTY:%')",
    **{f.double: f"poll_key LIKE '{f.marketplace}:%'" for f in BESIDE},
}
OTHERS = "+".join(FAMILY_ROWS)  # "Fnac" alone without families beside
OTHER_SHOPS = FNAC + BESIDE_SHOPS * len(BESIDE)
LABEL = "marketplace-polling"
ALONE = f"{OTHERS}'s shops alone just before"


@dataclass(frozen=True)
class Seller:
    """A seller of the double connected to a tenant of its own."""

    shop: Shop
    secret: dict[str, str]
    seller_id: str


async def run(ctx: BenchContext) -> list[Figure]:
    extra = {f"SANDBOX_{MARKETPLACE.double.upper()}_EXTRA_SHOPS": str(SHOPS)}
    # A few shops more than asked: a double drawing its ids (Cdiscount's) may draw one twice.
    extra |= (
        families.sandbox_env(BESIDE, BESIDE_SHOPS + max(10, BESIDE_SHOPS // 50)) if BESIDE else {}
    )
    with double_and_postgres(ctx, FNAC, LABEL, env=extra) as (sandbox, pg):
        return await _measure(ctx, sandbox, pg, ctx.root / f"{LABEL}-sandbox.log")


async def _sellers(sandbox_url: str) -> list[Seller]:
    admin = f"{sandbox_url}/_sandbox/{MARKETPLACE.double}/shops"
    async with httpx.AsyncClient(timeout=300) as http:
        listed = [s for s in (await http.get(admin)).json() if MARKETPLACE.extra(s)]
    assert len(listed) == SHOPS, f"the double hosts {len(listed)} extra sellers, not {SHOPS}"
    sellers = []
    for n, s in enumerate(listed):
        seller_id, secret = MARKETPLACE.seller(s)
        shop = Shop(
            f"{MARKETPLACE.double[:4]}{n:05d}{uuid.uuid4().hex[:6]}", MARKETPLACE.marketplace
        )
        sellers.append(Seller(shop, secret, seller_id))
    return sellers


def _calls(log: Path, offset: int, end: int | None = None) -> Counter[tuple[str, str]]:
    """The marketplace's calls on the double by (action, status) in its log after
    ``offset`` (up to ``end``)."""
    with log.open("rb") as read:
        read.seek(offset)
        text = read.read(-1 if end is None else end - offset).decode(errors="replace")
    return Counter((m["action"], m["status"]) for m in MARKETPLACE.calls.finditer(text))


def _budget() -> AppCallBudget | None:
    """The marketplace's application call budget as its connector declares it by default,
    its calls a day scaled by ``SCALE``; None: it declares none."""
    settings_type = connector_for(MARKETPLACE.marketplace).settings_type
    settings = settings_type() if settings_type is not None else None
    if MARKETPLACE.budget_variable is None or not isinstance(settings, ConnectorSettings):
        return None
    api = settings.shop_api(MARKETPLACE.marketplace)
    if api is None or api.app_calls is None:
        return None
    scaled = round(api.app_calls.calls_per_day * SCALE)
    return AppCallBudget(
        calls_per_day=scaled,
        calls_per_poll=api.app_calls.calls_per_poll,
        poll_share=api.app_calls.poll_share,
    )


@dataclass(frozen=True)
class Budgeted:
    """The budget the poller was given, the interval it gives the sellers, and what the
    poller scheduled: each seller's last interval (next poll − last poll) at the end."""

    budget: AppCallBudget
    interval: float  # the rule's, for SHOPS sellers
    scheduled: list[float]
    # The sellers' calls from their second round to the phase's end, and its seconds.
    placed: tuple[int, float] | None


async def _measure(
    ctx: BenchContext, sandbox_url: str, postgres_url: str, sandbox_log: Path
) -> list[Figure]:
    fnac, _ = await _listed(sandbox_url, FNAC, 0)
    sellers = await _sellers(sandbox_url)
    others = [s for f in BESIDE for s in await families.sellers_of(sandbox_url, f, BESIDE_SHOPS)]
    database = await bootstrap.create_scratch_database(postgres_url, "marketpoll")
    api = service_env(sandbox_url)
    connected: list[ConnectedShop] = [*fnac, *others, *sellers]
    setup = await connect_shops(ctx, database, api, connected)
    names = ("FNAC", "DARTY", MARKETPLACE.marketplace)
    intervals = {f"{name}_POLL_INTERVAL_SECONDS": str(INTERVAL) for name in names}
    settings = {**api, **intervals, "POLL_CONCURRENCY": CONCURRENCY}
    for family in BESIDE:  # each family's interval the bench's, its limits out of the way
        settings = family.settings(settings, INTERVAL)
    budget = _budget()
    interval, rounds = INTERVAL, float(ROUNDS)  # the marketplace's sellers' phase
    if budget is not None and MARKETPLACE.budget_variable is not None:
        settings[MARKETPLACE.budget_variable] = str(budget.calls_per_day)
        interval = math.ceil(budget.poll_interval(SHOPS, INTERVAL))
        rounds = BUDGET_SECONDS / interval if BUDGET_SECONDS else float(BUDGET_ROUNDS)
    loop = asyncio.get_running_loop()
    second_round: list[tuple[float, int]] = []  # when the sellers' second round began, where

    async def mark_second_round() -> None:
        await asyncio.sleep(REREAD_SECONDS + 1.0 + interval)
        second_round.append((loop.time(), _log_end(sandbox_log)))

    poller = _start_poller(ctx, database, settings, INTERVAL)
    conn = await asyncpg.connect(database)
    try:
        await _wait_ready(poller)
        setup["first polls"] = await timed(lambda: _first_polls(conn))
        await _set_aside(conn, ROWS)
        await _spread(conn, OTHERS_ROWS, INTERVAL)
        alone = await _phase(database, conn, (OTHERS_ROWS, *_families()), INTERVAL, ROUNDS)
        if budget is not None:
            await _limit_at_the_double(sandbox_url, budget)
        await _connected_again(conn, interval)
        offset, began = _log_end(sandbox_log), await conn.fetchval("SELECT now()")
        marking = asyncio.create_task(mark_second_round())
        together = await _phase(database, conn, (OTHERS_ROWS, ROWS, *_families()), interval, rounds)
        ended, end = loop.time(), _log_end(sandbox_log)
        marking.cancel()
        calls = _calls(sandbox_log, offset, end)
        # Every poll from the second round on is one the scheduler placed: its calls' rate.
        placed = [
            (sum(_calls(sandbox_log, at, end).values()), ended - began)
            for began, at in second_round
        ]
        # The sellers the poller polled in the phase: each one's next poll as it placed it.
        scheduled = await conn.fetch(
            f"""SELECT extract(epoch FROM next_poll_at - last_poll_at)::float8 AS s
                FROM poller_shops WHERE {ROWS} AND last_poll_at > $1""",
            began,
        )
    finally:
        poller.stop()
        await conn.close()
    budgeted = (
        None
        if budget is None
        else Budgeted(
            budget,
            budget.poll_interval(SHOPS, INTERVAL),
            [r["s"] for r in scheduled],
            placed[0] if placed else None,
        )
    )
    return _figures(setup, alone, together, calls, interval, interval * rounds, budgeted)


def _families() -> tuple[str, ...]:
    """Each family's rows beside the marketplace's, where there are several families."""
    return tuple(FAMILY_ROWS.values()) if BESIDE else ()


async def _limit_at_the_double(sandbox_url: str, budget: AppCallBudget) -> None:
    """The double's application limit: the budget's calls in each ``LIMIT_WINDOW``."""
    limit = math.floor(budget.calls_per_day * LIMIT_WINDOW / 86_400)
    admin = f"{sandbox_url}/_sandbox/{MARKETPLACE.double}/limits"
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.put(admin, json={"app": limit, "window": LIMIT_WINDOW})
        answer.raise_for_status()


async def _connected_again(conn: asyncpg.Connection, interval: float) -> None:
    """The sellers set aside connected again, each due at a random point of ``interval``
    from the moment the poller counts them again (its count of a marketplace's polled
    shops is at most ``REREAD_SECONDS`` old): none is polled on the count without them."""
    await conn.execute(
        f"""UPDATE poller_shops SET connection = 'CONNECTED',
                next_poll_at = now() + make_interval(secs => $1)
                    + random() * make_interval(secs => $2)
            WHERE {ROWS}""",
        REREAD_SECONDS + 1.0,
        float(interval),
    )


def _figures(
    setup: dict[str, float],
    alone: Phase,
    together: Phase,
    calls: Counter[tuple[str, str]],
    interval: int,
    seconds: float,
    budgeted: Budgeted | None,
) -> list[Figure]:
    name = MARKETPLACE.name
    polls = _polls(together, ROWS)
    by_action = Counter[str]()
    for (action, _), n in calls.items():
        by_action[action] += n
    throttled = sum(n for (_, status), n in calls.items() if status == "429")
    beside = "".join(f" + {BESIDE_SHOPS} {f.double}" for f in BESIDE)
    size = f"{FNAC} Fnac/Darty{beside} every {INTERVAL} s + {SHOPS} {name} sellers every {interval:g} s"
    return [
        {
            "name": f"set-up: {OTHER_SHOPS + SHOPS} shops' first polls",
            "value": (OTHER_SHOPS + SHOPS) / setup["first polls"],
            "unit": "polls/s",
            "note": f"keys in Vault {setup['keys']:.0f} s, connection.connected "
            f"{setup['connected']:.0f} s",
        },
        *_lag_figures(f"{name} sellers", ROWS, together, alone, OTHERS_ROWS, ALONE),
        *_lag_figures(f"{OTHERS} shops", OTHERS_ROWS, together, alone, OTHERS_ROWS, ALONE),
        *[
            figure
            for family, rows in FAMILY_ROWS.items()
            if BESIDE
            for figure in _lag_figures(
                f"{family} shops",
                rows,
                together,
                alone,
                rows,
                f"{family}'s shops alone just before",
            )
        ],
        {
            "name": f"polls: {size}, POLL_CONCURRENCY {CONCURRENCY}: {name}'s",
            "value": polls / seconds,
            "unit": "polls/s",
            "baseline": SHOPS / interval,
            "note": f"baseline: asked; {OTHERS}'s {_polls(together, OTHERS_ROWS) / seconds:.1f}/s "
            f"(alone {_polls(alone, OTHERS_ROWS) / (INTERVAL * ROUNDS):.1f}, "
            f"asked {OTHER_SHOPS / INTERVAL:.1f}); "
            f"shops with a failed poll: {name} {together.failed[ROWS]}, {OTHERS} "
            f"{together.failed[OTHERS_ROWS]} (alone {alone.failed[OTHERS_ROWS]}); load average "
            f"{together.load} (alone {alone.load})",
        },
        {
            "name": f"{name}'s calls on its double a second, both polled",
            "value": sum(by_action.values()) / seconds,
            "unit": "calls/s",
            "note": f"{throttled} × 429; by action {dict(by_action)} over the phase "
            f"({sum(by_action.values()) / max(polls, 1):.2f} a poll); limit: {MARKETPLACE.limit}",
        },
        *_cpu_figures(_cpu_per_poll(alone, together, (OTHERS_ROWS,), ROWS), INTERVAL, name, OTHERS),
        *([] if budgeted is None else _budget_figures(budgeted, calls, polls, seconds)),
    ]


def _budget_figures(
    budgeted: Budgeted, calls: Counter[tuple[str, str]], polls: int, seconds: float
) -> list[Figure]:
    """The interval the poller scheduled against the rule's, and the calls a day projected
    against the budget, unscaled (÷ ``SCALE``)."""
    name, budget = MARKETPLACE.name, budgeted.budget
    made = sum(calls.values())
    per_poll = made / max(polls, 1)
    p50, _, _ = _quantiles(budgeted.scheduled)
    shortest = min(budgeted.scheduled, default=0.0)
    placed_calls, placed_seconds = budgeted.placed or (made, seconds)
    when = (
        "from the sellers' second round on (every poll the scheduler's)"
        if budgeted.placed
        else "of the phase (each seller's first poll in it at a random point of its interval)"
    )
    by_log = placed_calls / placed_seconds * 86_400 / SCALE
    by_schedule = SHOPS * per_poll * 86_400 / p50 / SCALE if p50 else 0.0
    unscaled = budget.calls_per_day / SCALE
    return [
        {
            "name": f"{name}'s interval the poller scheduled, {SHOPS} sellers, p50 of the "
            f"{len(budgeted.scheduled):,} polled in the phase",
            "value": p50,
            "unit": "s",
            "baseline": budgeted.interval,
            "note": f"baseline: the rule's (budget scaled ×{SCALE:g}: {budget.calls_per_day:,} "
            f"a day, {budget.calls_per_poll} calls a poll, {budget.poll_share:.0%} to polls); "
            f"shortest {shortest:.1f} s; unscaled {p50 * SCALE / 60:.1f} min",
        },
        {
            "name": f"{name}'s calls a day projected, unscaled, from the double's access log",
            "value": by_log,
            "unit": "calls/day",
            "baseline": unscaled,
            "note": f"baseline: the application's budget ({budget.poll_share:.0%} to polls: "
            f"{unscaled * budget.poll_share:,.0f}); from the schedule ({per_poll:.2f} calls a "
            f"poll at the p50 interval) {by_schedule:,.0f}; {placed_calls:,} calls over "
            f"{placed_seconds:.0f} s {when}; the double's limit "
            f"{math.floor(budget.calls_per_day * LIMIT_WINDOW / 86_400):,} a {LIMIT_WINDOW} s "
            "window",
        },
    ]
