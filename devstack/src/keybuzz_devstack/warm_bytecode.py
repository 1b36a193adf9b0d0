"""The suite's compiled modules written once, before its test workers start.

Every pytest-xdist worker imports every test module, and pytest rewrites the asserts of
each of them (and of every module of a pytest plugin's package: hypothesis, schemathesis,
Faker...), which it caches in ``__pycache__`` unless bytecode writing is off
(``PYTHONDONTWRITEBYTECODE``, set on some machines): then each worker parsed, rewrote and
compiled it all again, ~16 s of CPU a worker where reading the cache takes ~6 s. So the
run's controller has the cache written first, by a collection of its own with writing
on (two, over halves of the paths, for two cores); the workers read it, as do the
service processes tests start (their own modules compiled once too).
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
from pathlib import Path

import pytest

MIN_WORKERS = 3
WARM_UP_LIMIT = 300.0  # a collection that hangs is the run's to report, not this one's


def cache_is_cold(config: pytest.Config) -> bool:
    """A test module of the run has no rewritten module cached (a module changed since its
    last caching is rewritten by each worker again: at its own cost only)."""
    from _pytest.assertion.rewrite import PYC_TAIL

    patterns = config.getini("python_files")
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0])
        files = [path] if path.is_file() else path.rglob("*.py")
        for file in files:
            if not any(fnmatch.fnmatch(file.name, pattern) for pattern in patterns):
                continue
            if not (file.parent / "__pycache__" / f"{file.name[:-3]}{PYC_TAIL}").exists():
                return True
    return False


def halves(paths: list[str]) -> list[list[str]]:
    """The run's paths in two groups (one a core), or one when there is a single path."""
    if len(paths) < 2:
        return [paths]
    middle = (len(paths) + 1) // 2
    return [paths[:middle], paths[middle:]]


def warm_up(config: pytest.Config) -> None:
    """Collect the run's paths with bytecode writing on, in parallel, before the workers."""
    if not cache_is_cold(config):
        return
    # The run's configuration file and root; neither bytecode off nor the run's extra
    # options (a report file of its own, say).
    skipped = ("PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS")
    env = {k: v for k, v in os.environ.items() if k not in skipped}
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist"]
    if config.inipath is not None:
        command += ["-c", str(config.inipath)]
    command += ["--rootdir", str(config.rootpath)]
    collections = [
        subprocess.Popen(
            [*command, *group],
            cwd=config.invocation_params.dir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for group in halves([str(a) for a in config.args])
    ]
    for collection in collections:
        try:
            collection.wait(timeout=WARM_UP_LIMIT)
        except subprocess.TimeoutExpired:
            collection.kill()
            collection.wait()


def distributing(config: pytest.Config) -> bool:
    """This process is the controller of a pytest-xdist run with workers enough for the
    warm-up to pay: two collections cost about one cold worker's, and each worker reads
    the cache at under half the cost of a cold collection (``make test``'s five)."""
    if hasattr(config, "workerinput"):
        return False
    workers = config.getoption("numprocesses", default=None)
    return isinstance(workers, int) and workers >= MIN_WORKERS
