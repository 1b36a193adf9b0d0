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
    name = "background-loop"
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        raise NotImplementedError


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
