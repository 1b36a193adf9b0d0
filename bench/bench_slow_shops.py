"""Slow shops among healthy ones: the healthy shops' poll lag while ``STALLED`` shops' API
gives no answer for 30 s and ``TRICKLING`` shops' sends its answer a byte every 20 s, with
the same run's lag without them as the baseline.

Set-up (timed, not measured): as ``bench_shop_polling``'s: the sandbox in a process of its
own hosting ``HEALTHY + STALLED + TRICKLING`` small shops, a PostgreSQL of the bench's own,
each shop's key in Vault and ``connection.connected`` through a poller with polling off;
the failing shops' rows then set aside (``DISCONNECTED``), and every healthy shop's first
poll by the measured instance.

Measured: that instance, ``python -m keybuzz_poller`` in a process of its own
(``FNAC_POLL_INTERVAL_SECONDS`` ``I``, ``POLL_CONCURRENCY`` ``BENCH_SLOW_SHOPS_CONCURRENCY``,
every other setting its default), each healthy shop's next poll spread over the interval.
First the baseline: ``ROUNDS`` intervals with the healthy shops only. Then the double stalls
and trickles the failing shops (``PUT /_sandbox/fnac/faults``: ``stallShops``,
``trickleShops``), they are connected again, each due at a random point of the next
interval (a marketplace's shops going bad as each comes due), and ``ROUNDS`` more intervals.
Both times: the healthy shops' poll lag from ``poller_shops`` (start: claimed − scheduled;
end: completed − scheduled) p50/p99/max and polls more than an interval late; then the
failing shops' polls (failed, consecutive failures, the errors recorded) and the longest a
failing shop's poll held on (claimed → failure recorded). And the CPU each process spent
in each phase (``/proc``: the poller, the double, PostgreSQL with its backends, NATS,
OpenBao, this process) divided by the phase's healthy polls: what a healthy poll costs the
machine, the failing shops' polls included, unblurred by how loaded the cores are.

``BENCH_SLOW_SHOPS_HEALTHY`` (10,000) / ``BENCH_SLOW_SHOPS_STALLED`` (100) /
``BENCH_SLOW_SHOPS_TRICKLING`` (100) / ``BENCH_SLOW_SHOPS_INTERVAL`` (60 s) /
``BENCH_SLOW_SHOPS_ROUNDS`` (1) / ``BENCH_SLOW_SHOPS_CONCURRENCY`` (32).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import asyncpg
import httpx
from keybuzz_connector_fnac.client import FnacCredentials
from keybuzz_devstack import bootstrap
from keybuzz_poller.shops.domain import Shop

from bench.bench_poll_scale import _start_poller, _wait_ready
from bench.bench_shop_polling import (
    TABLE,
    Connected,
    _quantiles,
    connect_shops,
    double_and_postgres,
)
from bench.harness import (
    BenchContext,
    Figure,
    cpu_seconds_by_process,
    cpu_spent_by_process,
    sample_poll_lags,
    timed,
)

HEALTHY = int(os.environ.get("BENCH_SLOW_SHOPS_HEALTHY", "10000"))
STALLED = int(os.environ.get("BENCH_SLOW_SHOPS_STALLED", "100"))
TRICKLING = int(os.environ.get("BENCH_SLOW_SHOPS_TRICKLING", "100"))
INTERVAL = int(os.environ.get("BENCH_SLOW_SHOPS_INTERVAL", "60"))
ROUNDS = int(os.environ.get("BENCH_SLOW_SHOPS_ROUNDS", "1"))
CONCURRENCY = os.environ.get("BENCH_SLOW_SHOPS_CONCURRENCY", "32")
STALL_SECONDS = 30.0  # the issue's: no answer for 30 s
TRICKLE_SECONDS = 20.0  # and one byte every 20 s
BAD = "bad"  # the failing shops' tenant ids start with it
HEALTHY_ROWS = f"poll_key NOT LIKE '%:{BAD}%'"
BAD_ROWS = f"poll_key LIKE '%:{BAD}%'"


async def run(ctx: BenchContext) -> list[Figure]:
    shops = HEALTHY + STALLED + TRICKLING
    with double_and_postgres(ctx, shops, "slow-shops") as (sandbox_url, pg_url):
        return await _measure(ctx, sandbox_url, pg_url)


def _shops(listed: list[dict[str, Any]]) -> tuple[list[Connected], list[Connected]]:
    """The healthy shops, then the failing ones (stalled first), each for a tenant of its own."""
    extra = [s for s in listed if s["name"].startswith("KeyBuzz Boutique")]
    assert len(extra) == HEALTHY + STALLED + TRICKLING, f"the double hosts {len(extra)} shops"

    def connected(n: int, s: dict[str, Any], prefix: str) -> Connected:
        tenant = f"{prefix}{n:05d}{uuid.uuid4().hex[:6]}"
        return Connected(
            Shop(tenant, s["marketplace"]), FnacCredentials(s["partner_id"], s["shop_id"], s["key"])
        )

    healthy = [connected(n, s, "shop") for n, s in enumerate(extra[:HEALTHY])]
    bad = [connected(n, s, BAD) for n, s in enumerate(extra[HEALTHY:])]
    return healthy, bad


async def _measure(ctx: BenchContext, sandbox_url: str, postgres_url: str) -> list[Figure]:
    admin = httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/fnac", timeout=120)
    try:
        healthy, bad = _shops((await admin.get("/shops")).json())
        database = await bootstrap.create_scratch_database(postgres_url, "slowshops")
        api = {"FNAC_API_URL": f"{sandbox_url}/fnac/api.php/"}
        setup = await connect_shops(ctx, database, api, healthy + bad)
        conn = await asyncpg.connect(database)
        await conn.execute(f"UPDATE poller_shops SET connection = 'DISCONNECTED' WHERE {BAD_ROWS}")
        settings = {
            **api,
            "FNAC_POLL_INTERVAL_SECONDS": str(INTERVAL),
            "POLL_CONCURRENCY": CONCURRENCY,
        }
        poller = _start_poller(ctx, database, settings, INTERVAL)
        try:
            await _wait_ready(poller)
            setup["first polls"] = await timed(lambda: _first_polls(conn))
            baseline = await _phase(conn)
            stall_ids = [c.credentials.shop_id for c in bad[:STALLED]]
            faults = {
                "stallSeconds": STALL_SECONDS,
                "stallShops": stall_ids,
                "trickleSeconds": TRICKLE_SECONDS,
                "trickleShops": [c.credentials.shop_id for c in bad[STALLED:]],
            }
            assert (await admin.put("/faults", json=faults)).status_code == 200
            await conn.execute(
                f"""UPDATE poller_shops SET connection = 'CONNECTED',
                       next_poll_at = now() + random() * make_interval(secs => $1)
                    WHERE {BAD_ROWS}""",
                float(INTERVAL),
            )
            slowed = await _phase(conn, spread=False)
            failing = await _failing(conn)
        finally:
            poller.stop()
            await conn.close()
    finally:
        await admin.aclose()
    return _figures(setup, baseline, slowed, failing)


async def _first_polls(conn: asyncpg.Connection) -> None:
    query = f"SELECT count(*) FROM poller_shops WHERE last_success_at IS NULL AND {HEALTHY_ROWS}"
    while await conn.fetchval(query):  # noqa: ASYNC110
        await asyncio.sleep(1)


async def _phase(conn: asyncpg.Connection, spread: bool = True) -> dict[str, Any]:
    """``ROUNDS`` intervals: the healthy shops' lags."""
    if spread:
        await conn.execute(
            f"""UPDATE poller_shops
                SET next_poll_at = now() + random() * make_interval(secs => $1)
                WHERE {HEALTHY_ROWS}""",
            float(INTERVAL),
        )
    started = await conn.fetchval("SELECT now()")
    cpu_before = cpu_seconds_by_process()
    start_lags: list[float] = []
    lags, displaced = await sample_poll_lags(
        conn,
        INTERVAL,
        INTERVAL * ROUNDS,
        started,
        every=1.0,
        table=TABLE,
        start_lags=start_lags,
        where=HEALTHY_ROWS,
    )
    cpu = cpu_spent_by_process(cpu_before, cpu_seconds_by_process())
    failed = await conn.fetchval(
        f"SELECT count(*) FROM poller_shops WHERE last_error_at > $1 AND {HEALTHY_ROWS}", started
    )
    return {
        "start": _quantiles(start_lags),
        "end": _quantiles(lags),
        "polls": len(lags) + displaced,
        "displaced": displaced,
        "failed": failed,
        "load": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "cpu": cpu,
    }


