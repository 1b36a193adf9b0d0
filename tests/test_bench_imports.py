"""The benchmarks are run by hand, not by the suite: a name moved elsewhere breaks one
silently until someone runs it. Each bench module imports, and the poller's bench hooks
load with each switch on (the transport's only where its library is installed)."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

import bench

HOOKS = Path(bench.__path__[0]) / "poller_hooks"
SWITCHES = {"BENCH_POLLER_EBAY_APP_UNCACHED": "1", "BENCH_POLLER_PROTOCOL_CHECKS_UNKEPT": "1"}
if find_spec("httpx_aiohttp"):
    SWITCHES["BENCH_POLLER_TRANSPORT"] = "httpx-aiohttp"


@pytest.mark.parametrize("name", [m.name for m in pkgutil.iter_modules(bench.__path__)])
def test_each_benchmark_imports(name: str) -> None:
    importlib.import_module(f"bench.{name}")


def test_the_poller_hooks_load_with_their_switches_on() -> None:
    env = {**os.environ, **SWITCHES, "PYTHONPATH": str(HOOKS)}
    # Python imports the hooks at start-up: a failing one prints its error and goes on.
    probe = "import sys; sys.exit('sitecustomize' not in sys.modules)"
    run = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0 and not run.stderr, run.stderr


@pytest.mark.parametrize(
    "stand_in",
    [
        "bench_backmarket_allowance:ShopKeys",
        "bench_fnac_backfill:_ShopKey",
        "bench_cdiscount_backfill:_ShopKey",
    ],
)
def test_the_benches_vault_stand_ins_take_what_a_shops_session_asks(stand_in: str) -> None:
    # The benches run no Vault: their stand-ins are handed to ``stored_credentials``, which
    # reads as the poller does (``cached=True``); a stand-in left behind fails only when run.
    module, name = stand_in.split(":")
    stand = getattr(importlib.import_module(f"bench.{module}"), name)
    inspect.signature(stand.read).bind(stand, "secret/path", cached=True)  # as the session asks
