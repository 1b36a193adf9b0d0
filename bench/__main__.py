"""`make bench`: start the embedded stack, run every bench/bench_*.py, print a table.

The benches run on asyncio's own loop (as every result in docs/BENCHMARKS.md without a
loop named did); ``BENCH_LOOP=uvloop`` runs them on the loop the services run on
in production (uvicorn's, ``keybuzz_shared.service.EVENT_LOOP``). A service a bench starts
in-process and the same-run baselines share the loop, so the loop moves both: nats-py's
raw JetStream baseline is ~20 % faster on uvloop, the poller's backlog rate the same within
a few % (docs/BENCHMARKS.md, 2026-11-24, ninth session).

Copy the table into docs/BENCHMARKS.md with the date and machine.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import uvloop
from keybuzz_shared.logs import configure_logging

from bench.harness import Figure, start_stack

HERE = Path(__file__).parent


def _modules(selected: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    # A full module name selects that module only (bench_orders, not bench_orders_http too).
    return [
        n
        for n in names
        if not selected or any(s == n or (s not in names and s in n) for s in selected)
    ]


async def _run_all(ctx, modules: list[str]) -> list[tuple[str, Figure]]:
    results: list[tuple[str, Figure]] = []
    for name in modules:
        module = importlib.import_module(f"bench.{name}")
        print(f"running {name} …", file=sys.stderr, flush=True)
        for figure in await module.run(ctx):
            results.append((name, figure))
    return results


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    return uvloop.new_event_loop if _loop_name() == "uvloop" else None


def _loop_name() -> str:
    return "uvloop" if os.environ.get("BENCH_LOOP") == "uvloop" else "asyncio"


def _table(results: list[tuple[str, Figure]]) -> str:
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}, {_loop_name()})",
        "",
        "| benchmark | figure | value | unit | baseline (same run) | ratio | note |",
        "| --- | --- | ---: | --- | ---: | ---: | --- |",
    ]
    for module, f in results:
        # A figure read from PostgreSQL may come as a Decimal: the table mixes none.
        value = float(f["value"])
        baseline = None if f.get("baseline") is None else float(f["baseline"])
        ratio = f"{value / baseline:.2f}" if baseline else ""
        lines.append(
            f"| {module} | {f['name']} | {value:.2f} | {f['unit']} | "
            f"{'' if baseline is None else f'{baseline:.2f}'} | {ratio} | {f.get('note', '')} |"
        )
    return "\n".join(lines)


def main() -> None:
    configure_logging("bench", "WARNING")
    root = Path(tempfile.mkdtemp(prefix="keybuzz-bench-"))
    ctx, servers = start_stack(root)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            results = runner.run(_run_all(ctx, _modules(sys.argv[1:])))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(_table(results))


if __name__ == "__main__":
    main()
