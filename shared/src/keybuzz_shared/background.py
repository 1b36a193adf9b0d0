"""A loop of a service's own: started after start-up, cancelled at shutdown; and the one
rule for keeping a lease while its work runs.

Subclasses name the task (``name``) and write ``run``; ``aclose`` cancels and waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import NoReturn

RENEWALS_PER_LEASE = 4


class BackgroundLoop:
    """Subclass it (``name``, ``run``), or give it the coroutine function to run."""

    name = "background-loop"
    _task: asyncio.Task[None] | None = None
    _work: Callable[[], Awaitable[None]] | None = None

    def __init__(
        self, run: Callable[[], Awaitable[None]] | None = None, name: str | None = None
    ) -> None:
        if run is not None:
            self._work = run
        if name is not None:
            self.name = name

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def aclose(self, grace: float = 0.0) -> None:
        """Cancel the loop and wait for it; with ``grace``, first let it end by itself for
        up to that many seconds (a round in flight records its outcome)."""
        if self._task is None:
            return
        if grace:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), grace)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def run(self) -> None:
        if self._work is None:
            raise NotImplementedError(f"{type(self).__name__} gives no loop to run")
        await self._work()


async def keep_lease(
    lease_seconds: float,
    renew: Callable[[], Awaitable[object]],
    *,
    at_once: bool = False,
    on_error: Callable[[Exception], None] | None = None,
) -> NoReturn:
    """Call ``renew`` four times per lease until cancelled (``at_once``: first right away).

    Four times, so that a slow or failed renewal still leaves three more before the lease
    lapses and another instance takes the work over. A failed renewal (the database is
    down) goes to ``on_error`` and the next one is tried on time.
    """
    if at_once:
        await _renew(renew, on_error)
    while True:
        await asyncio.sleep(lease_seconds / RENEWALS_PER_LEASE)
        await _renew(renew, on_error)


async def _renew(
    renew: Callable[[], Awaitable[object]], on_error: Callable[[Exception], None] | None
) -> None:
    try:
        await renew()
    except Exception as exc:
        if on_error is not None:
            on_error(exc)
