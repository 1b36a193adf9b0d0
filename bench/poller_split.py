"""Several poller instances sharing the shops: each instance's polls and shops, the shops
polled twice within an interval, and one instance killed (SIGKILL) and its shops taken over.

Every poll is read from the schedule's rows, not the pollers' counters: a trigger of the
bench's scratch database records each poll's end (a lease released with a success or a
failure recorded) with the lease's owner (``<host>:<pid>:<nonce>``, the instance).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from bench.bench_poll_scale import PollerProcess
from bench.harness import Figure

# A poll's end: the lease released with a success or a failure recorded (not a claim that
# took an expired lease over, nor the release of an instance's leases at its shutdown).
POLLS_LOG = """
CREATE TABLE bench_polls (poll_key text, owner text, ended_at timestamptz, due_at timestamptz);
CREATE FUNCTION bench_poll_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_polls VALUES (OLD.poll_key, OLD.lease_owner, NEW.last_poll_at, NEW.last_due_at);
    RETURN NEW;
END $$;
CREATE TRIGGER bench_poll_ended AFTER UPDATE ON poller_shops FOR EACH ROW
    WHEN (OLD.lease_owner IS NOT NULL AND NEW.lease_owner IS NULL
          AND (NEW.last_success_at IS DISTINCT FROM OLD.last_success_at
               OR NEW.last_error_at IS DISTINCT FROM OLD.last_error_at))
    EXECUTE FUNCTION bench_poll_ended();
"""


@dataclass
class Kill:
    """One instance killed: when, and the shops it held (polled last, or leased at the kill)."""

    pid: int
    at: datetime
    leased: set[str] = field(default_factory=set)


async def kill_after(
    conn: asyncpg.Connection, poller: PollerProcess, seconds: float, killed: list[Kill]
) -> None:
    """SIGKILL ``poller`` after ``seconds``, as soon as it holds a lease (within 10 s): a
    poll cut in its middle, its lease left to run out, no poll ended."""
    await asyncio.sleep(seconds)
    pid = poller.process.pid
    holding = f"%:{pid}:%"
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 10
    while loop.time() < give_up and not await conn.fetchval(  # noqa: ASYNC110
        "SELECT EXISTS (SELECT 1 FROM poller_shops WHERE lease_owner LIKE $1)", holding
    ):
        await asyncio.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    at = await conn.fetchval("SELECT now()")
    leased = await conn.fetch(
        "SELECT poll_key FROM poller_shops WHERE lease_owner LIKE $1", holding
    )
    killed.append(Kill(pid, at, {r["poll_key"] for r in leased}))


async def wait_taken_over(conn: asyncpg.Connection, kill: Kill, interval: float) -> None:
    """Until every shop the killed instance held has ended a poll since the kill (at most
    two intervals and a half after it)."""
    held = await _held(conn, kill)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 2.5 * interval
    while loop.time() < give_up:
        left = await conn.fetchval(
            """SELECT count(*) FROM unnest($1::text[]) k WHERE NOT EXISTS (
                   SELECT 1 FROM bench_polls p WHERE p.poll_key = k AND p.ended_at > $2)""",
            sorted(held),
            kill.at,
        )
        if not left:
            return
        await asyncio.sleep(1.0)


async def _held(conn: asyncpg.Connection, kill: Kill) -> set[str]:
    """The shops whose last poll before the kill was the killed instance's, and those it had
    leased at the kill."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (poll_key) poll_key, owner FROM bench_polls
           WHERE ended_at <= $1 ORDER BY poll_key, ended_at DESC""",
        kill.at,
    )
    return {r["poll_key"] for r in rows if f":{kill.pid}:" in r["owner"]} | kill.leased


async def split_figures(
    conn: asyncpg.Connection,
    pollers: list[PollerProcess],
    started: datetime,
    interval: float,
    killed: list[Kill],
) -> list[Figure]:
    """Each instance's polls and shops since ``started`` (up to the kill if one was killed),
    the shops polled twice within an interval, and the takeover of a killed one's shops."""
    polls = await conn.fetch(
        "SELECT poll_key, owner, ended_at, due_at FROM bench_polls WHERE ended_at > $1"
        " ORDER BY ended_at",
        started,
    )
    kill = killed[0] if killed else None
    figures = [_split(polls, pollers, kill), _twice(polls, interval)]
    if kill is not None:
        figures.append(_taken_over(polls, await _held(conn, kill), kill, interval))
    return figures


