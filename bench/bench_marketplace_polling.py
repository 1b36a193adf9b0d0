"""A marketplace's sellers polled beside Fnac's shops by one poller instance at its
interval: ``BENCH_MARKETPLACE_POLLING_MARKETPLACE`` names it (``RAKUTEN`` or ``EBAY``).

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

``BENCH_MARKETPLACE_POLLING_MARKETPLACE`` (RAKUTEN) / ``BENCH_MARKETPLACE_POLLING_SHOPS``
(2,000) / ``BENCH_MARKETPLACE_POLLING_FNAC_SHOPS`` (as many) /
``BENCH_MARKETPLACE_POLLING_INTERVAL`` (60 s) / ``BENCH_MARKETPLACE_POLLING_ROUNDS`` (1) /
``BENCH_MARKETPLACE_POLLING_CONCURRENCY`` (32).
"""

from __future__ import annotations

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

from bench.bench_cdiscount_polling import (
    Phase,
    _bring_back,
    _cpu_figures,
    _cpu_per_poll,
    _lag_figures,
    _listed,
    _log_end,
    _phase,
    _polls,
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
    ),
}

MARKETPLACE = POLLED[os.environ.get("BENCH_MARKETPLACE_POLLING_MARKETPLACE", "RAKUTEN")]
SHOPS = int(os.environ.get("BENCH_MARKETPLACE_POLLING_SHOPS", "2000"))
FNAC = int(os.environ.get("BENCH_MARKETPLACE_POLLING_FNAC_SHOPS", str(SHOPS)))
INTERVAL = int(os.environ.get("BENCH_MARKETPLACE_POLLING_INTERVAL", "60"))
ROUNDS = int(os.environ.get("BENCH_MARKETPLACE_POLLING_ROUNDS", "1"))
CONCURRENCY = os.environ.get("BENCH_MARKETPLACE_POLLING_CONCURRENCY", "32")
ROWS = f"poll_key LIKE '{MARKETPLACE.marketplace}:%'"
FNAC_ROWS = f"NOT ({ROWS})"
LABEL = "marketplace-polling"


@dataclass(frozen=True)
class Seller:
    """A seller of the double connected to a tenant of its own."""

    shop: Shop
    secret: dict[str, str]
    seller_id: str


async def run(ctx: BenchContext) -> list[Figure]:
    extra = {f"SANDBOX_{MARKETPLACE.double.upper()}_EXTRA_SHOPS": str(SHOPS)}
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


def _calls(log: Path, offset: int) -> Counter[tuple[str, str]]:
    """The marketplace's calls on the double by (action, status) in its log after ``offset``."""
    with log.open("rb") as read:
        read.seek(offset)
        text = read.read().decode(errors="replace")
    return Counter((m["action"], m["status"]) for m in MARKETPLACE.calls.finditer(text))


async def _measure(
    ctx: BenchContext, sandbox_url: str, postgres_url: str, sandbox_log: Path
) -> list[Figure]:
    fnac, _ = await _listed(sandbox_url, FNAC, 0)
    sellers = await _sellers(sandbox_url)
    database = await bootstrap.create_scratch_database(postgres_url, "marketpoll")
    api = service_env(sandbox_url)
    connected: list[ConnectedShop] = [*fnac, *sellers]
    setup = await connect_shops(ctx, database, api, connected)
    names = ("FNAC", "DARTY", MARKETPLACE.marketplace)
    intervals = {f"{name}_POLL_INTERVAL_SECONDS": str(INTERVAL) for name in names}
    settings = {**api, **intervals, "POLL_CONCURRENCY": CONCURRENCY}
    poller = _start_poller(ctx, database, settings, INTERVAL)
    conn = await asyncpg.connect(database)
    try:
        await _wait_ready(poller)
        setup["first polls"] = await timed(lambda: _first_polls(conn))
        await _set_aside(conn, ROWS)
        await _spread(conn, FNAC_ROWS, INTERVAL)
        alone = await _phase(database, conn, (FNAC_ROWS,), INTERVAL, ROUNDS)
        await _bring_back(conn, ROWS, INTERVAL)
        offset = _log_end(sandbox_log)
        together = await _phase(database, conn, (FNAC_ROWS, ROWS), INTERVAL, ROUNDS)
        calls = _calls(sandbox_log, offset)
    finally:
        poller.stop()
        await conn.close()
    return _figures(setup, alone, together, calls)


def _figures(
    setup: dict[str, float], alone: Phase, together: Phase, calls: Counter[tuple[str, str]]
) -> list[Figure]:
    name = MARKETPLACE.name
    seconds = INTERVAL * ROUNDS
    polls = _polls(together, ROWS)
    by_action = Counter[str]()
    for (action, _), n in calls.items():
        by_action[action] += n
    throttled = sum(n for (_, status), n in calls.items() if status == "429")
    size = f"{FNAC} Fnac/Darty + {SHOPS} {name} sellers every {INTERVAL} s × {ROUNDS}"
    return [
        {
            "name": f"set-up: {FNAC + SHOPS} shops' first polls",
            "value": (FNAC + SHOPS) / setup["first polls"],
            "unit": "polls/s",
            "note": f"keys in Vault {setup['keys']:.0f} s, connection.connected "
            f"{setup['connected']:.0f} s",
        },
        *_lag_figures(f"{name} sellers", ROWS, together, alone, FNAC_ROWS),
        *_lag_figures("Fnac shops", FNAC_ROWS, together, alone, FNAC_ROWS),
        {
            "name": f"polls: {size}, POLL_CONCURRENCY {CONCURRENCY}: {name}'s",
            "value": polls / seconds,
            "unit": "polls/s",
            "baseline": SHOPS / INTERVAL,
            "note": f"baseline: asked; Fnac's {_polls(together, FNAC_ROWS) / seconds:.1f}/s "
            f"(alone {_polls(alone, FNAC_ROWS) / seconds:.1f}, asked {FNAC / INTERVAL:.1f}); "
            f"shops with a failed poll: {name} {together.failed[ROWS]}, Fnac "
            f"{together.failed[FNAC_ROWS]} (alone {alone.failed[FNAC_ROWS]}); load average "
            f"{together.load} (alone {alone.load})",
        },
        {
            "name": f"{name}'s calls on its double a second, both polled",
            "value": sum(by_action.values()) / seconds,
            "unit": "calls/s",
            "note": f"{throttled} × 429; by action {dict(by_action)} over the phase "
            f"({sum(by_action.values()) / max(polls, 1):.2f} a poll); limit: {MARKETPLACE.limit}",
        },
        *_cpu_figures(_cpu_per_poll(alone, together, (FNAC_ROWS,), ROWS), INTERVAL, name, "Fnac"),
    ]
