"""Issue 62 §3's projection redone at the eBay double: ``SELLERS`` sellers (11) polled by one
poller within an application budget of 20,000 Message API calls a day (18,000 for polls),
one seller flooded (``FLOOD`` conversations, 60) and another served the hostile page
(``{"conversations": [], "next": …}``, the shared ``emptyPagesSayMore`` fault armed for it
alone). Before (issue 62): 10.8 calls a poll, 77,760–78,994 calls a day projected, 4,551
calls in 150 s from the one hostile seller.

What is real: the sandbox's eBay double (its own process, counting every seller's calls
and the application's), the poller (``python -m keybuzz_poller``, its own process) with its
scheduler, its spent-calls counting and its budget; PostgreSQL; Vault. The budget is scaled
by ``SCALE`` (20) so that minutes hold what a day's intervals would: the poller is given
20,000 × ``SCALE`` calls a day and every figure is divided back by ``SCALE``.

Measured over ``SECONDS`` (180) after every seller's first poll: the application's calls
counted at the double, projected to a day (÷ ``SCALE``) against 20,000 (18,000 the polls'
share); the flooded seller's calls and share; the hostile seller's; the other nine's each
(mean, max); calls a poll (the double's calls ÷ the polls the poller recorded, every
seller's first ``getConversations`` page of members' conversations being one poll); 429s.

Run by hand (about 5 minutes): ``.venv/bin/python -m bench bench_ebay_spent_calls``
(``BENCH_EBAY_SPENT_SELLERS``, ``BENCH_EBAY_SPENT_SECONDS``, ``BENCH_EBAY_SPENT_SCALE``).
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path

import asyncpg
import httpx
from keybuzz_connector_ebay.settings import POLLS
from keybuzz_devstack import bootstrap
from keybuzz_poller.shops.domain import Shop
from keybuzz_sandbox.doubles import service_env

from bench.bench_cdiscount_polling import _log_end
from bench.bench_marketplace_polling import POLLED, Seller
from bench.bench_poll_scale import _start_poller, _wait_ready
from bench.bench_shop_polling import _first_polls, connect_shops, double_and_postgres
from bench.harness import BenchContext, Figure

SELLERS = int(os.environ.get("BENCH_EBAY_SPENT_SELLERS", "11"))
SECONDS = float(os.environ.get("BENCH_EBAY_SPENT_SECONDS", "180"))
SCALE = float(os.environ.get("BENCH_EBAY_SPENT_SCALE", "20"))
BUDGET = 20_000  # calls a day, the application's (unscaled)
FLOOD = 60
DAY = 86_400
EBAY = POLLED["EBAY"]
LABEL = "ebay-spent-calls"
# A poll begins with the first page of the members' conversations (no offset).
POLL_START = re.compile(
    r'"GET /ebay/commerce/message/v1/conversation\?(?![^" ]*offset=[1-9])'
    r'[^" ]*conversation_type=FROM_MEMBERS[^" ]* HTTP/[\d.]+" 200'
)


async def run(ctx: BenchContext) -> list[Figure]:
    extra = {"SANDBOX_EBAY_EXTRA_SHOPS": str(SELLERS)}
    with double_and_postgres(ctx, 0, LABEL, env=extra) as (sandbox, pg):
        return await _measure(ctx, sandbox, pg, ctx.root / f"{LABEL}-sandbox.log")


async def _sellers(admin: httpx.AsyncClient) -> tuple[list[Seller], list[str]]:
    listed = [s for s in (await admin.get("/shops")).json() if EBAY.extra(s)]
    sellers = []
    for n, s in enumerate(listed):
        seller_id, secret = EBAY.seller(s)
        sellers.append(
            Seller(Shop(f"ebay{n:03d}{uuid.uuid4().hex[:6]}", "EBAY"), secret, seller_id)
        )
    return sellers, [s["number"] for s in listed]


async def _counts(admin: httpx.AsyncClient, numbers: list[str]) -> tuple[dict[str, int], int]:
    """Each seller's calls today at the double, and the application's."""
    seen, app = {}, 0
    for number in numbers:
        counted = (await admin.get(f"/shops/{number}/calls")).json()
        seen[number], app = counted["calls"], counted["app"]
    return seen, app


async def _measure(
    ctx: BenchContext, sandbox_url: str, postgres_url: str, sandbox_log: Path
) -> list[Figure]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/ebay", timeout=60) as admin:
        sellers, numbers = await _sellers(admin)
        database = await bootstrap.create_scratch_database(postgres_url, "ebayspent")
        api = service_env(sandbox_url)
        await connect_shops(ctx, database, api, sellers)
        settings = {
            **api,
            "EBAY_POLL_INTERVAL_SECONDS": "1",  # the budget's interval governs
            "EBAY_MESSAGE_CALLS_PER_DAY": str(round(BUDGET * SCALE)),
        }
        poller = _start_poller(ctx, database, settings, 60)
        conn = await asyncpg.connect(database)
        try:
            await _wait_ready(poller)
            await _first_polls(conn)
            flooded, hostile = numbers[0], numbers[1]
            for n in range(FLOOD):
                opened = {"body": f"Question {n}", "buyer": f"acheteur_flot_{n}"}
                (await admin.post(f"/shops/{flooded}/threads", json=opened)).raise_for_status()
            armed = {"emptyPagesSayMore": True, "pagingShops": [hostile]}
            (await admin.put("/faults", json=armed)).raise_for_status()
            before, app_before = await _counts(admin, numbers)
            offset, began = _log_end(sandbox_log), asyncio.get_running_loop().time()
            await asyncio.sleep(SECONDS)
            after, app_after = await _counts(admin, numbers)
            took = asyncio.get_running_loop().time() - began
            text = _log_after(sandbox_log, offset)
            hostile_pages = (await admin.get("/faults")).json()["hostilePages"]
        finally:
            poller.stop()
            await conn.close()
    spent = {n: after[n] - before[n] for n in numbers}
    return _figures(spent, app_after - app_before, took, text, flooded, hostile, hostile_pages)


def _log_after(log: Path, offset: int) -> str:
    with log.open("rb") as read:
        read.seek(offset)
        return read.read().decode(errors="replace")


def _figures(
    spent: dict[str, int],
    app: int,
    took: float,
    log: str,
    flooded: str,
    hostile: str,
    hostile_pages: int,
) -> list[Figure]:
    a_day = DAY / took / SCALE  # calls counted → calls a day at the unscaled budget
    polls = len(POLL_START.findall(log))
    throttled = sum(1 for m in EBAY.calls.finditer(log) if m["status"] == "429")
    others = [v for n, v in spent.items() if n not in (flooded, hostile)]
    total = sum(spent.values())
    size = f"{len(spent)} sellers, {took:.0f} s, budget × {SCALE:g}"
    return [
        {
            "name": "eBay: calls a day projected (all sellers)",
            "value": app * a_day,
            "unit": "calls/day",
            "note": f"{size}; budget {BUDGET:,}, polls' share "
            f"{BUDGET * POLLS.poll_share:,.0f}; before: 77,760–78,994",
        },
        {
            "name": "eBay: calls a poll",
            "value": total / max(1, polls),
            "unit": "calls",
            "note": f"{polls} polls; before: 10.8",
        },
        {
            "name": "eBay: the flooded seller's calls a day",
            "value": spent[flooded] * a_day,
            "unit": "calls/day",
            "note": f"{FLOOD} conversations; {spent[flooded]} of {total} "
            f"calls ({spent[flooded] / max(1, total):.0%}); before: 252 of 384",
        },
        {
            "name": "eBay: the hostile page's seller's calls",
            "value": spent[hostile],
            "unit": "calls",
            "note": f"in {took:.0f} s ({hostile_pages} hostile pages served); "
            "before: 4,551 in 150 s",
        },
        {
            "name": "eBay: each other seller's calls a day (mean)",
            "value": sum(others) / max(1, len(others)) * a_day,
            "unit": "calls/day",
            "note": f"max {max(others, default=0) * a_day:,.0f}; a seller's share "
            f"{BUDGET * POLLS.poll_share / len(spent):,.0f}",
        },
        {"name": "eBay: 429s from the double", "value": throttled, "unit": "answers"},
    ]
