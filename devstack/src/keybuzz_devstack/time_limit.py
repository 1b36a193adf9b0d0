"""The suite's time limit (pytest-timeout's ``timeout``) on the loop the tests run: uvloop.

pytest-timeout's signal method raises from its SIGALRM handler. On uvloop that handler runs
inside the loop's own signal callback, which logs and drops the exception: a test idle on
the loop never ended. Its thread method ends the whole worker with ``os._exit``, and
pytest-xdist then waits for ever for the worker it starts in its place (seen with
``--dist loadfile``), so one slow test hung the run. Here the handler stops the running
loop instead: the test's ``run_until_complete`` returns to the main thread and fails it
there, the worker lives on. A test with no loop running fails as pytest-timeout's own.

A fixture shared by many tests (session, package or module scope: the servers, a stack)
starts on a limit of its own, ``SHARED_SETUP_LIMIT``: on a busy machine starting NATS,
PostgreSQL, OpenBao and the sandbox takes minutes, and the first test that asks for them
would otherwise spend its limit, and fail, waiting for servers it did not start. The test's
own clock is paused meanwhile and goes on from where it was.
"""

from __future__ import annotations

import asyncio
import io
import signal
import threading
from types import FrameType
from typing import Any

import pytest
from pytest_timeout import PYTEST_FAILURE_MESSAGE, dump_stacks

STOP_AFTER_CANCEL = 5.0  # seconds a cancelled test has to end before its loop is stopped
# Seconds a shared fixture has to set up (a hang's bound, not a speed: starting the made-up
# stack took ~15 s on a quiet machine, minutes at a load of 15 on two cores).
SHARED_SETUP_LIMIT = 600.0
SHARED_SCOPES = ("session", "package", "module")


def time_left() -> float | None:
    """Seconds before the running test's limit ends it (None when no limit runs): what a
    wait for a condition may take at most, however busy the machine."""
    if threading.current_thread() is not threading.main_thread():
        return None
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    return left or None


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    left = time_left() if fixturedef.scope in SHARED_SCOPES else None
    if left is None:
        return (yield)
    signal.setitimer(signal.ITIMER_REAL, max(left, SHARED_SETUP_LIMIT))
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, left)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A test's report is made with its limit paused. A wait bounded by the limit fails a
    little before it, and on a busy machine formatting that failure can outlast what is
    left: the alarm then raised inside pytest's own report code, an internal error that
    ended the whole run (every worker), not the one test."""
    left = time_left()
    if left is None:
        return (yield)
    signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, left)


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    if settings.method != "signal" or threading.current_thread() is not threading.main_thread():
        return None  # pytest-timeout's own

    def expired(signum: int, frame: FrameType | None) -> None:
        __tracebackhide__ = True
        terminal = item.config.get_terminal_writer()
        terminal.sep("+", title="Timeout")
        dump_stacks(terminal)
        terminal.sep("+", title="Timeout")
        loop = asyncio._get_running_loop()
        if loop is None:
            pytest.fail(PYTEST_FAILURE_MESSAGE % settings.timeout)
        tests = [t for t in asyncio.all_tasks(loop) if _is_the_test(t, item)]
        for task in tests:
            stack = io.StringIO()
            task.print_stack(file=stack)  # where the test waits: the threads say nothing
            terminal.write(stack.getvalue())
            task.cancel(PYTEST_FAILURE_MESSAGE % settings.timeout)
        # A fixture's wait, or a test that swallows its cancellation: the loop is stopped,
        # and run_until_complete raises "Event loop stopped before Future completed." in
        # the main thread, where pytest sees it.
        loop.call_later(STOP_AFTER_CANCEL, _stop_unless_done, loop, tests)

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # pytest-timeout's attribute
    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True


def _stop_unless_done(loop: asyncio.AbstractEventLoop, tests: list[asyncio.Task[Any]]) -> None:
    if not tests or not all(t.done() for t in tests):
        loop.stop()


def _is_the_test(task: asyncio.Task[Any], item: pytest.Item) -> bool:
    """Whether ``task`` runs the test function itself (pytest-asyncio wraps it in a task
    whose coroutine bears the test's name)."""
    name = getattr(item, "originalname", item.name)
    return name in getattr(task.get_coro(), "__qualname__", "")
