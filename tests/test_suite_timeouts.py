"""The suite's own time limit ends a test that waits for ever, on the loop the tests run,
and the worker that ran it goes on with the next test (keybuzz_devstack.time_limit).

On uvloop, pytest-timeout's SIGALRM handler raises inside the loop's signal callback, where
the exception is lost: a test idle in epoll hung its worker for good. Its thread method ends
the worker instead, and pytest-xdist waited for ever for the one it started in its place.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TIMED_OUT = """
import asyncio
import time
import pytest

@pytest.mark.timeout(0.5)
async def test_waits_for_an_event_nobody_sets():
    await asyncio.Event().wait()

@pytest.fixture
async def never_ready():
    await asyncio.Event().wait()
    yield

@pytest.mark.timeout(0.5)
async def test_whose_fixture_never_ends(never_ready):
    pass

@pytest.mark.timeout(0.5)
def test_sleeps_past_its_limit():
    time.sleep(30)

async def test_runs_after_on_the_same_loop():
    await asyncio.sleep(0.01)

def test_runs_after_in_the_same_worker():
    assert True

@pytest.mark.timeout(0.5)
def test_fails_and_its_report_is_made_past_its_limit():
    assert False, "failed a little before its limit"

@pytest.fixture(scope="module")
def servers_slow_to_start():
    time.sleep(1)  # past the test's limit, within a shared fixture's own
    return "started"

@pytest.mark.timeout(0.5)
def test_whose_shared_fixture_starts_past_its_limit(servers_slow_to_start):
    assert servers_slow_to_start == "started"

@pytest.fixture(scope="module")
def servers_that_never_start():
    time.sleep(60)

@pytest.mark.timeout(0.5)
def test_whose_shared_fixture_never_starts(servers_that_never_start):
    pass
"""

# The grace a cancelled test has before its loop is stopped, shortened: the fixture that
# never ends is stopped the same way, sooner. A shared fixture's own limit, shortened too.
CONFTEST = """
import time

import pytest
from keybuzz_devstack import time_limit

time_limit.STOP_AFTER_CANCEL = 0.25
time_limit.SHARED_SETUP_LIMIT = 2


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    if item.name == "test_fails_and_its_report_is_made_past_its_limit" and call.when == "call":
        time.sleep(0.75)  # a traceback formatted on a busy machine, past the limit
    return (yield)
"""


# Plugins the timed-out tests never use, each seconds of start-up in the run and its worker.
UNUSED_PLUGINS = ("schemathesis", "hypothesispytest", "Faker")


# A pytest run of its own with a worker: half a minute alone, minutes on a loaded machine.
@pytest.mark.timeout(300)
def test_a_test_over_its_limit_fails_and_the_worker_goes_on(tmp_path: Path) -> None:
    test_file = tmp_path / "test_limits.py"
    test_file.write_text(TIMED_OUT)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "--basetemp",
            str(tmp_path / "basetemp"),
            "-p",
            "keybuzz_devstack.testing",
            "-p",
            "keybuzz_devstack.time_limit",
            "-n",
            "1",
            "-p",
            "no:randomly",
            *(f"-pno:{plugin}" for plugin in UNUSED_PLUGINS),
            str(test_file),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    shown = run.stdout + run.stderr
    assert run.returncode == 1, shown
    assert "3 failed, 3 passed, 2 errors" in shown, shown
    assert "INTERNALERROR" not in shown, shown
    assert "Timeout" in shown and "node down" not in shown and "crashed" not in shown, shown
