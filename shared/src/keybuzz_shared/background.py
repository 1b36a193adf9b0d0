"""A loop of a service's own: started after start-up, cancelled at shutdown.

Subclasses name the task (``name``) and write ``run``; ``aclose`` cancels and waits."""

from __future__ import annotations

import asyncio
import contextlib


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
