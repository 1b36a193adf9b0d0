"""The registry's cost on hot paths, now that it reads the entry points again while
services run: ``connector_for`` on a warm registry (a clock read and a dict lookup), beside
the same-run baselines of a plain dict lookup and of the registry as a ``functools.cache``
of the entry points' dict (loaded once, never read again); one reading of every installed
entry point (paid every ``REREAD_SECONDS``); and a stream of questions for a value no
connector serves (one reading a ``UNKNOWN_REREAD_SECONDS``, not one each).

No server is used. Run by hand: ``.venv/bin/python -m bench bench_registry``
(``BENCH_REGISTRY_CALLS``, default 1,000,000). Each figure is the best of 5 batches.
"""

from __future__ import annotations

import os
import timeit
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.registry import UnknownMarketplace

CALLS = int(os.environ.get("BENCH_REGISTRY_CALLS", "1000000"))


def _per_call(statement: Any, calls: int = CALLS) -> float:
    """Nanoseconds a call, best of 5 batches of ``calls``."""
    return min(timeit.repeat(statement, number=calls, repeat=5)) / calls * 1e9


def _unknown() -> None:
    try:
        registry.connector_for("NOT_A_MARKETPLACE")
    except UnknownMarketplace:
        pass


async def run(ctx: Any) -> list[dict[str, Any]]:
    value = registry.marketplaces()[0]
    served = dict(registry._state.served)

    @cache
    def loaded_once() -> dict[str, Any]:
        return registry.load(entry_points(group=registry.GROUP))

    loaded_once()
    plain = _per_call(lambda: served[value])
    cached = _per_call(lambda: loaded_once()[value])
    warm = _per_call(lambda: registry.connector_for(value))
    reading = _per_call(registry.refresh, 2000) / 1000
    unknown = _per_call(_unknown, CALLS // 10)
    return [
        {
            "name": "registry: connector_for, warm",
            "value": round(warm),
            "unit": "ns/call",
            "baseline": f"dict lookup {plain:.0f} ns; functools.cache + lookup {cached:.0f} ns",
        },
        {
            "name": "registry: one reading of every entry point",
            "value": round(reading, 1),
            "unit": "µs",
            "note": f"{len(registry.marketplaces())} connectors, every {registry.REREAD_SECONDS:g} s",
        },
        {
            "name": "registry: an unknown value asked",
            "value": round(unknown),
            "unit": "ns/call",
            "note": f"one reading per {registry.UNKNOWN_REREAD_SECONDS:g} s, raise included",
        },
    ]