def _instances(pollers: list[PollerProcess]) -> Callable[[str], str]:
    """A lease owner's instance, named by its place and pid."""
    names = {
        p.process.pid: f"instance {n + 1} (pid {p.process.pid})" for n, p in enumerate(pollers)
    }

    def instance(owner: str) -> str:
        pid = int(owner.split(":")[-2])
        return names.get(pid, f"pid {pid}")

    return instance


def _split(polls: list[Any], pollers: list[PollerProcess], kill: Kill | None) -> Figure:
    before = [p for p in polls if kill is None or p["ended_at"] <= kill.at]
    instance = _instances(pollers)
    shops: dict[str, set[str]] = defaultdict(set)
    made: Counter[str] = Counter()
    for p in before:
        name = instance(p["owner"])
        made[name] += 1
        shops[name].add(p["poll_key"])
    both = len(set.intersection(*shops.values())) if len(shops) > 1 else 0
    even = len(before) / max(len(pollers), 1)
    most = max(made.values(), default=0)
    least = min(made.values(), default=0) if len(made) == len(pollers) else 0
    per = "; ".join(
        f"{name}: {n} polls of {len(shops[name])} shops" for name, n in sorted(made.items())
    )
    return {
        "name": f"the split between {len(pollers)} poller instances: most / least polls"
        + (" (before the kill)" if kill else ""),
        "value": most / max(least, 1),
        "unit": "×",
        "note": f"{per}; {len(before)} polls, the most {100 * (most / even - 1):+.1f} % of even, "
        f"the least {100 * (least / even - 1):+.1f} %; {both} shops polled by both (a shop "
        "goes to whichever instance claims it when due); aim: within 10 % of even",
    }


def _twice(polls: list[Any], interval: float) -> Figure:
    """A shop's two polls of one schedule slot, or ending less than half an interval apart."""
    by_shop: dict[str, list[Any]] = defaultdict(list)
    for p in polls:
        by_shop[p["poll_key"]].append(p)
    shops: set[str] = set()
    pairs, same_slot, closest = 0, 0, float("inf")
    for key, shop_polls in by_shop.items():
        for a, b in zip(shop_polls, shop_polls[1:], strict=False):
            gap = (b["ended_at"] - a["ended_at"]).total_seconds()
            closest = min(closest, gap)
            same_slot += a["due_at"] == b["due_at"]
            if gap < interval / 2 or a["due_at"] == b["due_at"]:
                shops.add(key)
                pairs += 1
    return {
        "name": "shops polled twice within an interval (their polls' ends in the schedule)",
        "value": len(shops),
        "unit": "shops",
        "note": f"{len(polls)} polls of {len(by_shop)} shops; {pairs} less than half an "
        f"interval after the shop's previous or of its slot ({same_slot} the same slot); the "
        f"closest two polls of a shop {closest:.1f} s apart (interval {interval:g} s)",
    }


def _taken_over(polls: list[Any], held: set[str], kill: Kill, interval: float) -> Figure:
    """The killed instance's shops: each one's gap between its last poll before the kill and
    its first after, and when the last of them was polled again."""
    last_before: dict[str, datetime] = {}
    first_after: dict[str, Any] = {}
    for p in polls:
        if p["poll_key"] not in held:
            continue
        if p["ended_at"] <= kill.at:
            last_before[p["poll_key"]] = p["ended_at"]
        else:
            first_after.setdefault(p["poll_key"], p)
    gaps = [
        (first_after[k]["ended_at"] - last_before[k]).total_seconds()
        for k in held
        if k in first_after and k in last_before
    ]
    by_killed = sum(f":{kill.pid}:" in p["owner"] for p in first_after.values())
    last = max(((p["ended_at"] - kill.at).total_seconds() for p in first_after.values()), default=0)
    leased_gaps = [
        (first_after[k]["ended_at"] - kill.at).total_seconds()
        for k in kill.leased
        if k in first_after
    ]
    return {
        "name": "a killed instance's shops taken over: the longest gap a shop saw between "
        "two polls",
        "value": max(gaps, default=float("inf")),
        "unit": "s",
        "baseline": interval,
        "note": f"baseline: the interval; {len(first_after)} of its {len(held)} shops polled "
        f"again ({by_killed} by the killed one), the last {last:.1f} s after the SIGKILL; "
        f"the {len(kill.leased)} it had leased at the kill polled again "
        f"{max(leased_gaps, default=0):.1f} s after it at the latest (their leases had to "
        "run out); aim: every gap ≤ 2 intervals (polled again within one interval of due)",
    }
