"""The suite's own time limit ends a test that waits for ever, on the loop the tests run.

On uvloop, pytest-timeout's SIGALRM handler raises inside the loop's signal callback, where
the exception is lost: a test idle in epoll then hung its worker, and the whole run, for good.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

IDLE_FOREVER = """
import asyncio
import pytest

@pytest.mark.timeout(2)
async def test_waits_for_an_event_nobody_sets():
    await asyncio.Event().wait()
"""


def test_a_test_idle_on_the_loop_is_ended_by_the_time_limit(tmp_path: Path) -> None:
    test_file = tmp_path / "test_idle.py"
    test_file.write_text(IDLE_FOREVER)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-c", str(ROOT / "pyproject.toml"),
         "--rootdir", str(tmp_path), "-p", "keybuzz_devstack.testing", str(test_file)],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode != 0
    assert "Timeout" in run.stdout + run.stderr
