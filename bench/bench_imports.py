"""What the processes the tests and the stack start pay to import, in CPU seconds (user +
system of a fresh interpreter importing the entry point, bytecode already compiled): each
service's ``python -m``, the sandbox, the dev stack's command and console, and a mail-parse
worker's start (its import and warm-up parse, ``parse_workers._start_worker``). The median
of ``BENCH_IMPORT_RUNS`` (default 5) runs each; the baseline is a bare interpreter's start.

No server is used. Run by hand: ``.venv/bin/python -m bench bench_imports``, or alone:
``.venv/bin/python -m bench.bench_imports`` (``BENCH_IMPORT_PYTHONPATH`` put first on the
children's path measures another checkout's sources with this venv, e.g. a commit before).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
from typing import Any

RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "5"))
WORKER = (
    "import os; from keybuzz_poller.reading import parse_workers; "
    "parse_workers._start_worker(os.getppid())"
)
ENTRIES = {
    "keybuzz_poller": "import keybuzz_poller.__main__",
    "keybuzz_orders": "import keybuzz_orders.__main__",
    "keybuzz_oauth": "import keybuzz_oauth.__main__",
    "keybuzz_tenant_sync": "import keybuzz_tenant_sync.__main__",
    "keybuzz_sandbox": "import keybuzz_sandbox.__main__",
    "keybuzz_devstack": "import keybuzz_devstack.__main__",
    "keybuzz_devstack.console": "import keybuzz_devstack.console.__main__",
    "a mail-parse worker's start": WORKER,
}


def cpu_seconds(code: str) -> float:
    """The median CPU of ``RUNS`` interpreters running ``code``."""
    env = dict(os.environ)
    if extra := os.environ.get("BENCH_IMPORT_PYTHONPATH"):
        env["PYTHONPATH"] = extra
    spent = []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(spent)


async def run(ctx: Any) -> list[dict[str, Any]]:
    return figures()


def figures() -> list[dict[str, Any]]:
    bare = cpu_seconds("pass")
    return [
        {
            "name": f"import CPU: {name}",
            "value": round(cpu_seconds(code), 3),
            "unit": "s",
            "baseline": round(bare, 3),
            "note": f"median of {RUNS}",
        }
        for name, code in ENTRIES.items()
    ]


if __name__ == "__main__":
    for figure in figures():
        print(f"{figure['name']}: {figure['value']:.3f} s (bare {figure['baseline']:.3f})")
