"""A backfill listing's rate against the double's call limit, shared by the marketplace
backfill benches: each counts its double's answers by (kind, status) — kind "api" for the
marketplace's API, any other for calls around it (a token endpoint) — and measures a read
with ``measured``; ``note`` says it against what the limit allows."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime

import msgspec
from keybuzz_orders.connector_source import ConnectorOrderSource
from keybuzz_orders.order_source import OrderWindow

Statuses = Counter[tuple[str, int]]


class CallLimit(msgspec.Struct, frozen=True):
    """A double's bucket: ``burst`` calls at once, then ``rate`` a second, ``per_page`` orders
    a call."""

    rate: float
    burst: int
    per_page: int

    def allows(self, orders: int, calls: int) -> float:
        """The orders a second the limit allows a read of ``orders`` in ``calls`` calls."""
        return orders / max((calls - self.burst) / self.rate, 1e-9)

    @property
    def sustained(self) -> float:
        return self.rate * self.per_page


class Measured(msgspec.Struct, frozen=True):
    orders: int
    seconds: float
    calls: int  # the API's 200s
    refused: int  # the API's 429s
    other_calls: int  # 200s of the calls around it (tokens)
    cpu: float

    @property
    def rate(self) -> float:
        return self.orders / self.seconds


async def measured(statuses: Statuses, read: Callable[[], Awaitable[int]]) -> Measured:
    statuses.clear()
    cpu, start = time.process_time(), time.perf_counter()
    orders = await read()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    others = sum(n for (kind, status), n in statuses.items() if kind != "api" and status == 200)
    return Measured(
        orders=orders,
        seconds=seconds,
        calls=statuses["api", 200],
        refused=statuses["api", 429],
        other_calls=others,
        cpu=cpu,
    )


def note(m: Measured, limit: CallLimit, *, other: str = "") -> str:
    """``other``: what the calls around the API are called in the note ("token"), if any."""
    allowed = limit.allows(m.orders, m.calls)
    around = f" (+{m.other_calls} {other})" if other else ""
    return (
        f"{m.orders} orders in {m.seconds:.1f} s; {m.calls} calls answered{around}, "
        f"{m.refused} 429s; {m.rate / allowed:.2f}× the {allowed:.0f}/s the limit allows for "
        f"them, {m.rate / limit.sustained:.2f}× its sustained {limit.sustained:.0f}/s; "
        f"process CPU {m.cpu:.1f} s (double included)"
    )


async def listed(source: ConnectorOrderSource, since: datetime, pages: int) -> int:
    """The orders ``source`` lists from ``since`` on, window after window as a backfill reads
    them (``pages`` at the most)."""
    window = OrderWindow("", created_after=since)
    orders = 0
    for _ in range(pages):
        page = await source.orders_in_window("t-bench", window)
        orders += len(page.orders)
        if page.next_token is None:
            break
        window = OrderWindow("", created_after=since, page_token=page.next_token)
    return orders