async def _failing(conn: asyncpg.Connection) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"""
        SELECT count(*) FILTER (WHERE consecutive_failures > 0) AS failing,
               count(*) FILTER (WHERE last_success_at IS NOT NULL
                                  AND last_success_at > last_error_at) AS succeeded,
               sum(consecutive_failures) AS failures,
               max(consecutive_failures) AS most,
               max(extract(epoch FROM last_error_at - claimed_at)) AS longest_held,
               array_agg(DISTINCT last_error) AS errors
        FROM poller_shops WHERE {BAD_ROWS}
        """
    )
    return dict(row)


def _figures(
    setup: dict[str, float],
    baseline: dict[str, Any],
    slowed: dict[str, Any],
    failing: dict[str, Any],
) -> list[Figure]:
    size = f"{HEALTHY} healthy shops every {INTERVAL} s × {ROUNDS}, POLL_CONCURRENCY {CONCURRENCY}"
    bad = f"{STALLED} stalled ({STALL_SECONDS:g} s) and {TRICKLING} trickling (1 byte / {TRICKLE_SECONDS:g} s)"
    figures: list[Figure] = [
        {
            "name": f"set-up: {HEALTHY} healthy shops' first polls",
            "value": HEALTHY / setup["first polls"],
            "unit": "polls/s",
            "note": f"keys in Vault {setup['keys']:.0f} s, connection.connected "
            f"{setup['connected']:.0f} s",
        }
    ]
    for which, key in (
        ("start (claimed − scheduled)", "start"),
        ("end (completed − scheduled)", "end"),
    ):
        p50, p99, most = slowed[key]
        b50, b99, bmost = baseline[key]
        figures.append(
            {
                "name": f"healthy shops' poll lag, {which}, p99, with {bad}",
                "value": p99,
                "unit": "s",
                "baseline": b99,
                "note": f"baseline: the same shops alone just before; p50 {p50:.2f} s "
                f"(alone {b50:.2f}), max {most:.2f} s (alone {bmost:.2f}); aim p99 ≤ 2 s",
            }
        )
    figures.append(
        {
            "name": f"healthy polls: {size}",
            "value": slowed["polls"] / (INTERVAL * ROUNDS),
            "unit": "polls/s",
            "baseline": baseline["polls"] / (INTERVAL * ROUNDS),
            "note": f"asked {HEALTHY / INTERVAL:.1f}/s; more than an interval late "
            f"{slowed['displaced']} (alone {baseline['displaced']}); healthy shops with a "
            f"failed poll {slowed['failed']} (alone {baseline['failed']}); load average "
            f"{slowed['load']} (alone {baseline['load']})",
        }
    )
    figures += _cpu_figures(baseline, slowed)
    figures.append(
        {
            "name": "failing shops: longest a poll held on (claimed → failure recorded)",
            "value": float(failing["longest_held"] or 0.0),
            "unit": "s",
            "note": f"{failing['failing']} of {STALLED + TRICKLING} in back-off, "
            f"{failing['failures']} failed polls (at most {failing['most']} in a row), "
            f"errors {failing['errors']}",
        }
    )
    return figures


# The processes a poll costs CPU in, as ``cpu_seconds_by_process`` names them.
_PROCESSES = {
    "poller": ("keybuzz_poller", "worker processes"),
    "the double": ("keybuzz_sandbox",),
    "PostgreSQL": ("postgres",),
    "NATS": ("nats-server",),
    "OpenBao": ("bao",),
    "the bench": ("bench process",),
}


def _cpu_figures(baseline: dict[str, Any], slowed: dict[str, Any]) -> list[Figure]:
    """CPU ms per healthy poll of each process, with the failing shops against alone."""

    def per_poll(phase: dict[str, Any], names: tuple[str, ...] | None) -> float:
        cpu: dict[str, float] = phase["cpu"]
        spent = sum(cpu.values()) if names is None else sum(cpu.get(n, 0.0) for n in names)
        return 1000 * spent / max(phase["polls"], 1)

    named = {n for names in _PROCESSES.values() for n in names}
    others = sorted({*baseline["cpu"], *slowed["cpu"]} - named)
    figures: list[Figure] = [
        {
            "name": f"CPU per healthy poll, {which}",
            "value": per_poll(slowed, names),
            "unit": "ms",
            "baseline": per_poll(baseline, names),
            "note": "baseline: the healthy shops alone; the failing shops' polls included",
        }
        for which, names in _PROCESSES.items()
    ]
    figures.append(
        {
            "name": "CPU per healthy poll, every process together",
            "value": per_poll(slowed, None),
            "unit": "ms",
            "baseline": per_poll(baseline, None),
            "note": f"cores used {sum(slowed['cpu'].values()) / (INTERVAL * ROUNDS):.2f} "
            f"(alone {sum(baseline['cpu'].values()) / (INTERVAL * ROUNDS):.2f}); others: "
            + (", ".join(others) or "none"),
        }
    )
    return figures
